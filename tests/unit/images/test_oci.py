"""OCI image layouts: reproducible builds, normalised tar entries, refused tags, changed blobs."""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import os
import tarfile
from pathlib import Path
from typing import Any

import pytest

from leitstand.images.config import Healthcheck, ImageConfig
from leitstand.images.oci import (
    CONFIG_MEDIA_TYPE,
    INDEX_MEDIA_TYPE,
    LAYER_MEDIA_TYPE,
    MANIFEST_MEDIA_TYPE,
    REF_NAME_ANNOTATION,
    ImageRef,
    created_from_epoch,
    read_layout,
    write_layout,
)
from leitstand.images.tarball import Owner, normalize_tar, tar_tree
from leitstand.images.verify import verify_layout

EPOCH = 1_700_000_000
CONFIG = ImageConfig(
    name="registry.example/ops/leitstand",
    user="10001:10001",
    env=("PATH=/usr/local/bin:/usr/bin:/bin", "LEITSTAND_HOME=/var/lib/leitstand"),
    entrypoint=("/usr/bin/leitstand",),
    cmd=("serve",),
    working_dir="/var/lib/leitstand",
    exposed_ports=("8080/tcp",),
    labels={"org.opencontainers.image.source": "https://example.invalid/leitstand"},
    stop_signal="SIGTERM",
    healthcheck=Healthcheck(
        ("CMD", "/usr/bin/leitstand", "health"), interval_s=10, timeout_s=2.5, retries=4
    ),
)


def _tree(root: Path) -> Path:
    """A small root file system; every mtime lies after EPOCH, one file's before it."""
    (root / "usr" / "bin").mkdir(parents=True)
    (root / "etc").mkdir()
    (root / "var" / "empty").mkdir(parents=True)
    app = root / "usr" / "bin" / "leitstand"
    app.write_bytes(b"#!/bin/sh\necho leitstand\n")
    app.chmod(0o755)
    conf = root / "etc" / "leitstand.conf"
    conf.write_text("listen = 8080\n", encoding="utf-8")
    conf.chmod(0o644)
    (root / "etc" / "a-b").write_text("sorts before etc/a/ by byte value\n", encoding="utf-8")
    (root / "bin").symlink_to("usr/bin")
    old = root / "etc" / "old.txt"
    old.write_text("older than the epoch\n", encoding="utf-8")
    os.utime(old, (EPOCH - 3600, EPOCH - 3600))
    for path in (app, conf, root / "etc", root / "usr"):
        os.utime(path, (EPOCH + 86_400, EPOCH + 86_400))
    return root


def _build(out: Path, tree: Path, *, epoch: int = EPOCH, tag: str = "1.4.2") -> ImageRef:
    return write_layout(
        out, rootfs_tar=tree, config=CONFIG, tag=tag, created=created_from_epoch(epoch)
    )


def _files(directory: Path) -> dict[str, bytes]:
    return {
        p.relative_to(directory).as_posix(): p.read_bytes()
        for p in sorted(directory.rglob("*"))
        if p.is_file()
    }


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    return _tree(tmp_path / "rootfs")


@pytest.fixture
def image(tmp_path: Path, tree: Path) -> tuple[Path, ImageRef]:
    out = tmp_path / "image"
    return out, _build(out, tree)


def _json(path: Path) -> Any:
    value = json.loads(path.read_bytes())
    assert isinstance(value, dict)
    return value


# --- reproducibility ---------------------------------------------------------------------------


def test_two_builds_of_the_same_tree_and_epoch_give_the_same_digest_and_bytes(
    tmp_path: Path, tree: Path
) -> None:
    first = _build(tmp_path / "one", tree)
    # Touching the tree after the epoch changes nothing: mtimes are clamped to SOURCE_DATE_EPOCH.
    os.utime(tree / "usr" / "bin" / "leitstand", (EPOCH + 999_999, EPOCH + 999_999))
    second = _build(tmp_path / "two", tree)
    assert first.manifest.digest == second.manifest.digest
    assert _files(tmp_path / "one") == _files(tmp_path / "two")


def test_a_different_epoch_gives_a_different_digest(tmp_path: Path, tree: Path) -> None:
    first = _build(tmp_path / "one", tree, epoch=EPOCH)
    second = _build(tmp_path / "two", tree, epoch=EPOCH + 1)
    assert first.manifest.digest != second.manifest.digest
    assert first.diff_ids != second.diff_ids  # the clamped mtimes differ, so does the layer


def test_the_same_tar_as_bytes_or_as_a_file_gives_the_same_image(
    tmp_path: Path, tree: Path
) -> None:
    tar = tar_tree(tree, epoch=EPOCH)
    tar_file = tmp_path / "rootfs.tar"
    tar_file.write_bytes(tar)
    created = created_from_epoch(EPOCH)
    from_bytes = write_layout(
        tmp_path / "a", rootfs_tar=tar, config=CONFIG, tag="1.4.2", created=created
    )
    from_file = write_layout(
        tmp_path / "b", rootfs_tar=tar_file, config=CONFIG, tag="1.4.2", created=created
    )
    from_tree = _build(tmp_path / "c", tree)
    assert from_bytes.manifest.digest == from_file.manifest.digest == from_tree.manifest.digest


# --- the tar -----------------------------------------------------------------------------------


def test_tar_entries_are_sorted_clamped_and_owned_as_given(tree: Path) -> None:
    owner = Owner(uid=10001, gid=10002, uname="leitstand", gname="ops")
    with tarfile.open(fileobj=io.BytesIO(tar_tree(tree, epoch=EPOCH, owner=owner))) as tar:
        members = tar.getmembers()
    names = [m.name for m in members]
    assert names == sorted(names)
    assert names == [
        "bin",
        "etc",
        "etc/a-b",
        "etc/leitstand.conf",
        "etc/old.txt",
        "usr",
        "usr/bin",
        "usr/bin/leitstand",
        "var",
        "var/empty",
    ]
    assert {(m.uid, m.gid, m.uname, m.gname) for m in members} == {
        (10001, 10002, "leitstand", "ops")
    }
    by_name = {m.name: m for m in members}
    assert all(m.mtime <= EPOCH for m in members)
    assert by_name["usr/bin/leitstand"].mtime == EPOCH  # clamped down from EPOCH + 1 day
    assert by_name["etc/old.txt"].mtime == EPOCH - 3600  # older times are kept
    assert by_name["usr/bin/leitstand"].mode == 0o755
    assert by_name["etc/leitstand.conf"].mode == 0o644
    assert by_name["bin"].issym() and by_name["bin"].linkname == "usr/bin"
    assert by_name["var/empty"].isdir()
    assert all(not m.pax_headers for m in members)  # no atime, ctime or host details


def test_the_layer_is_gzip_without_name_and_mtime_and_diff_id_is_the_plain_tar(
    image: tuple[Path, ImageRef],
) -> None:
    out, ref = image
    layer = (out / ref.layers[0].path).read_bytes()
    assert layer[:3] == b"\x1f\x8b\x08"
    assert layer[3] & 0x08 == 0, "FNAME flag set: the gzip header names a file"
    assert layer[4:8] == b"\x00\x00\x00\x00", "gzip header mtime is not 0"
    plain = gzip.decompress(layer)
    assert ref.diff_ids == (f"sha256:{hashlib.sha256(plain).hexdigest()}",)
    config = _json(out / ref.config.path)
    assert config["rootfs"] == {"type": "layers", "diff_ids": list(ref.diff_ids)}


def _tar(entries: list[tuple[tarfile.TarInfo, bytes | None]]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for info, data in entries:
            tar.addfile(info, io.BytesIO(data) if data is not None else None)
    return buffer.getvalue()


def _info(name: str, kind: bytes = tarfile.REGTYPE, **fields: object) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type = kind
    for key, value in fields.items():
        setattr(info, key, value)
    return info


def test_normalize_tar_sorts_strips_clamps_and_keeps_only_xattr_records() -> None:
    data = b"payload\n"
    source = _tar(
        [
            (
                _info(
                    "./usr/bin/ping",
                    size=len(data),
                    mtime=EPOCH + 50,
                    uid=0,
                    gid=0,
                    mode=0o4755,
                    pax_headers={"atime": "1.5", "SCHILY.xattr.user.note": "kept"},
                ),
                data,
            ),
            (_info("./etc/hostname-link", tarfile.LNKTYPE, linkname="./usr/bin/ping"), None),
            (_info("./var/mail", tarfile.DIRTYPE, mode=0o2775, gid=8, gname="mail"), None),
            (_info("./", tarfile.DIRTYPE, mode=0o755), None),  # the root, as mmdebstrap writes it
            (_info("./etc", tarfile.DIRTYPE, mode=0o755), None),
            (_info("./usr", tarfile.DIRTYPE, mode=0o755, mtime=EPOCH - 10), None),
            (_info("./usr/bin", tarfile.DIRTYPE, mode=0o755), None),
            (_info("./var", tarfile.DIRTYPE, mode=0o755), None),
        ]
    )
    with tarfile.open(fileobj=io.BytesIO(normalize_tar(source, epoch=EPOCH))) as tar:
        members = tar.getmembers()
        ping = tar.extractfile("usr/bin/ping")
        assert ping is not None and ping.read() == data
    names = [m.name for m in members]
    # Hard links come last, so their targets are always unpacked first.
    assert names == [
        "etc",
        "usr",
        "usr/bin",
        "usr/bin/ping",
        "var",
        "var/mail",
        "etc/hostname-link",
    ]
    by_name = {m.name: m for m in members}
    assert by_name["etc/hostname-link"].linkname == "usr/bin/ping"
    assert by_name["usr/bin/ping"].mtime == EPOCH
    assert by_name["usr"].mtime == EPOCH - 10
    assert by_name["usr/bin/ping"].mode == 0o4755
    assert by_name["usr/bin/ping"].pax_headers == {"SCHILY.xattr.user.note": "kept"}
    assert (by_name["var/mail"].gid, by_name["var/mail"].gname) == (8, "mail")  # owner=None


def test_normalize_tar_replaces_owners_when_given_and_is_idempotent() -> None:
    source = _tar([(_info("a", size=1, uid=1000, gid=1000, uname="dev", gname="dev"), b"x")])
    once = normalize_tar(source, epoch=EPOCH, owner=Owner())
    assert normalize_tar(once, epoch=EPOCH, owner=Owner()) == once
    with tarfile.open(fileobj=io.BytesIO(once)) as tar:
        (member,) = tar.getmembers()
    assert (member.uid, member.gid, member.uname, member.gname) == (0, 0, "root", "root")


@pytest.mark.parametrize("name", ["../etc/passwd", "usr/../../etc/shadow"])
def test_normalize_tar_refuses_entries_outside_the_root(name: str) -> None:
    with pytest.raises(ValueError, match="escapes the root"):
        normalize_tar(_tar([(_info(name, size=1), b"x")]), epoch=EPOCH)


def test_normalize_tar_refuses_duplicate_entries() -> None:
    source = _tar([(_info("./a", size=1), b"x"), (_info("a", size=1), b"y")])
    with pytest.raises(ValueError, match="more than once"):
        normalize_tar(source, epoch=EPOCH)


def test_a_directory_tree_needs_an_owner(tmp_path: Path, tree: Path) -> None:
    with pytest.raises(ValueError, match="needs an owner"):
        write_layout(
            tmp_path / "out",
            rootfs_tar=tree,
            config=CONFIG,
            tag="1.4.2",
            created=created_from_epoch(EPOCH),
            owner=None,
        )


# --- the layout --------------------------------------------------------------------------------


def test_the_layout_has_oci_layout_index_with_the_tag_and_typed_blobs(
    image: tuple[Path, ImageRef],
) -> None:
    out, ref = image
    assert (out / "oci-layout").read_bytes() == b'{"imageLayoutVersion":"1.0.0"}'
    index = _json(out / "index.json")
    assert index["schemaVersion"] == 2
    assert index["mediaType"] == INDEX_MEDIA_TYPE
    assert index["manifests"] == [
        {
            "mediaType": MANIFEST_MEDIA_TYPE,
            "digest": ref.manifest.digest,
            "size": ref.manifest.size,
            "platform": {"architecture": "amd64", "os": "linux"},
            "annotations": {REF_NAME_ANNOTATION: "1.4.2"},
        }
    ]
    manifest = _json(out / ref.manifest.path)
    assert manifest["config"] == {
        "mediaType": CONFIG_MEDIA_TYPE,
        "digest": ref.config.digest,
        "size": ref.config.size,
    }
    assert manifest["layers"] == [
        {"mediaType": LAYER_MEDIA_TYPE, "digest": ref.layers[0].digest, "size": ref.layers[0].size}
    ]
    blobs = sorted(p.name for p in (out / "blobs" / "sha256").iterdir())
    assert blobs == sorted(d.hex for d in (ref.manifest, ref.config, ref.layers[0]))
    # Canonical JSON: compact, sorted keys.
    raw = (out / ref.manifest.path).read_bytes()
    assert raw == json.dumps(manifest, sort_keys=True, separators=(",", ":")).encode()


def test_read_layout_returns_what_write_layout_wrote(image: tuple[Path, ImageRef]) -> None:
    out, ref = image
    assert read_layout(out) == ref
    assert read_layout(out, tag="1.4.2") == ref
    assert ref.name == "registry.example/ops/leitstand"
    assert ref.created == "2023-11-14T22:13:20Z"


def test_the_config_carries_the_run_settings_and_docker_healthcheck(
    image: tuple[Path, ImageRef],
) -> None:
    out, ref = image
    config = _json(out / ref.config.path)
    assert config["created"] == "2023-11-14T22:13:20Z"
    assert (config["architecture"], config["os"]) == ("amd64", "linux")
    assert config["config"] == {
        "User": "10001:10001",
        "Env": ["PATH=/usr/local/bin:/usr/bin:/bin", "LEITSTAND_HOME=/var/lib/leitstand"],
        "Entrypoint": ["/usr/bin/leitstand"],
        "Cmd": ["serve"],
        "WorkingDir": "/var/lib/leitstand",
        "ExposedPorts": {"8080/tcp": {}},
        "Labels": {"org.opencontainers.image.source": "https://example.invalid/leitstand"},
        "StopSignal": "SIGTERM",
        "Healthcheck": {
            "Test": ["CMD", "/usr/bin/leitstand", "health"],
            "Interval": 10_000_000_000,
            "Timeout": 2_500_000_000,
            "StartPeriod": 0,
            "Retries": 4,
        },
    }


@pytest.mark.parametrize("tag", ["latest", "LATEST", ""])
def test_latest_and_the_empty_tag_are_refused(tmp_path: Path, tree: Path, tag: str) -> None:
    with pytest.raises(ValueError, match="exact version"):
        _build(tmp_path / "out", tree, tag=tag)
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("tag", ["1.4/2", "-1.4.2", "v" * 129])
def test_tags_outside_the_tag_grammar_are_refused(tmp_path: Path, tree: Path, tag: str) -> None:
    with pytest.raises(ValueError, match="expected"):
        _build(tmp_path / "out", tree, tag=tag)


def test_a_non_empty_output_directory_is_refused(tmp_path: Path, tree: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    (out / "stale").write_text("old build\n", encoding="utf-8")
    with pytest.raises(ValueError, match="not an empty directory"):
        _build(out, tree)


def test_created_comes_from_source_date_epoch() -> None:
    assert created_from_epoch("0").isoformat() == "1970-01-01T00:00:00+00:00"
    assert created_from_epoch(EPOCH).timestamp() == EPOCH
    for bad in ("", "-1", "1.5", "soon"):
        with pytest.raises(ValueError, match="SOURCE_DATE_EPOCH"):
            created_from_epoch(bad)


def test_image_config_refuses_bad_names_and_env_entries() -> None:
    with pytest.raises(ValueError, match="image name"):
        ImageConfig(name="Leitstand")
    with pytest.raises(ValueError, match="NAME=value"):
        ImageConfig(name="leitstand", env=("PATH",))
    with pytest.raises(ValueError, match="CMD"):
        Healthcheck(("curl", "localhost"))


# --- verification ------------------------------------------------------------------------------


def test_an_untouched_layout_verifies(image: tuple[Path, ImageRef]) -> None:
    out, _ = image
    assert verify_layout(out) == []


def _flip(path: Path, offset: int | None = None) -> None:
    data = bytearray(path.read_bytes())
    at = len(data) // 2 if offset is None else offset
    data[at] ^= 0x01
    path.write_bytes(bytes(data))


@pytest.mark.parametrize("role", ["layer", "config", "manifest"])
def test_a_flipped_byte_in_a_blob_is_named_with_expected_and_actual_digest(
    image: tuple[Path, ImageRef], role: str
) -> None:
    out, ref = image
    desc = {"layer": ref.layers[0], "config": ref.config, "manifest": ref.manifest}[role]
    _flip(out / desc.path)
    actual = f"sha256:{hashlib.sha256((out / desc.path).read_bytes()).hexdigest()}"
    problems = verify_layout(out)
    assert len(problems) == 1
    (problem,) = problems
    assert problem.path == f"blobs/sha256/{desc.hex}"
    assert f"{role} blob changed" in problem.message
    assert f"expected {desc.digest}" in problem.message
    assert f"actual {actual}" in problem.message
    assert str(problem).startswith(f"blobs/sha256/{desc.hex}: ")


def test_a_missing_blob_is_named(image: tuple[Path, ImageRef]) -> None:
    out, ref = image
    (out / ref.config.path).unlink()
    assert [(p.path, p.message) for p in verify_layout(out)] == [
        (ref.config.path, "config blob is missing")
    ]


def test_a_changed_unreferenced_blob_is_named(image: tuple[Path, ImageRef]) -> None:
    out, _ = image
    stray = out / "blobs" / "sha256" / ("0" * 64)
    stray.write_bytes(b"not what the name says")
    problems = verify_layout(out)
    assert [p.path for p in problems] == [f"blobs/sha256/{'0' * 64}"]
    assert "unreferenced blob changed" in problems[0].message


def test_a_layer_whose_content_differs_from_its_diff_id_is_named(tmp_path: Path) -> None:
    # A consistent re-pack (new digest in the manifest) still disagrees with rootfs.diff_ids.
    tree = _tree(tmp_path / "rootfs")
    out = tmp_path / "image"
    ref = _build(out, tree)
    other = gzip.compress(b"\0" * 1024, mtime=0)
    new_hex = hashlib.sha256(other).hexdigest()
    (out / "blobs" / "sha256" / new_hex).write_bytes(other)
    (out / ref.layers[0].path).unlink()
    manifest = _json(out / ref.manifest.path)
    manifest["layers"] = [
        {"mediaType": LAYER_MEDIA_TYPE, "digest": f"sha256:{new_hex}", "size": len(other)}
    ]
    raw = json.dumps(manifest, sort_keys=True, separators=(",", ":")).encode()
    manifest_hex = hashlib.sha256(raw).hexdigest()
    (out / ref.manifest.path).unlink()
    (out / "blobs" / "sha256" / manifest_hex).write_bytes(raw)
    index = _json(out / "index.json")
    index["manifests"][0].update(digest=f"sha256:{manifest_hex}", size=len(raw))
    (out / "index.json").write_text(json.dumps(index), encoding="utf-8")
    problems = verify_layout(out)
    assert [p.path for p in problems] == [f"blobs/sha256/{new_hex}"]
    assert f"rootfs.diff_ids says {ref.diff_ids[0]}" in problems[0].message


def test_a_digest_that_is_no_sha256_is_refused_before_any_path_is_built(
    image: tuple[Path, ImageRef],
) -> None:
    out, _ = image
    index = _json(out / "index.json")
    index["manifests"][0]["digest"] = "sha256:../../../etc/passwd"
    (out / "index.json").write_text(json.dumps(index), encoding="utf-8")
    problems = verify_layout(out)
    assert [p.path for p in problems] == ["index.json"]
    assert "is not sha256:<64 hex>" in problems[0].message


# --- review mends: set-id bits, special entries, symlinks, FIFOs, hostile JSON ----------------


def test_setuid_and_setgid_are_dropped_where_the_owner_is_replaced(tree: Path) -> None:
    (tree / "usr" / "bin" / "leitstand").chmod(0o6755)
    with tarfile.open(fileobj=io.BytesIO(tar_tree(tree, epoch=EPOCH))) as tar:
        assert tar.getmember("usr/bin/leitstand").mode == 0o755
    source = _tar([(_info("ping", size=1, mode=0o4755, uid=1000), b"x")])
    replaced = normalize_tar(source, epoch=EPOCH, owner=Owner())
    kept = normalize_tar(source, epoch=EPOCH)
    with tarfile.open(fileobj=io.BytesIO(replaced)) as tar:
        assert tar.getmember("ping").mode == 0o755
    with tarfile.open(fileobj=io.BytesIO(kept)) as tar:
        assert tar.getmember("ping").mode == 0o4755


def test_a_tar_keeps_its_owners_by_default_in_a_layout(tmp_path: Path) -> None:
    source = _tar([(_info("ping", size=1, mode=0o4755, uid=7, gid=8), b"x")])
    ref = write_layout(
        tmp_path / "out",
        rootfs_tar=source,
        config=CONFIG,
        tag="1.4.2",
        created=created_from_epoch(EPOCH),
    )
    layer = gzip.decompress((tmp_path / "out" / ref.layers[0].path).read_bytes())
    with tarfile.open(fileobj=io.BytesIO(layer)) as tar:
        member = tar.getmember("ping")
    assert (member.uid, member.gid, member.mode) == (7, 8, 0o4755)


@pytest.mark.parametrize("kind", [tarfile.CHRTYPE, tarfile.BLKTYPE, tarfile.FIFOTYPE])
def test_normalize_tar_refuses_devices_and_fifos(kind: bytes) -> None:
    with pytest.raises(ValueError, match="is refused"):
        normalize_tar(_tar([(_info("dev/thing", kind), None)]), epoch=EPOCH)


@pytest.mark.parametrize(
    "entries",
    [
        [("a-link", tarfile.LNKTYPE, "missing")],
        [("a-link", tarfile.LNKTYPE, "z"), ("z", tarfile.REGTYPE, "")],  # target comes later
        [("d", tarfile.DIRTYPE, ""), ("a-link", tarfile.LNKTYPE, "d")],  # not a regular file
    ],
)
def test_normalize_tar_refuses_hard_links_to_no_earlier_regular_file(
    entries: list[tuple[str, bytes, str]],
) -> None:
    source = _tar(
        [
            (_info(name, kind, linkname=link, size=1 if kind == tarfile.REGTYPE else 0),
             b"x" if kind == tarfile.REGTYPE else None)
            for name, kind, link in entries
        ]
    )  # fmt: skip
    with pytest.raises(ValueError, match="not an earlier regular file entry"):
        normalize_tar(source, epoch=EPOCH)


def test_a_symlinked_blob_is_named(image: tuple[Path, ImageRef], tmp_path: Path) -> None:
    out, ref = image
    blob = out / ref.layers[0].path
    copy = tmp_path / "copy"
    copy.write_bytes(blob.read_bytes())
    blob.unlink()
    blob.symlink_to(copy)
    problems = verify_layout(out)
    assert [p.path for p in problems] == [ref.layers[0].path]
    assert "symbolic link" in problems[0].message


def test_a_fifo_index_json_is_named_without_hanging(image: tuple[Path, ImageRef]) -> None:
    out, _ = image
    (out / "index.json").unlink()
    os.mkfifo(out / "index.json")
    problems = verify_layout(out)  # O_NONBLOCK: no writer, no hang
    assert [p.path for p in problems] == ["index.json"]
    assert "not a regular file" in problems[0].message


@pytest.mark.parametrize("text", ["[" + "9" * 5000 + "]", "[" * 10000 + "]" * 10000])
def test_hostile_json_in_index_json_is_a_problem(image: tuple[Path, ImageRef], text: str) -> None:
    out, _ = image
    (out / "index.json").write_text(text, encoding="utf-8")
    problems = verify_layout(out)
    assert [p.path for p in problems] == ["index.json"]
    assert "not valid JSON" in problems[0].message


def test_a_tag_that_differs_from_the_manifest_version_is_named(
    image: tuple[Path, ImageRef],
) -> None:
    out, _ = image
    index = _json(out / "index.json")
    index["manifests"][0]["annotations"][REF_NAME_ANNOTATION] = "1.4.3"
    (out / "index.json").write_text(json.dumps(index), encoding="utf-8")
    problems = verify_layout(out)
    assert [p.path for p in problems] == ["index.json"]
    assert "'1.4.3'" in problems[0].message and "'1.4.2'" in problems[0].message
