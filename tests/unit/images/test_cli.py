"""`leitstand image verify|sign|keygen` as a user runs them (in-process, ``run_cli``).

Gate runs are recorded through the gates' own service (``GateService.record``, the only writer
of their records), in the store of the signer's home.
"""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from leitstand.auth.model import Actor, Role
from leitstand.bootstrap import build
from leitstand.errors import ConfigError
from leitstand.gates.model import CheckResult, RunResult, Stage, StageResult, Status
from leitstand.images.attest import key_id
from leitstand.images.config import ImageConfig
from leitstand.images.keys import create_signing_key, load_signing_key_of
from leitstand.images.oci import ImageRef, created_from_epoch, write_layout
from leitstand.policy.gates import ImageSigning
from leitstand.policy.model import Policy, default_policy
from leitstand.settings import Settings
from leitstand.testing.cli import cli_env, run_cli
from support.gate_runs import kubernetes_release, scanned_image
from support.gates_lab import write_project

EPOCH = 1_700_000_000
SBOM_DOC = {"bomFormat": "CycloneDX", "specVersion": "1.6", "components": []}
CI = Actor(name="ci-runner", role="devops")


def _gate_run(
    home: Path,
    *,
    version: str = "2.0.1",
    outcome: Status = Status.PASS,
    image: ImageRef | None = None,
    sbom: Path | None = None,
) -> int:
    """Record a gate run of every stage (each with ``outcome``) in ``home``'s store; its id.
    ``image``: the layout its image scan checked, with the SBOM file ``sbom``."""
    stages = tuple(
        StageResult(
            stage=stage,
            status=outcome,
            checks=(CheckResult(id=f"{stage.value}.recorded", status=outcome, summary="test"),),
            duration_s=0.0,
        )
        for stage in Stage
    )
    result = RunResult(
        project="leitstand",
        version=version,
        commit=None,
        path=".",
        started_at="2023-11-14T22:13:20+00:00",
        duration_s=0.0,
        stages=stages,
    )
    container = build(Settings(home=home), policy=Policy())
    try:
        scanned = (
            [scanned_image(image, sbom_digest=_file_digest(sbom))]
            if image is not None and sbom is not None
            else []
        )
        record = container.gates.record(
            result,
            actor=CI,
            service="leitstand",
            artifact_digests=[i.manifest_digest for i in scanned],
            images=scanned,
        )
    finally:
        container.close()
    assert record.status == outcome.value
    return record.id


def _file_digest(path: Path) -> str:
    return "sha256:" + hashlib.sha256(path.read_bytes()).hexdigest()


def _layout(directory: Path, *, tag: str = "2.0.1") -> ImageRef:
    tree = directory.with_name(f"{directory.name}-rootfs")
    (tree / "etc").mkdir(parents=True)
    (tree / "etc" / "leitstand.conf").write_text("listen = 8080\n", encoding="utf-8")
    return write_layout(
        directory,
        rootfs_tar=tree,
        config=ImageConfig(name="registry.example/ops/leitstand", user="10001"),
        tag=tag,
        created=created_from_epoch(EPOCH),
    )


def _public_pem_file(path: Path, key: Ed25519PrivateKey) -> Path:
    path.write_bytes(
        key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )
    return path


def _json(result: subprocess.CompletedProcess[str]) -> Any:
    assert "Traceback" not in result.stdout + result.stderr
    return json.loads(result.stdout)


def _bad_input(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 2, (result.stdout, result.stderr)
    assert "Traceback" not in result.stdout + result.stderr
    return result.stderr


@pytest.fixture
def work(tmp_path: Path) -> dict[str, Any]:
    """A signer's home with a devops user's token, the own key, a layout, its SBOM and the
    passed gate run of its version."""
    home = tmp_path / "home"
    env = cli_env(home, role=Role.DEVOPS, COLUMNS="200")
    key = create_signing_key(home / "keys" / "image-ed25519.pem")
    layout = tmp_path / "image"
    ref = _layout(layout)
    sbom = tmp_path / "sbom.cdx.json"
    sbom.write_text(json.dumps(SBOM_DOC), encoding="utf-8")
    return {
        "home": home,
        "env": env,
        "key": key,
        "layout": layout,
        "ref": ref,
        "sbom": sbom,
        "cwd": tmp_path,
        "gate_run": _gate_run(home, image=ref, sbom=sbom),
    }


def _cli(work: dict[str, Any], *args: object, **env: str) -> subprocess.CompletedProcess[str]:
    return run_cli([str(a) for a in args], env={**work["env"], **env}, cwd=work["cwd"])


def _sign(work: dict[str, Any], *extra: object, **env: str) -> subprocess.CompletedProcess[str]:
    return _cli(
        work, "image", "sign", work["layout"], "--sbom", work["sbom"],
        "--gate-run", work["gate_run"], *extra, **env,
    )  # fmt: skip


def _signed_entries(work: dict[str, Any]) -> list[dict[str, Any]]:
    listed = _cli(work, "audit", "log", "--action", "image.signed", "--json")
    assert listed.returncode == 0, listed.stderr
    entries: list[dict[str, Any]] = _json(listed)
    return entries


def test_sign_then_verify_is_exit_0_with_the_attested_image_in_json(
    work: dict[str, Any],
) -> None:
    signed = _sign(work, "--json")
    assert signed.returncode == 0, signed.stderr
    out = _json(signed)
    ref: ImageRef = work["ref"]
    own = key_id(work["key"].public_key())
    assert out["manifest_digest"] == ref.manifest.digest and out["keyid"] == own
    assert out["tag"] == "2.0.1" and out["gate_run_id"] == work["gate_run"]
    assert Path(out["attestation"]).is_file()

    verified = _cli(work, "image", "verify", work["layout"], "--json")
    assert verified.returncode == 0, verified.stderr
    report = _json(verified)
    assert set(report) == {
        "ok", "layout", "image", "keyid", "predicate", "trusted_keyids", "problems",
    }  # fmt: skip
    assert report["ok"] is True and report["problems"] == []
    assert report["image"] == {
        "name": "registry.example/ops/leitstand",
        "tag": "2.0.1",
        "manifest_digest": ref.manifest.digest,
    }
    assert report["keyid"] == own and report["trusted_keyids"] == [own]
    assert report["predicate"]["gate_run_id"] == work["gate_run"]
    assert report["predicate"]["sbom_digest"] == out["sbom_digest"]
    assert report["predicate"]["built_at"] == "2023-11-14T22:13:20.000000Z"

    text = _cli(work, "image", "verify", work["layout"])
    assert text.returncode == 0 and f"signed by key {own}" in text.stdout
    # An explicit public key file verifies it too, with no policy or store involved.
    pem = _public_pem_file(work["cwd"] / "own.pub", work["key"])
    assert _cli(work, "image", "verify", work["layout"], "--key", pem).returncode == 0


def test_a_flipped_blob_byte_is_exit_1_naming_the_blob_and_both_digests(
    work: dict[str, Any],
) -> None:
    assert _sign(work).returncode == 0
    layer = work["ref"].layers[0]
    blob = work["layout"] / layer.path
    data = bytearray(blob.read_bytes())
    data[len(data) // 2] ^= 0x01
    blob.write_bytes(bytes(data))
    result = _cli(work, "image", "verify", work["layout"], "--json")
    assert result.returncode == 1
    problems = _json(result)["problems"]
    assert [p["path"] for p in problems] == [layer.path]
    assert f"expected {layer.digest}" in problems[0]["message"]
    assert "actual sha256:" in problems[0]["message"]
    text = _cli(work, "image", "verify", work["layout"])
    assert text.returncode == 1 and layer.path in text.stderr and "Traceback" not in text.stderr


def test_an_attestation_by_a_foreign_key_is_exit_1_naming_its_keyid(
    work: dict[str, Any],
) -> None:
    foreign = Ed25519PrivateKey.generate()
    foreign_file = work["cwd"] / "foreign.pem"
    foreign_file.write_bytes(
        foreign.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    foreign_file.chmod(0o600)
    assert _sign(work, "--key", foreign_file).returncode == 0
    result = _cli(work, "image", "verify", work["layout"])
    assert result.returncode == 1
    assert f"signed by key {key_id(foreign.public_key())}, not trusted" in result.stderr
    # Trusted through the policy, the same attestation verifies.
    policy = {"gates": {"containers": {"signing": {"trusted_keys": [_pem(foreign)]}}}}
    (work["cwd"] / "leitstand.yaml").write_text(yaml.safe_dump(policy), encoding="utf-8")
    trusted = _cli(work, "image", "verify", work["layout"], "--json")
    assert trusted.returncode == 0, trusted.stderr
    assert _json(trusted)["keyid"] == key_id(foreign.public_key())


def _pem(key: Ed25519PrivateKey) -> str:
    return (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )


def test_bad_input_is_exit_2_with_a_clear_message(work: dict[str, Any]) -> None:
    (work["cwd"] / "empty").mkdir()
    message = _bad_input(_cli(work, "image", "verify", work["cwd"] / "empty"))
    assert "is not an OCI image layout (no oci-layout file)" in message
    assert "does not exist" in _bad_input(_cli(work, "image", "verify", work["cwd"] / "nope"))
    missing_key = _cli(work, "image", "verify", work["layout"], "--key", work["cwd"] / "no.pem")
    assert "file not found" in _bad_input(missing_key)
    (work["cwd"] / "junk.pem").write_text("not a key\n", encoding="utf-8")
    junk = _cli(work, "image", "verify", work["layout"], "--key", work["cwd"] / "junk.pem")
    assert "not a PEM-encoded Ed25519 key" in _bad_input(junk)
    (work["cwd"] / "list.json").write_text("[1, 2]", encoding="utf-8")
    sbom = _cli(work, "image", "sign", work["layout"], "--sbom", work["cwd"] / "list.json",
                "--gate-run", 7)  # fmt: skip
    assert "--sbom" in _bad_input(sbom) and "CycloneDX" in sbom.stderr
    assert not (work["layout"] / "attestations").exists()
    assert _bad_input(_sign(work, "--gate-run", 0))


def test_verify_without_any_key_is_exit_2(tmp_path: Path) -> None:
    layout = tmp_path / "image"
    _layout(layout)
    env = cli_env(tmp_path / "elsewhere", role=None)
    message = _bad_input(run_cli(["image", "verify", str(layout)], env=env, cwd=tmp_path))
    assert "no key to verify with" in message and "--key FILE" in message


def test_sign_without_a_token_or_with_a_role_that_may_not_is_refused(
    work: dict[str, Any],
) -> None:
    tokenless = _sign(work, LEITSTAND_TOKEN="")
    assert tokenless.returncode == 5 and "Traceback" not in tokenless.stderr
    assert "image.sign needs a named user" in tokenless.stderr
    from leitstand.testing.cli import cli_token

    developer = cli_token(work["home"], role=Role.DEVELOPER)
    refused = _sign(work, LEITSTAND_TOKEN=developer)
    assert refused.returncode == 5 and "may not do image.sign" in refused.stderr
    assert not (work["layout"] / "attestations").exists()
    assert _signed_entries(work) == []


def test_sign_records_exactly_one_entry_without_secret_material(work: dict[str, Any]) -> None:
    signed = _json(_sign(work, "--json"))
    entries = _signed_entries(work)
    assert len(entries) == 1
    entry = entries[0]
    assert entry["actor"] == "devops-user" and entry["role"] == "devops"
    assert entry["subject"] == f"image:registry.example/ops/leitstand@{signed['manifest_digest']}"
    assert entry["payload"] == {
        "name": "registry.example/ops/leitstand",
        "tag": "2.0.1",
        "manifest_digest": signed["manifest_digest"],
        "sbom_digest": signed["sbom_digest"],
        "gate_run_id": work["gate_run"],
        "service": "leitstand",
        "keyid": signed["keyid"],
        "envelope_digest": signed["envelope_digest"],
    }
    key: Ed25519PrivateKey = work["key"]
    raw = key.private_bytes(
        serialization.Encoding.Raw, serialization.PrivateFormat.Raw, serialization.NoEncryption()
    )
    pem = (work["home"] / "keys" / "image-ed25519.pem").read_text(encoding="utf-8")
    body = json.dumps(entry)
    assert "PRIVATE KEY" not in body and raw.hex() not in body
    assert all(line not in body for line in pem.splitlines()[1:-1])


def test_latest_is_never_signed_and_never_verifies(work: dict[str, Any]) -> None:
    index_path = work["layout"] / "index.json"
    index = json.loads(index_path.read_text(encoding="utf-8"))
    index["manifests"][0]["annotations"]["org.opencontainers.image.ref.name"] = "latest"
    index_path.write_text(json.dumps(index), encoding="utf-8")
    refused = _sign(work)
    assert refused.returncode == 1 and "'latest' is refused" in refused.stderr
    assert "refusing to sign" in refused.stderr
    assert not (work["layout"] / "attestations").exists()
    assert _signed_entries(work) == []
    checked = _cli(work, "image", "verify", work["layout"], "--json")
    assert checked.returncode == 1
    assert "index.json" in [p["path"] for p in _json(checked)["problems"]]


def test_a_layout_that_does_not_verify_is_not_signed(work: dict[str, Any]) -> None:
    config = work["layout"] / work["ref"].config.path
    config.write_bytes(config.read_bytes() + b" ")
    refused = _sign(work)
    assert refused.returncode == 1 and work["ref"].config.path in refused.stderr
    assert not (work["layout"] / "attestations").exists()
    assert _signed_entries(work) == []


def test_keygen_makes_an_owner_only_key_once(tmp_path: Path) -> None:
    env = cli_env(tmp_path / "home", role=None)
    made = run_cli(["image", "keygen", "--json"], env=env, cwd=tmp_path)
    assert made.returncode == 0, made.stderr
    out = _json(made)
    path = Path(out["path"])
    assert path == (tmp_path / "home" / "keys" / "image-ed25519.pem").resolve()
    assert path.stat().st_mode & 0o777 == 0o600
    assert out["public_key"].startswith("-----BEGIN PUBLIC KEY-----")
    assert "PRIVATE" not in made.stdout
    before = path.read_bytes()
    again = run_cli(["image", "keygen"], env=env, cwd=tmp_path)
    assert "already exists" in _bad_input(again) and path.read_bytes() == before
    # The printed public key is what another installation's policy trusts.
    policy = {"gates": {"containers": {"signing": {"trusted_keys": [out["public_key"]]}}}}
    (tmp_path / "leitstand.yaml").write_text(yaml.safe_dump(policy), encoding="utf-8")
    shown = run_cli(["policy", "show", "--format", "json"], env=env, cwd=tmp_path)
    assert shown.returncode == 0, shown.stderr


def test_the_signing_key_may_come_from_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    key = Ed25519PrivateKey.generate()
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    signing = ImageSigning(key="env:IMAGE_SIGNING_KEY")
    with pytest.raises(ConfigError, match="IMAGE_SIGNING_KEY is not set"):
        load_signing_key_of(signing, tmp_path)
    monkeypatch.setenv("IMAGE_SIGNING_KEY", pem)
    loaded = load_signing_key_of(signing, tmp_path)
    assert key_id(loaded.public_key()) == key_id(key.public_key())
    monkeypatch.setenv("IMAGE_SIGNING_KEY", "nonsense")
    with pytest.raises(ConfigError, match="holds no unencrypted PEM") as refused:
        load_signing_key_of(signing, tmp_path)
    assert "nonsense" not in str(refused.value)
    missing = ImageSigning()
    with pytest.raises(ConfigError, match="leitstand image keygen"):
        load_signing_key_of(missing, tmp_path)


def _refused(work: dict[str, Any], gate_run: int) -> str:
    """Sign with ``gate_run``: exit 1, nothing written (no envelope, no evidence); the message."""
    result = _sign(work, "--gate-run", gate_run)
    assert result.returncode == 1, (result.stdout, result.stderr)
    assert "Traceback" not in result.stdout + result.stderr
    assert not (work["layout"] / "attestations").exists()
    assert _signed_entries(work) == []
    return result.stderr


def test_sign_refuses_a_gate_run_the_gates_have_no_record_of(work: dict[str, Any]) -> None:
    missing = work["gate_run"] + 1
    message = _refused(work, missing)
    assert f"gate run #{missing} does not exist" in message


@pytest.mark.parametrize("outcome", [Status.FAIL, Status.SKIP])
def test_sign_refuses_a_gate_run_that_did_not_pass(work: dict[str, Any], outcome: Status) -> None:
    run = _gate_run(work["home"], outcome=outcome, image=work["ref"], sbom=work["sbom"])
    message = _refused(work, run)
    assert f"gate run #{run} (leitstand 2.0.1" in message
    assert f"did not pass (outcome {outcome.value})" in message


def test_sign_refuses_a_passed_gate_run_of_another_version(work: dict[str, Any]) -> None:
    run = _gate_run(work["home"], version="2.0.0", image=work["ref"], sbom=work["sbom"])
    message = _refused(work, run)
    assert f"gate run #{run} (leitstand 2.0.0" in message
    assert "checked version 2.0.0" in message and "tagged 2.0.1" in message


def test_sign_with_the_passed_gate_run_of_the_tagged_version_signs_it(
    work: dict[str, Any],
) -> None:
    _gate_run(work["home"], outcome=Status.FAIL)  # a newer run that failed does not matter
    signed = _sign(work, "--json")
    assert signed.returncode == 0, signed.stderr
    assert _json(signed)["gate_run_id"] == work["gate_run"]
    (entry,) = _signed_entries(work)
    assert entry["payload"]["gate_run_id"] == work["gate_run"]
    assert _cli(work, "image", "verify", work["layout"]).returncode == 0


def test_sign_refuses_a_gate_run_that_did_not_scan_the_image(work: dict[str, Any]) -> None:
    """A run that passed the version but whose image scan checked another image (or none)
    does not vouch for this one."""
    run = _gate_run(work["home"])
    message = _refused(work, run)
    assert f"gate run #{run} (leitstand 2.0.1" in message
    assert (
        f"did not scan the image registry.example/ops/leitstand:2.0.1 ({work['ref'].digest})"
        in (message)
    )


def test_sign_names_the_sbom_the_gate_scanned_and_refuses_another(work: dict[str, Any]) -> None:
    other = work["cwd"] / "other.cdx.json"
    other.write_text(json.dumps({**SBOM_DOC, "version": 2}), encoding="utf-8")
    refused = _sign(work, "--sbom", other)
    assert refused.returncode == 1, refused.stderr
    assert f"the SBOM given ({_file_digest(other)}) is not the one gate run" in refused.stderr
    assert _signed_entries(work) == []
    # Without --sbom the attestation carries the SBOM digest the gate run recorded.
    signed = _cli(work, "image", "sign", work["layout"], "--gate-run", work["gate_run"], "--json")
    assert signed.returncode == 0, signed.stderr
    assert _json(signed)["sbom_digest"] == _file_digest(work["sbom"])


def _compliant_project(root: Path, *, version: str) -> Path:
    """A project whose compliance stage passes (the fast stage): a change-log entry for
    ``version`` and every section of the Betriebshandbuch."""
    sections = "".join(f"## {s.title.de}\n\n...\n\n" for s in default_policy().runbook.values())
    return write_project(
        root,
        name="enterprise-api",
        version=version,
        files={
            "CHANGELOG.md": f"# Changelog\n\n## [{version}]\n\n- first release\n",
            "docs/betriebshandbuch.md": f"# Betriebshandbuch\n\n{sections}",
        },
    )


def test_a_compliance_only_run_of_another_service_is_refused(work: dict[str, Any]) -> None:
    project = _compliant_project(work["cwd"] / "app", version="2.0.1")
    opened = _cli(
        work, "change", "open", "--service", "enterprise-api", "--version", "2.0.1",
        "--category", "standard", "--what", "x", "--why", "y", "--rollback", "z", "--tests", "t",
    )  # fmt: skip
    assert opened.returncode == 0, opened.stderr  # a standard change: approved by the pipeline
    text = _cli(work, "gate", "run", project, "--stage", "compliance")
    assert text.returncode == 0, (text.stdout, text.stderr)
    shown = re.search(r"^gate run #(\d+): pass$", text.stdout, re.M)
    assert shown is not None, text.stdout
    ran = _cli(work, "gate", "run", project, "--stage", "compliance", "--json")
    assert ran.returncode == 0, (ran.stdout, ran.stderr)
    report = _json(ran)
    assert report["status"] == "pass" and report["version"] == "2.0.1"
    run_id = report["run_id"]
    # Each run has its own id, and neither is the fixture's run of the same version.
    assert len({run_id, int(shown.group(1)), work["gate_run"]}) == 3
    # report.json itself stays as written (its SHA-256 is in the run's evidence).
    written = json.loads((project / "gate-report" / "report.json").read_text(encoding="utf-8"))
    assert "run_id" not in written and {**written, "run_id": run_id} == report
    # The run left out build, test and security: it does not vouch for an image.
    message = _refused(work, run_id)
    assert f"gate run #{run_id} (enterprise-api 2.0.1" in message
    assert "did not pass build, test, security" in message and "required_gates" in message


def test_sign_refuses_a_run_of_another_service_than_the_release_target_deploys(
    work: dict[str, Any],
) -> None:
    releases = kubernetes_release("enterprise-api", image="registry.example/ops/leitstand")
    policy = {"deployment": {"releases": releases}}
    (work["cwd"] / "leitstand.yaml").write_text(yaml.safe_dump(policy), encoding="utf-8")
    message = _refused(work, work["gate_run"])  # the fixture's run is of service leitstand
    assert "checked service leitstand" in message and "enterprise-api" in message


def test_a_changed_tag_in_index_json_does_not_verify(work: dict[str, Any]) -> None:
    assert _sign(work).returncode == 0
    index_path = work["layout"] / "index.json"
    index = json.loads(index_path.read_text(encoding="utf-8"))
    index["manifests"][0]["annotations"]["org.opencontainers.image.ref.name"] = "2.0.2"
    index_path.write_text(json.dumps(index), encoding="utf-8")
    checked = _cli(work, "image", "verify", work["layout"], "--json")
    assert checked.returncode == 1
    problems = _json(checked)["problems"]
    assert "index.json" in [p["path"] for p in problems]
    assert any("signed for tag '2.0.1'" in p["message"] for p in problems)


def test_sign_refuses_a_symlinked_attestations_folder(work: dict[str, Any]) -> None:
    elsewhere = work["cwd"] / "elsewhere"
    elsewhere.mkdir()
    (work["layout"] / "attestations").symlink_to(elsewhere)
    refused = _sign(work)
    assert refused.returncode == 1 and "symbolic link" in refused.stderr
    assert "Traceback" not in refused.stderr
    assert list(elsewhere.iterdir()) == [] and _signed_entries(work) == []


def test_the_envelope_is_taken_back_when_the_ledger_commit_fails(
    work: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    from leitstand.images.service import ImageService
    from leitstand.ledger.service import Ledger

    def broken(*_args: object, **_kwargs: object) -> object:
        raise RuntimeError("the ledger is broken")

    monkeypatch.setattr(Ledger, "record", broken)
    container = build(Settings(home=work["home"]), policy=Policy())
    try:
        with pytest.raises(RuntimeError, match="the ledger is broken"):
            container.get(ImageService).sign(
                work["layout"],
                actor=CI,
                gate_run_id=work["gate_run"],
                key_file=work["home"] / "keys" / "image-ed25519.pem",
            )
    finally:
        container.close()
    folder = work["layout"] / "attestations"
    assert not folder.exists() or list(folder.iterdir()) == []


def test_verify_skips_an_own_key_it_cannot_load_with_a_warning(work: dict[str, Any]) -> None:
    foreign = Ed25519PrivateKey.generate()
    foreign_file = work["cwd"] / "foreign.pem"
    foreign_file.write_bytes(
        foreign.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    foreign_file.chmod(0o600)
    assert _sign(work, "--key", foreign_file).returncode == 0
    policy = {"gates": {"containers": {"signing": {"trusted_keys": [_pem(foreign)]}}}}
    (work["cwd"] / "leitstand.yaml").write_text(yaml.safe_dump(policy), encoding="utf-8")
    (work["home"] / "keys" / "image-ed25519.pem").chmod(0o644)
    result = _cli(work, "image", "verify", work["layout"])
    assert result.returncode == 0, result.stderr
    assert "warning: the own signing key is skipped" in result.stderr
    assert "chmod 600" in result.stderr
    (work["cwd"] / "leitstand.yaml").unlink()
    alone = _bad_input(_cli(work, "image", "verify", work["layout"]))
    assert "no key to verify with" in alone


def test_an_sbom_with_a_huge_number_or_deep_nesting_is_bad_input(work: dict[str, Any]) -> None:
    for name, text in (
        ("big.json", "[" + "9" * 5000 + "]"),
        ("deep.json", "[" * 10000 + "]" * 10000),
    ):
        (work["cwd"] / name).write_text(text, encoding="utf-8")
        result = _sign(work, "--sbom", work["cwd"] / name)
        assert "--sbom" in _bad_input(result)


# -- image pin: deployment files by digest ----------------------------------------------------

DEPLOY = Path(__file__).resolve().parents[3] / "deploy"
POSTGRES_LINE = "POSTGRES_IMAGE=reg/postgres@sha256:" + "1" * 64


def _deploy_copy(work: dict[str, Any]) -> tuple[Path, Path]:
    kustomize = work["cwd"] / "kubernetes"
    shutil.copytree(DEPLOY / "kubernetes", kustomize)
    env = work["cwd"] / ".env"
    env.write_text(
        "# pinned by leitstand image pin\nPOSTGRES_IMAGE=reg/postgres@sha256:" + "1" * 64 + "\n"
    )
    return kustomize, env


def _pin(
    work: dict[str, Any], kustomize: Path, env: Path, *extra: object
) -> subprocess.CompletedProcess[str]:
    return _cli(
        work, "image", "pin", work["layout"], "--kustomization", kustomize, "--env-file", env,
        "--image", "registry.example.de/leitstand/leitstand", *extra,
    )  # fmt: skip


def test_pin_writes_the_signed_images_digest_into_the_deploy_files(work: dict[str, Any]) -> None:
    kustomize, env = _deploy_copy(work)
    before = (kustomize / "kustomization.yaml").read_text()
    unsigned = _pin(work, kustomize, env)
    assert unsigned.returncode == 1, unsigned.stderr
    assert (kustomize / "kustomization.yaml").read_text() == before  # nothing pinned
    assert _sign(work).returncode == 0
    pinned = _pin(work, kustomize, env, "--json")
    assert pinned.returncode == 0, pinned.stderr
    digest = work["ref"].manifest.digest
    assert _json(pinned)["image"] == f"registry.example/ops/leitstand@{digest}"
    text = (kustomize / "kustomization.yaml").read_text()
    assert text.startswith("# kubectl apply -k deploy/kubernetes")  # its comments stay
    document = yaml.safe_load(text)
    assert document["resources"] == ["leitstand.yaml"]
    assert document["images"] == [
        {
            "name": "registry.example.de/leitstand/leitstand",
            "newName": "registry.example/ops/leitstand",
            "digest": digest,
        }
    ]
    lines = env.read_text().splitlines()
    assert lines[:2] == [
        "# pinned by leitstand image pin",
        "POSTGRES_IMAGE=reg/postgres@sha256:" + "1" * 64,
    ]
    assert lines[2] == f"LEITSTAND_IMAGE=registry.example/ops/leitstand@{digest}"
    # Pinning again replaces the entries, it does not add more.
    assert _pin(work, kustomize, env).returncode == 0
    assert len(yaml.safe_load((kustomize / "kustomization.yaml").read_text())["images"]) == 1
    assert sum(1 for line in env.read_text().splitlines() if line.startswith("LEITSTAND_")) == 1


def test_pin_refuses_a_changed_blob_and_an_untrusted_registry(work: dict[str, Any]) -> None:
    kustomize, env = _deploy_copy(work)
    assert _sign(work).returncode == 0
    policy = {"gates": {"containers": {"trusted_registries": ["harbor.internal/*"]}}}
    (work["cwd"] / "leitstand.yaml").write_text(yaml.safe_dump(policy), encoding="utf-8")
    refused = _pin(work, kustomize, env)
    assert refused.returncode == 1
    assert "not from a trusted registry" in refused.stderr and "harbor.internal/*" in refused.stderr
    (work["cwd"] / "leitstand.yaml").unlink()
    layer = work["layout"] / "blobs/sha256" / work["ref"].layers[0].hex
    data = bytearray(layer.read_bytes())
    data[-1] ^= 1
    layer.write_bytes(bytes(data))
    changed = _pin(work, kustomize, env)
    assert changed.returncode == 1 and work["ref"].layers[0].hex in changed.stdout + changed.stderr
    assert not env.read_text().count("LEITSTAND_IMAGE")
    assert "images" not in yaml.safe_load((kustomize / "kustomization.yaml").read_text())


def test_pin_without_a_target_is_bad_input(work: dict[str, Any]) -> None:
    assert "--kustomization" in _bad_input(_cli(work, "image", "pin", work["layout"]))
