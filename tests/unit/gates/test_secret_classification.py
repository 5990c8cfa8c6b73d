"""Secret findings: kind, provider, location, placeholders, the policy's verdict, triage.

The scan tests run the real scan child (detect-secrets plus leitstand's provider formats) on
files written here; the secrets in them are generated at run time in the providers' formats.
"""

from __future__ import annotations

import json
import random
import string
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest

from leitstand.gates.context import GateContext
from leitstand.gates.environment import PipOptions
from leitstand.gates.model import Status
from leitstand.gates.project import load_project
from leitstand.gates.secretrules import kind_of, location_of, placeholder_reason, redact
from leitstand.gates.secrets import classify, scan_tree, secrets_check
from leitstand.policy import load_policy_text
from leitstand.policy.gates import SecretSettings

RNG = random.Random(2113)  # noqa: S311 - reproducible fake secrets, not keys
ALNUM = string.ascii_letters + string.digits


def rand(n: int, alphabet: str = ALNUM) -> str:
    return "".join(RNG.choice(alphabet) for _ in range(n))


AWS = "AKIA" + rand(16, string.ascii_uppercase + string.digits)
GITHUB = "ghp" + "_" + rand(36)
GOOGLE = "AI" + "za" + rand(35)
STRIPE = "sk_" + "live_" + rand(24)
KEY_BODY = "\n".join(rand(64, ALNUM + "+/") for _ in range(8))
PRIVATE_KEY = (
    f"-----BEGIN RSA {'PRIVATE'} KEY-----\n{KEY_BODY}\n-----END RSA {'PRIVATE'} KEY-----\n"
)
DEFAULTS = SecretSettings()
PATTERNS = {"tests": DEFAULTS.tests, "docs": DEFAULTS.docs, "generated": DEFAULTS.generated}


def item(file: str, kind: str, *, line: int = 1, provider: str | None = None) -> dict[str, Any]:
    types = {"provider": "AWS Access Key", "private_key": "Private Key", "entropy": "Hex High "
             "Entropy String", "keyword": "Secret Keyword", "basic_auth": "Basic Auth "
             "Credentials", "jwt": "JSON Web Token"}  # fmt: skip
    return {
        "file": file,
        "line": line,
        "type": types[kind],
        "hashed_secret": f"h-{file}-{line}-{kind}",
        "kind": kind,
        "provider": provider,
        "placeholder": None,
        "excerpt": "x = ****",
        "fingerprint": f"fp-{file}-{line}-{kind}",
    }


@pytest.mark.parametrize(
    ("secret_type", "kind", "provider"),
    [
        ("AWS Access Key", "provider", "AWS"),
        ("GitHub Token", "provider", "GitHub"),
        ("GitLab Token", "provider", "GitLab"),
        ("Slack Token", "provider", "Slack"),
        ("Stripe Access Key", "provider", "Stripe"),
        ("Google API Key", "provider", "Google"),
        ("Azure Storage Account access key", "provider", "Azure"),
        ("Private Key", "private_key", None),
        ("Base64 High Entropy String", "entropy", None),
        ("Hex High Entropy String", "entropy", None),
        ("Secret Keyword", "keyword", None),
        ("Basic Auth Credentials", "basic_auth", None),
        ("JSON Web Token", "jwt", None),
    ],
)
def test_each_scanner_type_has_a_kind_and_providers_are_named(
    secret_type: str, kind: str, provider: str | None
) -> None:
    assert kind_of(secret_type) == (kind, provider)


@pytest.mark.parametrize(
    ("path", "location"),
    [
        ("src/app/settings.py", "source"),
        ("deploy.pem", "source"),
        ("tests/test_api.py", "tests"),
        ("src/app/tests/data/server.key", "tests"),
        ("test_client.py", "tests"),
        ("pkg/conftest.py", "tests"),
        ("dummyserver/certs/server.key", "tests"),
        ("docs/usage.rst", "docs"),
        ("README.md", "docs"),
        ("CHANGELOG.rst", "docs"),
        ("examples/client.py", "docs"),
        ("src/pkg/_vendor/lib.py", "generated"),
        ("static/app.min.js", "generated"),
        ("api/v1/service_pb2.py", "generated"),
        ("tests/vendor/x.py", "generated"),
    ],
)
def test_the_location_class_comes_from_the_path(path: str, location: str) -> None:
    assert location_of(path, PATTERNS) == location


@pytest.mark.parametrize(
    ("kind", "value", "line", "reason"),
    [
        ("keyword", "password", 'password = "password"', "placeholder word"),
        ("keyword", "changeme", 'secret: "changeme"', "placeholder word"),
        ("keyword", "<token>", "token = '<token>'", "template reference"),
        ("keyword", "${API_TOKEN}", "token: ${API_TOKEN}", "template reference"),
        ("keyword", "xxxxxxxx", 'api_key = "xxxxxxxx"', "placeholder value"),
        ("keyword", "aaaaaaaaaa", 'api_key = "aaaaaaaaaa"', "repeated character"),
        ("provider", "AKIAIOSFODNN7" + "EXAMPLE", 'k = "AKIAIOSFODNN7EXAMPLE"', "placeholder"),
        ("keyword", "Google API Key", 'secret_type = "Google API Key"', "prose"),
        ("basic_auth", "pw", "https://user:pw@api.example.com/v1", "documentation host"),
        ("basic_auth", "pw", "postgres://u:pw@192.0.2.10/db", "documentation host"),
        ("basic_auth", "pw", "https://u:pw@[2001:db8::1]/", "documentation host"),
        ("private_key", None, "-----BEGIN RSA PRIVATE KEY-----", "without key material"),
    ],
)
def test_placeholders_are_recognised(kind: str, value: str | None, line: str, reason: str) -> None:
    found = placeholder_reason(kind, value, line)
    assert found is not None and reason in found


def test_real_looking_values_are_not_placeholders() -> None:
    assert placeholder_reason("provider", AWS, f'k = "{AWS}"') is None
    assert placeholder_reason("basic_auth", "Zq9xT2", "https://u:Zq9xT2@db.internal/x") is None
    key_lines = PRIVATE_KEY.splitlines()
    assert placeholder_reason("private_key", None, key_lines[0], key_lines[1:]) is None


def test_an_excerpt_never_contains_the_secret() -> None:
    excerpt = redact(f'AWS_ACCESS_KEY_ID = "{AWS}"', AWS)
    assert AWS not in excerpt and excerpt.startswith('AWS_ACCESS_KEY_ID = "AKIA****')


def test_the_default_policy_blocks_provider_keys_and_private_keys_in_shipped_source_only() -> None:
    raw = [
        item("src/app/settings.py", "provider", provider="AWS"),
        item("src/app/keys.py", "private_key"),
        item("tests/test_x.py", "provider", provider="AWS"),
        item("docs/deploy.md", "private_key"),
        item("src/app/db.py", "basic_auth"),
        item("src/app/jwt.py", "jwt"),
        item("src/app/const.py", "entropy"),
        item("src/app/conf.py", "keyword"),
    ]
    findings, placeholders = classify(raw, DEFAULTS)
    verdicts = {(f.file, f.data["kind"]): (f.blocking, f.data["location"]) for f in findings}
    assert verdicts == {
        ("src/app/settings.py", "provider"): (True, "source"),
        ("src/app/keys.py", "private_key"): (True, "source"),
        ("tests/test_x.py", "provider"): (False, "tests"),
        ("docs/deploy.md", "private_key"): (False, "docs"),
        ("src/app/db.py", "basic_auth"): (False, "source"),
        ("src/app/jwt.py", "jwt"): (False, "source"),
        ("src/app/const.py", "entropy"): (False, "source"),
        ("src/app/conf.py", "keyword"): (False, "source"),
    }
    assert placeholders == []
    aws = findings[0]
    assert aws.data["provider"] == "AWS" and aws.data["verdict"] == "block"
    assert "AWS key" in aws.data["reason"] and "shipped source: blocks" in aws.message
    review = next(f for f in findings if f.file == "tests/test_x.py")
    assert review.data["verdict"] == "review" and "for review, not blocking" in review.message


def test_a_heuristic_on_the_line_of_a_provider_key_is_one_finding_and_placeholders_drop() -> None:
    raw = [
        item("src/a.py", "provider", line=3, provider="Stripe"),
        item("src/a.py", "entropy", line=3),
        {**item("src/a.py", "keyword", line=5), "placeholder": "a placeholder word (password)"},
    ]
    findings, placeholders = classify(raw, DEFAULTS)
    assert [(f.line, f.data["kind"]) for f in findings] == [(3, "provider")]
    assert len(placeholders) == 1


def test_the_policy_can_make_heuristics_in_source_block_too() -> None:
    policy = load_policy_text(
        "gates:\n  secrets:\n    block:\n"
        "      - {kinds: [provider, private_key], locations: [source]}\n"
        "      - {kinds: [entropy, basic_auth], locations: [source, generated]}\n"
    )
    settings = policy.gates.secrets
    findings, _ = classify(
        [item("src/a.py", "entropy"), item("tests/b.py", "entropy"), item("c.py", "jwt")],
        settings,
    )
    assert [(f.file, f.blocking) for f in findings] == [
        ("src/a.py", True),
        ("tests/b.py", False),
        ("c.py", False),
    ]


def _scan(root: Path, files: dict[str, str]) -> list[dict[str, Any]]:
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return scan_tree(root, sorted(files), timeout=120)


def test_the_scan_names_providers_honours_the_allow_comment_and_drops_placeholders(
    tmp_path: Path,
) -> None:
    allowed = "AKIA" + rand(16, string.ascii_uppercase + string.digits)
    raw = _scan(
        tmp_path,
        {
            "app/settings.py": (
                f'GOOGLE = "{GOOGLE}"\n'
                f'STRIPE = "{STRIPE}"\n'
                f'AWS = "{allowed}"  # pragma: allowlist secret\n'
                "# pragma: allowlist nextline secret\n"
                f'GH = "{GITHUB}"\n'
                'EXAMPLE = "AKIAIOSFODNN7EXAMPLE"\n'
            ),
            "deploy.pem": PRIVATE_KEY,
        },
    )
    by_line = {(i["file"], i["line"]): i for i in raw}
    assert by_line[("app/settings.py", 1)]["provider"] == "Google"
    assert by_line[("app/settings.py", 2)]["provider"] == "Stripe"
    assert ("app/settings.py", 3) not in by_line  # inline allow comment
    assert ("app/settings.py", 5) not in by_line  # allow comment on the line before
    assert by_line[("app/settings.py", 6)]["placeholder"] == "a placeholder value"
    assert by_line[("deploy.pem", 1)]["kind"] == "private_key"
    assert by_line[("deploy.pem", 1)]["placeholder"] is None
    text = json.dumps(raw)
    assert GOOGLE not in text and STRIPE not in text and KEY_BODY.splitlines()[0] not in text
    again = _scan(
        tmp_path, {"app/settings.py": "\n\n" + (tmp_path / "app/settings.py").read_text()}
    )
    before = {i["fingerprint"] for i in raw if i["file"] == "app/settings.py"}
    assert {i["fingerprint"] for i in again} == before  # fingerprints survive a line move
    assert {i["line"] for i in again} == {i["line"] + 2 for i in raw if i["file"] != "deploy.pem"}


def _context(root: Path, policy_text: str) -> GateContext:
    now = datetime(2026, 12, 7, 10, tzinfo=UTC)
    return GateContext(
        project=load_project(root),
        policy=load_policy_text(policy_text),
        out=root / "gate-report",
        today=date(2026, 12, 7),
        now=now,
        pip_options=PipOptions(),
    )


def test_a_detect_secrets_baseline_accepts_its_results_but_not_confirmed_secrets(
    tmp_path: Path,
) -> None:
    (tmp_path / "requirements.txt").write_text("", encoding="utf-8")
    _scan(tmp_path, {"src/a.py": f'A = "{STRIPE}"\n', "src/b.py": f'B = "{AWS}"\n'})
    raw = scan_tree(tmp_path, ["src/a.py", "src/b.py"], timeout=120)
    hashes = {i["file"]: i["hashed_secret"] for i in raw if i["kind"] == "provider"}
    baseline = {
        "version": "1.5.0",
        "plugins_used": [],
        "filters_used": [],
        "results": {
            "src/a.py": [{"type": "Stripe Access Key", "filename": "src/a.py",
                          "hashed_secret": hashes["src/a.py"], "is_verified": False,
                          "line_number": 1}],
            "src/b.py": [{"type": "AWS Access Key", "filename": "src/b.py",
                          "hashed_secret": hashes["src/b.py"], "is_verified": False,
                          "line_number": 1, "is_secret": True}],
        },
        "generated_at": "2026-12-01T00:00:00Z",
    }  # fmt: skip
    (tmp_path / ".secrets.baseline").write_text(json.dumps(baseline), encoding="utf-8")
    ctx = _context(
        tmp_path,
        "gates:\n  allow:\n    secrets:\n      - baseline: .secrets.baseline\n"
        "        reason: audited on 2026-12-01\n        expires: 2027-03-31\n",
    )
    result = secrets_check(ctx)
    assert result.status is Status.FAIL
    assert [a.finding.file for a in result.allowed] == ["src/a.py"]
    assert result.allowed[0].reason == "audited on 2026-12-01"
    assert [f.file for f in result.findings if f.blocking] == ["src/b.py"]
    assert "1 blocking" in result.summary and "1 allowed" in result.summary


def test_an_allow_list_entry_triages_a_review_finding_by_its_fingerprint() -> None:
    from leitstand.gates.allow import apply_allowances
    from leitstand.policy.gates import AllowedSecret

    findings, _ = classify(
        [item("tests/test_x.py", "jwt"), item("tests/test_y.py", "jwt")], DEFAULTS
    )
    entry = AllowedSecret(
        path="tests/*",
        hashed_secret=findings[0].data["fingerprint"],
        reason="a JWT test vector from RFC 7519",
        expires=date(2027, 1, 31),
    )

    def matches(finding: Any, e: AllowedSecret) -> bool:
        return e.hashed_secret in (finding.data["hashed_secret"], finding.data["fingerprint"])

    outcome = apply_allowances(
        findings,
        [entry],
        matches=matches,
        today=date(2026, 12, 7),
        describe=lambda e: str(e.path),
        review_too=True,
    )
    assert [a.finding.file for a in outcome.allowed] == ["tests/test_x.py"]
    assert [f.file for f in outcome.open] == ["tests/test_y.py"]
    assert not any(f.blocking for f in outcome.open)
