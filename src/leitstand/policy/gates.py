"""Project settings of the quality gates: where things are, data sources, allow-lists.

The gate *values* (coverage, CVSS, forbidden licences) are the seed's and live in ``pipeline``;
this section says how to run them on one project. Every allow-list entry needs a reason and an
expiry date; an expired entry is reported and no longer allows anything.
"""

from __future__ import annotations

import base64
import binascii
import fnmatch
from collections.abc import Mapping
from datetime import date, timedelta
from typing import Annotated, Any, Literal, Self

from pydantic import AfterValidator, Field, StrictStr, model_validator
from pydantic_core import PydanticCustomError

from leitstand.policy.backup_targets import SecretRef
from leitstand.policy.base import Count, Flag, PolicyModel, Rules, unique_list
from leitstand.policy.durations import PositiveDuration
from leitstand.policy.values import describe

__all__ = [
    "AcceptedVulnerability",
    "AccessibilitySettings",
    "AllowEntry",
    "Allowances",
    "AllowedSecret",
    "BuildSettings",
    "ComplianceSettings",
    "ContainerSettings",
    "GatesPolicy",
    "ImageBuildSettings",
    "ImageScanSettings",
    "ImageSigning",
    "MigrationCheckSettings",
    "OsvSettings",
    "ReadOnlyDecision",
    "ReviewedLicence",
    "SecretBlockRule",
    "SecretSettings",
    "ServeCommand",
    "TestSettings",
    "UnitSettings",
    "read_only_decision",
]


def _text(value: str) -> str:
    if not value.strip():
        raise PydanticCustomError("text", "a non-empty text (got '')")
    return value


Reason = Annotated[StrictStr, AfterValidator(_text)]
NonEmpty = Annotated[StrictStr, AfterValidator(_text)]
Globs = Annotated[list[NonEmpty], AfterValidator(unique_list)]


class AllowEntry(PolicyModel):
    """An exception to a gate: why it is acceptable and until when (then it stops allowing)."""

    reason: Reason
    expires: date


class AcceptedVulnerability(AllowEntry):
    """A known vulnerability accepted for now (OSV id or an alias such as a CVE id)."""

    id: NonEmpty
    package: NonEmpty | None = None  # only for this distribution


class ReviewedLicence(AllowEntry):
    """A distribution whose licence was reviewed: allowed although unknown or forbidden."""

    package: NonEmpty
    licence: NonEmpty | None = None  # the licence reviewed; a different one needs a new review


class AllowedSecret(AllowEntry):
    """A secret finding that is not a secret (test vector, public key), or a reviewed baseline.

    Either ``path`` (a glob, optionally narrowed to one ``hashed_secret``: detect-secrets' hash
    or the finding's fingerprint) or ``baseline`` (a detect-secrets baseline file whose results
    are accepted, except those an audit marked ``is_secret: true``). Entries match blocking
    findings and findings for review alike.
    """

    path: NonEmpty | None = None
    hashed_secret: NonEmpty | None = None
    baseline: NonEmpty | None = None

    @model_validator(mode="after")
    def _one_target(self) -> Self:
        rules = Rules()
        if (self.path is None) == (self.baseline is None):
            rules.add(
                "path",
                "either path (a glob of files) or baseline (a detect-secrets baseline file) "
                f"(got path={describe(self.path)}, baseline={describe(self.baseline)})",
            )
        if self.baseline is not None and self.hashed_secret is not None:
            rules.add("hashed_secret", "only together with path (got it with baseline)")
        rules.check()
        return self


class Allowances(PolicyModel):
    """Reviewed exceptions, each with a reason and an expiry date."""

    vulnerabilities: list[AcceptedVulnerability] = Field(default_factory=list)
    licences: list[ReviewedLicence] = Field(default_factory=list)
    secrets: list[AllowedSecret] = Field(default_factory=list)


class BuildSettings(PolicyModel):
    """How the project is built and installed (offline: find-links and index options)."""

    find_links: Globs = Field(default_factory=list)
    index_url: NonEmpty | None = None
    no_index: Flag = False
    timeout: PositiveDuration = timedelta(minutes=15)


class TestSettings(PolicyModel):
    """How the test suite runs: pytest with coverage, and the markers that must exist."""

    __test__ = False  # not a pytest test class despite its name

    extras: Globs = Field(default_factory=lambda: ["test"])  # installed when the project has them
    pytest_args: list[NonEmpty] = Field(default_factory=list)
    source: Globs = Field(default_factory=list)  # measured code; default: the project's packages
    integration_marker: NonEmpty = "integration"
    tenant_isolation_marker: NonEmpty = "tenant_isolation"
    env: dict[str, str] = Field(default_factory=dict)
    timeout: PositiveDuration = timedelta(minutes=30)


class ServeCommand(PolicyModel):
    """A command that serves the application for the accessibility audit.

    ``{port}`` is replaced by a free port on 127.0.0.1, ``{tmp}`` by a temporary directory and
    ``{python}`` by the Python running leitstand.
    """

    command: Annotated[list[NonEmpty], Field(min_length=1)]
    env: dict[str, str] = Field(default_factory=dict)
    ready_path: str = "/"
    startup_timeout: PositiveDuration = timedelta(seconds=60)


class AccessibilitySettings(PolicyModel):
    """Pages audited with axe-core in headless Chromium (absolute URLs or paths of ``serve``)."""

    urls: Globs = Field(default_factory=list)
    serve: ServeCommand | None = None
    chromium: NonEmpty | None = None  # default: chromium on PATH
    axe_version: NonEmpty = "4.11.0"
    page_timeout: PositiveDuration = timedelta(seconds=30)

    @model_validator(mode="after")
    def _paths_need_a_server(self) -> Self:
        rules = Rules()
        for index, url in enumerate(self.urls):
            if self.serve is None and not url.startswith(("http://", "https://")):
                rules.add(
                    f"urls.{index}",
                    f"an absolute http(s) URL, or set serve to audit paths (got {describe(url)})",
                )
        rules.check()
        return self


class OsvSettings(PolicyModel):
    """Vulnerability data: a local OSV folder or osv-scanner ``all.zip``; else the OSV API."""

    path: NonEmpty | None = None  # relative: from the project root
    # An OSV feed of the Debian ecosystem (osv.dev's Debian all.zip or a folder of records), for
    # the Debian packages in images; without it they are reported as not checked, never clean.
    debian_path: NonEmpty | None = None  # relative: from the project root
    url: NonEmpty = "https://api.osv.dev"
    timeout: PositiveDuration = timedelta(seconds=60)
    # An advisory without a CVSS vector ("severity unknown"): block (default) or list for review.
    unscored: Literal["block", "review"] = "block"


SecretKind = Literal["provider", "private_key", "entropy", "keyword", "basic_auth", "jwt"]
SecretLocation = Literal["source", "tests", "docs", "generated"]


class SecretBlockRule(PolicyModel):
    """Secret findings of these kinds in these locations block; all others are for review."""

    kinds: Annotated[list[SecretKind], Field(min_length=1)]
    locations: Annotated[list[SecretLocation], Field(min_length=1)]


class SecretSettings(PolicyModel):
    """Secret detection over the project tree: what blocks, and where tests/docs/vendored are.

    Kinds: ``provider`` (a provider's token format), ``private_key`` (a key with key material),
    and the heuristics ``entropy``, ``keyword``, ``basic_auth``, ``jwt``. Locations are decided
    from the path: a pattern matches the whole path (when it has a ``/``) or any one of its parts;
    ``generated`` wins over ``tests`` over ``docs``; everything else is shipped ``source``.
    """

    exclude: Globs = Field(default_factory=list)  # extra globs not scanned (build output ...)
    # Seed-faithful default: a provider's key or a private key in shipped source blocks.
    block: list[SecretBlockRule] = Field(
        default_factory=lambda: [
            SecretBlockRule(kinds=["provider", "private_key"], locations=["source"])
        ]
    )
    tests: Globs = Field(
        default_factory=lambda: [
            "tests",
            "test",
            "testing",
            "testdata",
            "test_data",
            "fixtures",
            "dummyserver",
            "test_*.py",
            "*_test.py",
            "*_tests.py",
            "conftest.py",
            "*.test.*",
            "*.spec.*",
        ]
    )
    docs: Globs = Field(
        default_factory=lambda: [
            "docs",
            "doc",
            "examples",
            "example",
            "samples",
            "demo",
            "demos",
            "tutorial",
            "tutorials",
            "*.md",
            "*.rst",
            "*.adoc",
            "*.ipynb",
            "README*",
            "CHANGELOG*",
            "CHANGES*",
            "HISTORY*",
            "NEWS*",
            "RELEASE*",
        ]
    )
    generated: Globs = Field(
        default_factory=lambda: [
            "vendor",
            "vendored",
            "_vendor",
            "third_party",
            "thirdparty",
            "node_modules",
            "generated",
            "_generated",
            "*.min.js",
            "*.min.css",
            "*.map",
            "*_pb2.py",
            "*_pb2_grpc.py",
            "*.lock",
            "package-lock.json",
        ]
    )

    def blocks(self, kind: str, location: str) -> bool:
        """Whether a finding of ``kind`` in ``location`` blocks under these rules."""
        return any(kind in rule.kinds and location in rule.locations for rule in self.block)


# The DER prefix of an Ed25519 SubjectPublicKeyInfo (RFC 8410): the 32-byte key follows it.
_ED25519_SPKI_PREFIX = bytes.fromhex("302a300506032b6570032100")
_PEM_BEGIN, _PEM_END = "-----BEGIN PUBLIC KEY-----", "-----END PUBLIC KEY-----"


def _ed25519_public_pem(value: str) -> str:
    """A PEM Ed25519 public key (``openssl pkey -pubout``), checked without cryptography."""
    lines = [line.strip() for line in value.strip().splitlines() if line.strip()]
    der = None
    if len(lines) >= 3 and lines[0] == _PEM_BEGIN and lines[-1] == _PEM_END:
        try:
            der = base64.b64decode("".join(lines[1:-1]), validate=True)
        except (binascii.Error, ValueError):
            der = None
    if der is None or len(der) != 44 or not der.startswith(_ED25519_SPKI_PREFIX):
        raise PydanticCustomError(
            "ed25519_public_key",
            "a PEM Ed25519 public key (-----BEGIN PUBLIC KEY----- ..., as "
            "`leitstand image keygen` or `openssl pkey -pubout` print it) "
            f"(got {describe(value[:60])})",
        )
    return "\n".join([lines[0], *lines[1:-1], lines[-1]]) + "\n"


Ed25519PublicPem = Annotated[StrictStr, AfterValidator(_ed25519_public_pem)]


class ImageSigning(PolicyModel):
    """How ``leitstand image sign`` signs an image's attestation and whose signatures
    ``leitstand image verify`` accepts (Ed25519 over DSSE; docs/operations.md)."""

    # Where the signing key is: file:path (a PKCS#8 PEM Ed25519 key, owner-only; relative to
    # the leitstand home; made by `leitstand image keygen`) or env:NAME (the PEM text).
    key: SecretRef = "file:keys/image-ed25519.pem"
    # Public keys (PEM) whose attestations verify besides the own key's (empty: the own only).
    trusted_keys: Annotated[list[Ed25519PublicPem], AfterValidator(unique_list)] = Field(
        default_factory=list
    )
    # The seed's "Image-Signing: ... für alle Produktions-Images": a production release of a
    # service whose release target starts an image (Kubernetes) admits only a signed image.
    required: Flag = True


class ReadOnlyDecision(PolicyModel):
    """The seed's "Read-Only Filesystem: wo möglich", decided for one workload.

    ``true`` (short for ``{read_only: true}``): the root filesystem must be read-only, and a
    writable one fails the container gate. ``{read_only: false, reason: ...}``: it cannot be,
    for the recorded reason, and the gate accepts a writable one.
    """

    read_only: Flag
    reason: Reason | None = None

    @model_validator(mode="before")
    @classmethod
    def _from_flag(cls, data: Any) -> Any:
        if isinstance(data, bool):
            return {"read_only": data}
        if not isinstance(data, dict | ReadOnlyDecision):
            raise PydanticCustomError(
                "read_only_decision",
                f"true, or {{read_only: false, reason: ...}} (got {describe(data)})",
            )
        return data

    @model_validator(mode="after")
    def _reason_when_writable(self) -> Self:
        rules = Rules()
        if not self.read_only and self.reason is None:
            rules.add(
                "reason",
                "why the root filesystem cannot be read-only, required with read_only: false "
                "(got none; write {read_only: false, reason: ...})",
            )
        rules.check()
        return self


def read_only_decision(
    decisions: Mapping[str, ReadOnlyDecision], name: str
) -> tuple[str, ReadOnlyDecision] | None:
    """The decision for a workload ``name`` and the pattern that made it, or None.

    A pattern equal to the name wins; otherwise the longest matching glob (the most specific),
    the first in the file on a tie. Matching ignores case, as the allow-lists do.
    """
    lowered = name.lower()
    best: tuple[str, ReadOnlyDecision] | None = None
    for pattern, decision in decisions.items():
        if pattern.lower() == lowered:
            return pattern, decision
        if fnmatch.fnmatchcase(lowered, pattern.lower()) and (
            best is None or len(pattern) > len(best[0])
        ):
            best = (pattern, decision)
    return best


def _kubernetes_version(value: str) -> str:
    parts = value.split(".")
    if len(parts) != 2 or not all(p.isdigit() for p in parts):
        raise PydanticCustomError(
            "kubernetes_version", f"major.minor such as 1.31 (got {describe(value)})"
        )
    return value


class UnitSettings(PolicyModel):
    """systemd units of VM installs (``*.service`` and others in the project): verified by
    ``systemd-analyze verify`` and each service rated by ``systemd-analyze security``."""

    # The highest exposure a service may have on systemd's scale (0 = every sandboxing option
    # used, 10 = none). 4.9 is the upper end of what systemd rates "OK"; 5.0 is "MEDIUM".
    max_exposure: Annotated[float, Field(ge=0, le=10)] = 4.9


class ImageScanSettings(PolicyModel):
    """The image scan (check ``security.images``): syft's SBOM matched against the OSV data,
    Trivy's secret and misconfiguration scanners, offline.

    The seed's container table: "Image-Scanning: Trivy-Scan in CI-Pipeline (0 Critical,
    0 High)".
    """

    # Images to scan: globs relative to the project of OCI image layouts (folders) and of
    # docker-archive tar files (docker save, podman save); empty: every folder below the
    # project that holds an oci-layout file.
    images: Globs = Field(default_factory=list)
    # Images in local podman storage (containers-storage references such as
    # localhost/portal:1.4.2, or [vfs@/graph/root+/run/root]localhost/portal:1.4.2).
    storage: list[NonEmpty] = Field(default_factory=list)
    max_critical: Count = 0
    max_high: Count = 0
    timeout: PositiveDuration = timedelta(minutes=10)  # per tool and image


class ImageBuildSettings(PolicyModel):
    """How ``leitstand image build`` makes leitstand's own image: Debian packages extracted by
    mmdebstrap, the wheel and its dependencies installed by pip for the image's Python."""

    name: NonEmpty = "leitstand"  # the image's name (a registry path such as reg.example/ops/x)
    suite: NonEmpty = "bookworm"
    mirror: NonEmpty = "http://deb.debian.org/debian"
    # Python and what its standard library loads, CA certificates, time zones, and what
    # WeasyPrint needs for the PDF reports (Pango, HarfBuzz, one font family).
    packages: Globs = Field(
        default_factory=lambda: [
            "base-files",
            "python3-minimal",
            "libpython3.11-stdlib",
            "ca-certificates",
            "tzdata",
            "libpango-1.0-0",
            "libpangoft2-1.0-0",
            "libharfbuzz-subset0",
            "fonts-dejavu-core",
        ]
    )
    python_version: NonEmpty = "3.11"  # the suite's python3: what the wheels are chosen for
    python_platforms: Globs = Field(
        default_factory=lambda: ["manylinux_2_36_x86_64", "manylinux2014_x86_64"]
    )
    uid: Annotated[int, Field(strict=True, ge=1)] = 10001  # the non-root user (and its group)
    timeout: PositiveDuration = timedelta(minutes=20)  # per step (download, pip)


class ContainerSettings(PolicyModel):
    """Container checks; the defaults follow the seed's container table (alpine, distroless).

    ``read_only`` records per workload (a Kubernetes container or compose service name, or a
    glob of them) whether its root filesystem must be read-only: the seed says "where
    possible", so the project decides. Undecided workloads get a warning when writable.
    """

    allowed_base_images: Globs = Field(
        default_factory=lambda: [
            "alpine:*",
            "*/alpine:*",
            "*:*-alpine*",
            "gcr.io/distroless/*",
            "scratch",
        ]
    )
    hadolint_ignore: Globs = Field(default_factory=list)  # rule ids such as DL3008
    trusted_registries: Globs = Field(default_factory=list)  # empty: any registry
    signing: ImageSigning = Field(default_factory=ImageSigning)  # image attestations
    read_only: dict[NonEmpty, ReadOnlyDecision] = Field(default_factory=dict)
    # Kubernetes manifests are validated against the JSON schemas of this Kubernetes version
    # (major.minor; strict: an unknown field is an error).
    kubernetes_version: Annotated[StrictStr, AfterValidator(_kubernetes_version)] = "1.31"
    units: UnitSettings = Field(default_factory=UnitSettings)
    scan: ImageScanSettings = Field(default_factory=ImageScanSettings)
    build: ImageBuildSettings = Field(default_factory=ImageBuildSettings)


class ComplianceSettings(PolicyModel):
    """Where the change log and the operations manual (Betriebshandbuch) are."""

    changelog: Globs = Field(default_factory=lambda: ["CHANGELOG.md", "CHANGES.md"])
    runbook: Globs = Field(
        default_factory=lambda: [
            "docs/betriebshandbuch.md",
            "BETRIEBSHANDBUCH.md",
            "docs/runbook.md",
            "RUNBOOK.md",
        ]
    )


class MigrationCheckSettings(PolicyModel):
    """The database rollback test (check ``test.migrations``): where the project's Alembic
    configuration is, and which database server holds the scratch databases."""

    alembic_config: Globs = Field(
        default_factory=lambda: ["alembic.ini", "migrations/alembic.ini"]
    )  # relative to the project; none found: the project has no migrations (check skipped)
    # Python packages with a programmatic Alembic environment (env.py in the package, no
    # alembic.ini; a version_locations() function if revisions live elsewhere), imported from
    # the project's src: leitstand's own is leitstand.migrations.
    packages: Globs = Field(default_factory=list)
    scratch_url_env: NonEmpty | None = None  # env var with a PostgreSQL server URL; None: SQLite
    timeout: PositiveDuration = timedelta(minutes=10)


class GatesPolicy(PolicyModel):
    """How ``leitstand gate run`` applies the pipeline's gates to a project."""

    service: NonEmpty | None = None  # the system (services key) this project deploys
    build: BuildSettings = Field(default_factory=BuildSettings)
    test: TestSettings = Field(default_factory=TestSettings)
    accessibility: AccessibilitySettings = Field(default_factory=AccessibilitySettings)
    osv: OsvSettings = Field(default_factory=OsvSettings)
    secrets: SecretSettings = Field(default_factory=SecretSettings)
    containers: ContainerSettings = Field(default_factory=ContainerSettings)
    compliance: ComplianceSettings = Field(default_factory=ComplianceSettings)
    migrations: MigrationCheckSettings = Field(default_factory=MigrationCheckSettings)
    allow: Allowances = Field(default_factory=Allowances)
    # The seed's "security gate failing permanently": this many recorded runs of a service in a
    # row whose security stage failed raise the alert SecurityGateFailing (escalation rule).
    security_failing_runs: Annotated[int, Field(strict=True, ge=1)] = 3
