"""Model bundles: signed, verified file by file, and refused whole when anything is off."""

from __future__ import annotations

import base64
import io
import json
import tarfile
from pathlib import Path

import numpy as np
import pytest

from edge_sdk.cli.main import main
from edge_sdk.errors import BundleError
from edge_sdk.fleet.bundle import BundleSpec, create_bundle, install_bundle, verify_bundle
from edge_sdk.fleet.keys import generate, trusted_keys
from tests.support.onnx_models import constant_output_model

NAMES = {0: "person", 1: "car"}


@pytest.fixture()
def keys(tmp_path: Path) -> tuple[Path, Path]:
    pub, _kid = generate(tmp_path / "keys" / "fleet.key")
    return tmp_path / "keys" / "fleet.key", pub


@pytest.fixture()
def model(tmp_path: Path) -> Path:
    return constant_output_model(tmp_path / "m.onnx", np.zeros((1, 6, 8), np.float32), names=NAMES)


def _bundle(tmp_path: Path, model: Path, key: Path, version: str = "2.1") -> Path:
    out = tmp_path / f"m-{version}.bundle"
    create_bundle(BundleSpec(model=model, version=version), key, out)
    return out


def _rewrite(src: Path, dst: Path, change) -> Path:  # type: ignore[no-untyped-def]
    """Copy a bundle's tar members through `change(name, data) -> data | None` (None drops the member)."""
    with tarfile.open(src) as tin, tarfile.open(dst, "w") as tout:
        for m in tin.getmembers():
            f = tin.extractfile(m)
            data = change(m.name, f.read() if f else b"")
            if data is not None:
                info = tarfile.TarInfo(m.name)
                info.size = len(data)
                tout.addfile(info, io.BytesIO(data))
    return dst


def test_a_bundle_verifies_with_the_trusted_key_and_names_its_contents(tmp_path, keys, model):
    key, pub = keys
    path = _bundle(tmp_path, model, key)
    info = verify_bundle(path, trusted_keys(pub.parent))
    assert (info.name, info.version, info.precision) == ("m", "2.1", "fp32")
    assert info.classes == NAMES
    assert set(info.files) == {"model.onnx", "classes.json", "build.json"}
    installed = install_bundle(path, trusted_keys(pub), tmp_path / "bundles")
    assert installed.model_path.read_bytes() == model.read_bytes()
    assert installed.folder is not None and installed.folder.name.startswith("2.1-")


def test_a_changed_model_byte_is_refused_naming_the_file_and_nothing_is_installed(tmp_path, keys, model):
    key, pub = keys
    path = _bundle(tmp_path, model, key)

    def flip(name: str, data: bytes) -> bytes:
        return data[:-1] + bytes([data[-1] ^ 1]) if name == "model.onnx" else data

    bad = _rewrite(path, tmp_path / "bad.bundle", flip)
    dest = tmp_path / "bundles"
    with pytest.raises(BundleError, match=r"model\.onnx does not match the signed manifest"):
        install_bundle(bad, trusted_keys(pub), dest)
    assert [p for p in dest.iterdir() if not p.name.startswith(".")] == []
    assert not any(dest.iterdir())  # the staging folder is gone too


def test_a_manifest_edited_after_signing_fails_the_signature(tmp_path, keys, model):
    key, pub = keys
    path = _bundle(tmp_path, model, key)

    def edit(name: str, data: bytes) -> bytes:
        if name != "manifest.json":
            return data
        m = json.loads(data)
        m["version"] = "9.9"
        return json.dumps(m).encode()

    with pytest.raises(BundleError, match="does not verify"):
        verify_bundle(_rewrite(path, tmp_path / "edited.bundle", edit), trusted_keys(pub))


def test_an_unsigned_bundle_and_an_unknown_key_are_refused(tmp_path, keys, model):
    key, pub = keys
    path = _bundle(tmp_path, model, key)
    unsigned = _rewrite(path, tmp_path / "unsigned.bundle", lambda n, d: None if n == "manifest.sig" else d)
    with pytest.raises(BundleError, match="not signed"):
        verify_bundle(unsigned, trusted_keys(pub))
    other_key = tmp_path / "other" / "o.key"
    other_pub, other_id = generate(other_key)
    with pytest.raises(BundleError, match="does not trust"):
        verify_bundle(path, trusted_keys(other_pub))
    with pytest.raises(BundleError, match="trusts no bundle signing key"):
        verify_bundle(path, [])
    # a signature by another key, relabelled with the trusted key's id, still fails
    from edge_sdk.fleet.keys import load_private

    def resign(name: str, data: bytes) -> bytes:
        return base64.b64encode(load_private(other_key).sign(manifest)) if name == "manifest.sig" else data

    with tarfile.open(path) as t:
        f = t.extractfile("manifest.json")
        manifest = f.read() if f else b""
    with pytest.raises(BundleError, match="does not verify"):
        verify_bundle(_rewrite(path, tmp_path / "resigned.bundle", resign), trusted_keys(pub))
    assert other_id


def test_extra_files_links_and_escaping_paths_are_never_extracted(tmp_path, keys, model):
    key, pub = keys
    path = _bundle(tmp_path, model, key)
    extra = tmp_path / "extra.bundle"
    _rewrite(path, extra, lambda n, d: d)
    with tarfile.open(extra, "a") as t:
        info = tarfile.TarInfo("run-me.sh")
        info.size = 2
        t.addfile(info, io.BytesIO(b"hi"))
    with pytest.raises(BundleError, match=r"not listed: run-me\.sh"):
        verify_bundle(extra, trusted_keys(pub))
    for name, kind in (("../escape", tarfile.REGTYPE), ("/etc/passwd", tarfile.REGTYPE), ("link", tarfile.SYMTYPE)):
        evil = tmp_path / "evil.bundle"
        _rewrite(path, evil, lambda n, d: d)
        with tarfile.open(evil, "a") as t:
            info = tarfile.TarInfo(name)
            info.type = kind
            info.linkname = "/etc/passwd" if kind == tarfile.SYMTYPE else ""
            t.addfile(info, io.BytesIO(b"") if kind == tarfile.REGTYPE else None)
        with pytest.raises(BundleError, match="not a plain file inside the bundle"):
            install_bundle(evil, trusted_keys(pub), tmp_path / "dest")
    assert not (tmp_path / "escape").exists()


def test_cli_keygen_create_verify(tmp_path, model, capsys):
    key = tmp_path / "k" / "fleet.key"
    assert main(["bundle", "keygen", "--out", str(key)]) == 0
    assert oct(key.stat().st_mode & 0o777) == "0o600"
    out = tmp_path / "b.bundle"
    assert main(["bundle", "create", "--model", str(model), "--version", "3", "--key", str(key), "--out", str(out),
                 "--precision", "int8"]) == 0
    capsys.readouterr()
    assert main(["bundle", "verify", str(out), "--trust", str(key.parent), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["ok"] and report["version"] == "3" and report["precision"] == "int8"
    assert main(["bundle", "keygen", "--out", str(key)]) == 3  # never overwrites a signing key (a BundleError)
    err = capsys.readouterr().err
    assert "exists already" in err and "Traceback" not in err
    tampered = _rewrite(out, tmp_path / "t.bundle",
                        lambda n, d: d.replace(b"person", b"persoN") if n == "classes.json" else d)
    assert main(["bundle", "verify", str(tampered), "--trust", str(key.parent) + "/fleet.key.pub"]) == 3
    assert "classes.json does not match the signed manifest" in capsys.readouterr().err


def test_a_prebuilt_engine_travels_with_its_cache_key(tmp_path, keys, model):
    from edge_sdk.engines.trt.key import key_digest

    key, pub = keys
    engine = tmp_path / "m.int8.gpu.engine"
    engine.write_bytes(b"serialized engine bytes")
    cache_key = {"schema": 2, "onnx_sha256": "ab" * 32, "tensorrt_version": "10.3.0.30", "cuda_version": "12.6",
                 "compute_capability": "8.7", "jetpack": "6.2", "l4t_release": "R36.4.3",
                 "board": "NVIDIA Jetson Orin NX", "precision": "int8", "dla_core": None, "builder": {}}
    (tmp_path / "m.int8.gpu.engine.json").write_text(json.dumps({"key": cache_key}))
    out = tmp_path / "e.bundle"
    create_bundle(BundleSpec(model=model, version="4", engines=[engine]), key, out)
    info = install_bundle(out, trusted_keys(pub), tmp_path / "bundles")
    (entry,) = info.engines
    assert entry["target"]["jetpack"] == "6.2" and entry["target"]["tensorrt_version"] == "10.3.0.30"
    assert entry["key_digest"] == key_digest(cache_key)
    assert info.folder is not None and (info.folder / entry["file"]).read_bytes() == b"serialized engine bytes"
    (tmp_path / "m.int8.gpu.engine.json").unlink()
    with pytest.raises(BundleError, match="cache manifest"):
        create_bundle(BundleSpec(model=model, version="5", engines=[engine]), key, tmp_path / "f.bundle")


def test_prebuilt_engines_are_placed_where_the_tensorrt_cache_looks(tmp_path, keys, model):
    from edge_sdk.engines.trt.cache import decide
    from edge_sdk.fleet.prebuilt import place_prebuilt

    key, pub = keys
    engine = tmp_path / "m.fp32.gpu.engine"
    engine.write_bytes(b"engine for an Orin NX")
    cache_key = {"schema": 2, "onnx_sha256": "cd" * 32, "tensorrt_version": "10.3.0.30", "cuda_version": "12.6",
                 "precision": "fp32", "dla_core": None, "builder": {}}
    import hashlib

    (tmp_path / "m.fp32.gpu.engine.json").write_text(json.dumps(
        {"key": cache_key, "engine_sha256": hashlib.sha256(engine.read_bytes()).hexdigest()}))
    out = tmp_path / "p.bundle"
    create_bundle(BundleSpec(model=model, version="6", engines=[engine]), key, out)
    info = install_bundle(out, trusted_keys(pub), tmp_path / "bundles")
    assert place_prebuilt(info, "build/engines") == ["model.fp32.gpu.engine"]
    placed = info.folder / "build/engines/model.fp32.gpu.engine"
    assert placed.read_bytes() == b"engine for an Orin NX"
    assert decide(placed, cache_key).reuse  # this device's key: loaded, not built
    other = dict(cache_key, tensorrt_version="10.16.0.1")
    assert not decide(placed, other).reuse  # another TensorRT: rebuilt, never loaded
