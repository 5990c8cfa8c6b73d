"""`leitstand image`: build leitstand's own image; verify, sign and make the key of signed OCI
image layouts.

``verify`` needs no store and no user: it checks every blob, the tag and the attestation
against ``--key`` files or, without them, the policy's ``gates.containers.signing.trusted_keys``
and the own signing key's public half. ``sign`` signs only for a ``--gate-run`` the gates
recorded as a complete, passed run of the version the image is tagged with (``vouching_run``),
writes evidence (``image.signed``) and acts as the user of ``--token`` (or ``LEITSTAND_TOKEN``);
without a token it is refused (exit code 5) unless the policy lists ``image.sign`` in
``auth.local_admin_actions``. ``keygen`` makes the signing key where the policy says (or
``--out``), as the ledger makes its own.

Exit codes: 0 verified or signed, 1 the layout or its attestation does not verify (each problem
named: the blob with expected and actual digest, or the untrusted keyid) or the gate run does not
vouch for the image (no such run, not passed, another version), 2 bad input (not a layout, an
unreadable key or SBOM), 5 refused.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Annotated

import typer
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from leitstand.auth.model import Role
from leitstand.cli_support import (
    JsonOpt,
    TokenOpt,
    console,
    emit_json,
    err_console,
    local_policy,
    open_container,
    resolve_actor,
)
from leitstand.errors import ConfigError, ExitCode, Issue, ValidationError
from leitstand.images.attest import key_id, load_public_key
from leitstand.images.keys import (
    KEY_FIELD,
    create_signing_key,
    key_file,
    public_pem,
    trusted_keys,
)
from leitstand.images.pin import check_registry, pin_env_file, pin_kustomization
from leitstand.images.service import ImageService, Verification, check_image, require_layout
from leitstand.policy.gates import ContainerSettings, ImageSigning

__all__ = ["app"]

app = typer.Typer(
    help="Container images: build leitstand's own, verify and sign OCI image layouts "
    "(in-toto/DSSE attestations).",
    no_args_is_help=True,
)
LayoutArg = Annotated[
    Path, typer.Argument(metavar="DIR", help="The OCI image layout (a folder with oci-layout)")
]
#: Who may sign an image for production from the CLI (the roles that run and judge gates).
SIGNERS = (Role.DEVOPS, Role.SECURITY)
#: SBOMs are read whole to check their format; larger files are refused.
_MAX_SBOM_BYTES = 256 * 1024 * 1024


def _local_containers() -> tuple[ContainerSettings, Path]:
    """The policy's container section and the leitstand home, without opening the store."""
    from leitstand.settings import Settings

    return local_policy().gates.containers, Settings().home


def _local_signing() -> tuple[ImageSigning, Path]:
    """The policy's signing section and the leitstand home, without opening the store."""
    containers, home = _local_containers()
    return containers.signing, home


def _epoch(value: int | None, wheel: Path) -> int:
    """--epoch, else SOURCE_DATE_EPOCH, else the newest entry time of the wheel (the same
    wheel gives the same image)."""
    import os
    import zipfile
    from datetime import UTC, datetime

    if value is not None:
        return value
    env = os.environ.get("SOURCE_DATE_EPOCH", "").strip()
    if env:
        if not env.isdigit():
            raise ValidationError(
                [Issue("SOURCE_DATE_EPOCH", f"seconds since 1970 expected (got {env!r})")]
            )
        return int(env)
    try:
        with zipfile.ZipFile(wheel) as archive:
            newest = max(info.date_time for info in archive.infolist())
    except (OSError, zipfile.BadZipFile, ValueError) as exc:
        raise ValidationError(
            [Issue("--wheel", f"{wheel}: not a readable wheel ({exc})")]
        ) from None
    return int(datetime(*newest, tzinfo=UTC).timestamp())


def _sbom_digest(path: Path) -> str:
    """``sha256:<hex>`` of a CycloneDX or SPDX JSON SBOM; anything else is bad input."""

    def bad(reason: str) -> ValidationError:
        return ValidationError([Issue("--sbom", f"{path}: {reason}")])

    try:
        with path.open("rb") as handle:
            data = handle.read(_MAX_SBOM_BYTES + 1)
    except FileNotFoundError:
        raise bad("file not found") from None
    except OSError as exc:
        raise bad(f"cannot read it ({exc.strerror})") from None
    if len(data) > _MAX_SBOM_BYTES:
        raise bad(f"larger than {_MAX_SBOM_BYTES // (1024 * 1024)} MiB")
    try:
        document = json.loads(data)
    except (ValueError, RecursionError):  # bad UTF-8 or JSON, a huge number, too deep
        raise bad("not a JSON SBOM (CycloneDX or SPDX JSON expected)") from None
    if not isinstance(document, dict) or not (
        document.get("bomFormat") == "CycloneDX" or "spdxVersion" in document
    ):
        raise bad("not a CycloneDX (bomFormat) or SPDX (spdxVersion) JSON document")
    return f"sha256:{hashlib.sha256(data).hexdigest()}"


def _print_verification(result: Verification) -> None:
    ref, verified = result.ref, result.verified
    if result.ok and ref is not None and verified is not None:
        predicate = verified.statement.get("predicate") or {}
        console.print(
            f"ok: {ref.name}:{ref.tag} ({ref.manifest.digest}): every blob verifies, "
            f"attestation signed by key {verified.keyid}",
            markup=False,
        )
        console.print(
            f"  sbom {predicate.get('sbom_digest')}, gate run {predicate.get('gate_run_id')}, "
            f"built {predicate.get('built_at')}",
            markup=False,
        )
        return
    err_console.print(
        f"FAILED: {result.directory}: {len(result.problems)} problem(s)", markup=False
    )
    for problem in result.problems:
        err_console.print(f"  - {problem}", markup=False)


@app.command("build")
def build_command(
    wheel: Annotated[
        Path,
        typer.Option("--wheel", help="leitstand's wheel, as the gate's build stage made it"),
    ],
    out: Annotated[
        Path, typer.Option("--out", help="An absent or empty folder for the OCI image layout")
    ] = Path("image"),
    epoch: Annotated[
        int | None,
        typer.Option(
            "--epoch",
            min=0,
            help="Build time in seconds since 1970 (default: SOURCE_DATE_EPOCH, else the "
            "wheel's newest entry)",
        ),
    ] = None,
    revision: Annotated[
        str, typer.Option("--revision", help="The source revision for the image's labels")
    ] = "",
    json_out: JsonOpt = False,
) -> None:
    """Build leitstand's own OCI image (mmdebstrap, pip; no registry, no container engine)."""
    from rich.status import Status

    from leitstand.images.build import build_image

    if not wheel.is_file():
        raise ValidationError([Issue("--wheel", f"{wheel}: no such file")])
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise ValidationError([Issue("--out", f"{out}: exists and is not an empty folder")])
    containers, _ = _local_containers()
    when = _epoch(epoch, wheel)
    with Status("building", console=err_console) as status:
        built = build_image(
            wheel,
            out,
            settings=containers.build,
            epoch=when,
            revision=revision,
            progress=lambda line: status.update(line),
        )
    if json_out:
        emit_json(built.as_dict())
        return
    console.print(
        f"built {built.ref.name}:{built.ref.tag} ({built.ref.manifest.digest}) in {out}",
        markup=False,
    )
    console.print(
        f"  layer {built.layer_bytes / 1e6:.1f} MB; {len(built.debian_packages)} Debian and "
        f"{built.python_packages} Python packages; {built.seconds:.0f} s",
        markup=False,
    )


KeysOpt = Annotated[
    list[Path] | None,
    typer.Option(
        "--key",
        help="A trusted public key (PEM; repeatable). Default: the policy's "
        "gates.containers.signing.trusted_keys and the own signing key",
    ),
]


def _trusted(key: list[Path] | None) -> list[Ed25519PublicKey]:
    """The keys ``--key`` names, else the policy's trusted keys and the own key's public half
    (an own key that cannot be loaded is skipped with a warning)."""
    if key:
        return [load_public_key(path) for path in key]
    signing, home = _local_signing()

    def skip_own_key(reason: str) -> None:
        err_console.print(
            f"warning: the own signing key is skipped ({reason}); verifying with "
            "gates.containers.signing.trusted_keys",
            markup=False,
        )

    trusted = trusted_keys(signing, home, on_unusable_own_key=skip_own_key)
    if not trusted:
        raise ConfigError(
            f"no key to verify with: no own signing key ({KEY_FIELD}) and no "
            "gates.containers.signing.trusted_keys; pass --key FILE"
        )
    return trusted


@app.command("verify")
def verify_command(
    directory: LayoutArg,
    key: KeysOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Verify every blob and the attestation; exit 1 naming each changed blob or foreign key."""
    require_layout(directory)
    trusted = _trusted(key)
    result = check_image(directory, trusted)
    if json_out:
        emit_json(result.as_dict())
    else:
        _print_verification(result)
    if not result.ok:
        raise typer.Exit(ExitCode.FAILED)


@app.command("sign")
def sign_command(
    directory: LayoutArg,
    gate_run: Annotated[
        int,
        typer.Option(
            "--gate-run",
            min=1,
            help="Id of the recorded gate run that passed the image's version (its tag), "
            "as `leitstand gate run` prints it (gate run #ID; run_id in --json)",
        ),
    ],
    key: Annotated[
        Path | None,
        typer.Option(
            "--key", help=f"Signing key (PKCS#8 PEM, mode 0600). Default: policy {KEY_FIELD}"
        ),
    ] = None,
    sbom: Annotated[
        Path | None,
        typer.Option(
            "--sbom",
            help="The image's SBOM (CycloneDX or SPDX JSON); it must be the one the gate run's "
            "image scan wrote. Default: that one, by its recorded digest",
        ),
    ] = None,
    token: TokenOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Sign the image's attestation (the gate's SBOM digest, gate run); record image.signed."""
    require_layout(directory)
    sbom_digest = _sbom_digest(sbom) if sbom is not None else None
    container = open_container()
    actor = resolve_actor(container, token, action="image.sign", roles=SIGNERS)
    signed = container.get(ImageService).sign(
        directory, actor=actor, sbom_digest=sbom_digest, gate_run_id=gate_run, key_file=key
    )
    if json_out:
        emit_json(signed.as_dict())
        return
    console.print(
        f"signed {signed.name}:{signed.tag} ({signed.manifest_digest}) with key {signed.keyid}",
        markup=False,
    )
    console.print(
        f"  {signed.attestation}; evidence image.signed #{signed.ledger_index}", markup=False
    )


@app.command("pin")
def pin_command(
    directory: LayoutArg,
    kustomization: Annotated[
        Path | None,
        typer.Option(
            "--kustomization",
            help="A kustomize folder (deploy/kubernetes): its images entry pins the image",
        ),
    ] = None,
    env_file: Annotated[
        Path | None,
        typer.Option("--env-file", help="A compose .env file (deploy/.env): VARIABLE=image@digest"),
    ] = None,
    variable: Annotated[
        str, typer.Option("--variable", help="The .env variable (compose.yaml's image variable)")
    ] = "LEITSTAND_IMAGE",
    manifest_name: Annotated[
        str | None,
        typer.Option(
            "--image",
            help="The image name the Kubernetes manifests write (default: the image's own name)",
        ),
    ] = None,
    key: KeysOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Pin deployment files to this image by digest: only a layout that verifies, signed by a
    trusted key, from a trusted registry (gates.containers.trusted_registries)."""
    require_layout(directory)
    if kustomization is None and env_file is None:
        raise ValidationError(
            [Issue("--kustomization", "name what to pin: --kustomization DIR and/or --env-file")]
        )
    containers, _home = _local_containers()
    result = check_image(directory, _trusted(key))
    ref = result.ref
    refused = None if ref is None else check_registry(ref.name, containers.trusted_registries)
    if not result.ok or ref is None or refused is not None:
        if json_out:
            emit_json({**result.as_dict(), "pinned": [], "refused": refused})
        else:
            _print_verification(result)
            if refused:
                err_console.print(f"refused: {refused}", markup=False)
        raise typer.Exit(ExitCode.FAILED)
    reference = f"{ref.name}@{ref.manifest.digest}"
    written = []
    if kustomization is not None:
        written.append(
            pin_kustomization(
                kustomization,
                name=manifest_name or ref.name,
                new_name=ref.name,
                digest=ref.manifest.digest,
            )
        )
    if env_file is not None:
        written.append(pin_env_file(env_file, variable=variable, reference=reference))
    if json_out:
        emit_json({"image": reference, "tag": ref.tag, "pinned": [str(p) for p in written]})
        return
    for path in written:
        console.print(f"pinned {reference} ({ref.tag}) in {path}", markup=False)


@app.command("keygen")
def keygen_command(
    out: Annotated[
        Path | None,
        typer.Option("--out", help=f"Where to write the key. Default: policy {KEY_FIELD}"),
    ] = None,
    json_out: JsonOpt = False,
) -> None:
    """Make the image signing key (Ed25519, mode 0600); print its public key and keyid."""
    if out is None:
        signing, home = _local_signing()
        out = key_file(signing, home)
        if out is None:
            raise ConfigError(f"{KEY_FIELD} is {signing.key}, not a file: pass --out FILE")
    public = create_signing_key(out).public_key()
    if json_out:
        emit_json({"path": str(out), "keyid": key_id(public), "public_key": public_pem(public)})
        return
    console.print(f"wrote signing key {out} (mode 0600); keyid {key_id(public)}", markup=False)
    console.print(
        "public key (for gates.containers.signing.trusted_keys of other installations):",
        markup=False,
    )
    console.print(public_pem(public).rstrip("\n"), markup=False)
