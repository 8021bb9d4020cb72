"""Model bundles: one signed tar file that carries a model to a fleet.

    model.onnx            the FP32 ONNX model
    classes.json          {"0": "person", ...} (from the model's `names` metadata or --classes)
    build.json            build settings: precision, and the decode/build sections of an app config if given
    engines/<n>.engine    optional prebuilt TensorRT engines, each with its cache manifest (<n>.engine.json),
                          keyed by the engine cache key (edge_sdk/engines/trt/key.py: board, JetPack/L4T, TensorRT,
                          CUDA, compute capability, ...): `engines[].target` and `engines[].key_digest`
    manifest.json         name, version, every file's sha256 and size, the signing key's id
    manifest.sig          Ed25519 signature of manifest.json's exact bytes (base64)

Reading is strict, in this order, and a failure anywhere means nothing was installed: every tar member is a
regular file with a plain relative name; the signature verifies against a trusted key; the members are
exactly the manifest's files; each file's sha256 matches while it is copied out. Files are extracted into a
staging folder that is renamed into place only when all of that holds.

    create_bundle(BundleSpec(model=..., version="2.1"), key_path, out_path)
    info = verify_bundle(path, trusted_keys(folder))                 # nothing written
    info = install_bundle(path, trusted_keys(folder), dest_root)     # extracted to dest_root/<version>-<sha8>/
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import shutil
import tarfile
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path, PurePosixPath
from typing import IO, Any

from edge_sdk.atomic import atomic_open, fsync_dir
from edge_sdk.errors import BundleError
from edge_sdk.fleet.keys import TrustedKey, key_id, load_private

SCHEMA = 1
MANIFEST = "manifest.json"
SIGNATURE = "manifest.sig"
MODEL = "model.onnx"
CLASSES = "classes.json"
BUILD = "build.json"
MAX_MANIFEST_BYTES = 1 << 20


@dataclass(frozen=True)
class BundleSpec:
    model: Path
    version: str
    name: str | None = None  # default: the model file's stem
    classes: dict[int, str] | None = None  # default: the model's `names` metadata
    build: dict[str, Any] = field(default_factory=lambda: {"precision": "fp32"})
    engines: Sequence[Path] = ()  # TensorRT engines, each with its `.json` cache manifest beside it


@dataclass(frozen=True)
class BundleInfo:
    """A verified bundle. `folder` is set once it is installed."""

    name: str
    version: str
    sha256: str  # of the bundle file itself
    key_id: str
    precision: str
    classes: dict[int, str]
    build: dict[str, Any]
    engines: list[dict[str, Any]]
    files: dict[str, dict[str, Any]]
    folder: Path | None = None

    @property
    def model_path(self) -> Path:
        if self.folder is None:
            raise ValueError("the bundle is verified but not installed")
        return self.folder / MODEL

    def as_dict(self) -> dict[str, Any]:
        return {"name": self.name, "version": self.version, "sha256": self.sha256, "key_id": self.key_id,
                "precision": self.precision, "classes": {str(k): v for k, v in self.classes.items()},
                "build": self.build, "engines": self.engines, "files": self.files,
                "folder": str(self.folder) if self.folder else None}


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        while block := f.read(1 << 20):
            h.update(block)
    return h.hexdigest()


# -- making one ------------------------------------------------------------------------------------------
def _model_classes(model: Path) -> dict[int, str]:
    from edge_sdk.engines.model_info import read_metadata

    return dict(read_metadata(model).names)


def _engine_entries(engines: Sequence[Path]) -> list[tuple[str, Path, str, Path, dict[str, Any]]]:
    out = []
    for i, engine in enumerate(engines):
        manifest_path = engine.with_name(engine.name + ".json")
        if not engine.is_file() or not manifest_path.is_file():
            raise BundleError("a prebuilt engine needs its cache manifest (<engine>.json) beside it", where=str(engine),
                              fix="bundle engines built by edge-sdk (edge-sdk build / provision), which write both")
        from edge_sdk.engines.trt.key import key_digest, key_target

        key = json.loads(manifest_path.read_text(encoding="utf-8")).get("key", {})
        if not isinstance(key, dict) or not key.get("tensorrt_version"):
            raise BundleError("the engine's cache manifest has no key (TensorRT version, CUDA, board, JetPack)",
                              where=str(manifest_path), fix="rebuild the engine with edge-sdk build")
        # the device matches the full key (engines/trt/key.py); the target is repeated for people and fleet tools
        entry = {"target": key_target(key).as_dict(), "key_digest": key_digest(key)}
        name = f"engines/{i}-{engine.name}"
        out.append((name, engine, name + ".json", manifest_path, entry))
    return out


def create_bundle(spec: BundleSpec, signing_key: Path, out: Path) -> BundleInfo:
    """Write the signed bundle `out` (atomically); returns what it holds."""
    if not spec.model.is_file():
        raise BundleError("model file not found", where=str(spec.model), fix="give --model path/to/model.onnx")
    if not spec.version.strip() or any(c in spec.version for c in "/\\ \n"):
        raise BundleError(f"version {spec.version!r} must be non-empty, without spaces or slashes", fix="e.g. --version 2.1")
    private = load_private(signing_key)
    names = _model_classes(spec.model)
    classes = spec.classes if spec.classes is not None else names
    if spec.classes is not None and names and names != spec.classes:
        raise BundleError("the class names given differ from those in the model's metadata", where=str(spec.model),
                          fix="drop --classes (the model's names are used), or export the model with the right names")
    if not classes:
        raise BundleError("the model names no classes and none were given", where=str(spec.model),
                          fix="give --classes FILE (one name per line, in class id order)")
    blobs: dict[str, bytes | Path] = {
        MODEL: spec.model,
        CLASSES: json.dumps({str(k): v for k, v in sorted(classes.items())}, indent=1).encode(),
        BUILD: json.dumps(spec.build, indent=1, sort_keys=True).encode(),
    }
    engines = []
    for name, engine, mname, manifest_path, key in _engine_entries(spec.engines):
        blobs[name], blobs[mname] = engine, manifest_path
        engines.append({"file": name, "manifest": mname, **key})
    files = {}
    for name, blob in blobs.items():
        data_sha = hashlib.sha256(blob).hexdigest() if isinstance(blob, bytes) else sha256_file(blob)
        size = len(blob) if isinstance(blob, bytes) else blob.stat().st_size
        files[name] = {"sha256": data_sha, "bytes": size}
    manifest = {"schema": SCHEMA, "type": "edge-sdk-model-bundle", "name": spec.name or spec.model.stem,
                "version": spec.version, "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                "precision": str(spec.build.get("precision", "fp32")), "model": MODEL, "classes": CLASSES,
                "build": BUILD, "engines": engines, "files": files, "key_id": key_id(private.public_key())}
    manifest_bytes = json.dumps(manifest, indent=1, sort_keys=True).encode()
    signature = base64.b64encode(private.sign(manifest_bytes)) + b"\n"
    with atomic_open(out, "wb") as f, tarfile.open(fileobj=f, mode="w", format=tarfile.PAX_FORMAT) as tar:
        _add(tar, MANIFEST, manifest_bytes)
        _add(tar, SIGNATURE, signature)
        for name, blob in blobs.items():
            if isinstance(blob, bytes):
                _add(tar, name, blob)
            else:
                with blob.open("rb") as src:
                    _add(tar, name, src, blob.stat().st_size)
    return _info(manifest, sha256_file(out), dict(classes), dict(spec.build))


def _add(tar: tarfile.TarFile, name: str, data: bytes | IO[bytes], size: int | None = None) -> None:
    info = tarfile.TarInfo(name)
    info.mode, info.mtime = 0o644, 0
    if isinstance(data, bytes):
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
    else:
        info.size = int(size or 0)
        tar.addfile(info, data)


# -- reading one -----------------------------------------------------------------------------------------
def verify_bundle(path: Path, trusted: Sequence[TrustedKey], *, max_bytes: int = 4 << 30) -> BundleInfo:
    """Check `path` completely (signature, file list, every sha256) without keeping anything."""
    with tempfile.TemporaryDirectory(prefix=".bundle-verify-") as tmp:
        return _read(path, trusted, Path(tmp) / "x", max_bytes, keep=False)


def install_bundle(path: Path, trusted: Sequence[TrustedKey], dest_root: Path, *, max_bytes: int = 4 << 30) -> BundleInfo:
    """Verify and extract into `dest_root/<version>-<sha8>/` (reused if it is there and intact)."""
    bundle_sha = sha256_file(path)
    dest_root.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=".bundle-staging-", dir=dest_root) as tmp:
        staging = Path(tmp) / "bundle"
        info = _read(path, trusted, staging, max_bytes, keep=True, bundle_sha=bundle_sha)
        target = dest_root / f"{_safe(info.version)}-{bundle_sha[:8]}"
        if target.exists():
            shutil.rmtree(target)  # an earlier, maybe partial copy of the same bundle: the verified one wins
        staging.rename(target)
        fsync_dir(dest_root)
    return replace(info, folder=target)


def _safe(text: str) -> str:
    return "".join(c if c.isalnum() or c in "._-" else "_" for c in text)[:64]


def _member_name(member: tarfile.TarInfo, where: str) -> str:
    name = member.name
    pure = PurePosixPath(name)
    if not member.isreg() or pure.is_absolute() or ".." in pure.parts or name != str(pure) or name.startswith("./"):
        raise BundleError(f"refused: the bundle holds {name!r}, which is not a plain file inside the bundle "
                          "(links, folders, absolute or '..' paths are never extracted)", where=where,
                          fix="make bundles with `edge-sdk bundle create`")
    return name


def _read(path: Path, trusted: Sequence[TrustedKey], out: Path, max_bytes: int, *, keep: bool,
          bundle_sha: str | None = None) -> BundleInfo:
    where = str(path)
    try:
        tar = tarfile.open(path, mode="r:*")  # noqa: SIM115 (closed by the `with tar` below)
    except FileNotFoundError:
        raise BundleError("bundle not found", where=where) from None
    except (tarfile.TarError, OSError) as exc:
        raise BundleError(f"refused: not a bundle (not a readable tar file: {exc})", where=where) from None
    with tar:
        try:
            members = tar.getmembers()
        except (tarfile.TarError, OSError, EOFError) as exc:
            raise BundleError(f"refused: the bundle is truncated or damaged ({exc})", where=where) from None
        by_name: dict[str, tarfile.TarInfo] = {}
        for m in members:
            name = _member_name(m, where)
            if name in by_name:
                raise BundleError(f"refused: {name} appears twice in the bundle", where=where)
            by_name[name] = m
        if sum(m.size for m in members) > max_bytes:
            raise BundleError(f"refused: the bundle unpacks to more than {max_bytes >> 20} MiB", where=where)
        manifest_bytes = _small(tar, by_name, MANIFEST, where)
        signature = _small(tar, by_name, SIGNATURE, where, missing="refused: the bundle is not signed (no manifest.sig)")
        manifest = _verified_manifest(manifest_bytes, signature, trusted, where)
        files: dict[str, dict[str, Any]] = manifest["files"]
        listed = set(files) | {MANIFEST, SIGNATURE}
        extra, absent = sorted(set(by_name) - listed), sorted(listed - set(by_name))
        if extra or absent:
            raise BundleError("refused: the bundle's files differ from its signed manifest "
                              f"(not listed: {', '.join(extra) or '-'}; missing: {', '.join(absent) or '-'})", where=where)
        out.mkdir(parents=True)
        for name, entry in files.items():
            _copy_checked(tar, by_name[name], out / name, entry, where)
    try:
        classes = {int(k): str(v) for k, v in json.loads((out / CLASSES).read_text(encoding="utf-8")).items()}
        build = json.loads((out / BUILD).read_text(encoding="utf-8"))
    except (OSError, ValueError, AttributeError) as exc:
        raise BundleError(f"refused: unreadable {CLASSES} or {BUILD} ({exc})", where=where) from None
    return _info(manifest, bundle_sha or sha256_file(path), classes, build)


def _small(tar: tarfile.TarFile, by_name: dict[str, tarfile.TarInfo], name: str, where: str,
           missing: str | None = None) -> bytes:
    member = by_name.get(name)
    if member is None:
        raise BundleError(missing or f"refused: the bundle has no {name}", where=where)
    if member.size > MAX_MANIFEST_BYTES:
        raise BundleError(f"refused: {name} is larger than {MAX_MANIFEST_BYTES} bytes", where=where)
    f = tar.extractfile(member)
    if f is None:
        raise BundleError(f"refused: cannot read {name}", where=where)
    return f.read()


def _verified_manifest(manifest_bytes: bytes, signature: bytes, trusted: Sequence[TrustedKey], where: str) -> dict[str, Any]:
    from cryptography.exceptions import InvalidSignature

    try:
        manifest = json.loads(manifest_bytes)
        sig = base64.b64decode(signature.strip(), validate=True)
    except ValueError as exc:
        raise BundleError(f"refused: unreadable manifest or signature ({exc})", where=where) from None
    if not isinstance(manifest, dict) or manifest.get("type") != "edge-sdk-model-bundle":
        raise BundleError("refused: manifest.json is not an edge-sdk model bundle manifest", where=where)
    if int(manifest.get("schema", 0)) > SCHEMA:
        raise BundleError(f"refused: bundle schema {manifest.get('schema')} is newer than this edge-sdk's {SCHEMA}",
                          where=where, fix="update edge-sdk on the device first")
    wanted = str(manifest.get("key_id", ""))
    if not trusted:
        raise BundleError("refused: this device trusts no bundle signing key", where=where,
                          fix="install the fleet's public key (edge-sdk provision --trust-key KEY.pub)")
    keys = [k for k in trusted if k.key_id == wanted] or list(trusted)
    for k in keys:
        try:
            k.key.verify(sig, manifest_bytes)
        except InvalidSignature:
            continue
        if not isinstance(manifest.get("files"), dict) or MODEL not in manifest["files"]:
            raise BundleError("refused: the signed manifest lists no model.onnx", where=where)
        return manifest
    known = ", ".join(k.key_id for k in trusted)
    if not any(k.key_id == wanted for k in trusted):
        raise BundleError(f"refused: signed by key {wanted or '(none named)'}, which this device does not trust "
                          f"(trusted: {known})", where=where, fix="sign with the fleet's key, or trust its public key")
    raise BundleError(f"refused: the signature of manifest.json does not verify with key {wanted}: the manifest was "
                      "changed after signing, or the signature is not its own", where=where,
                      fix="rebuild the bundle with `edge-sdk bundle create` from the original files")


def _copy_checked(tar: tarfile.TarFile, member: tarfile.TarInfo, dest: Path, entry: dict[str, Any], where: str) -> None:
    src = tar.extractfile(member)
    if src is None:
        raise BundleError(f"refused: cannot read {member.name}", where=where)
    dest.parent.mkdir(parents=True, exist_ok=True)
    h = hashlib.sha256()
    with dest.open("wb") as f:
        while block := src.read(1 << 20):
            h.update(block)
            f.write(block)
    if h.hexdigest() != entry.get("sha256") or member.size != entry.get("bytes"):
        raise BundleError(f"refused: {member.name} does not match the signed manifest (sha256 {h.hexdigest()[:16]}..., "
                          f"expected {str(entry.get('sha256'))[:16]}...): the bundle was tampered with or damaged",
                          where=where, fix="fetch the bundle again from its source; if it repeats, rebuild it")


def _info(manifest: dict[str, Any], bundle_sha: str, classes: dict[int, str], build: dict[str, Any]) -> BundleInfo:
    return BundleInfo(name=str(manifest["name"]), version=str(manifest["version"]), sha256=bundle_sha,
                      key_id=str(manifest["key_id"]), precision=str(manifest.get("precision", "fp32")),
                      classes=classes, build=build, engines=list(manifest.get("engines", [])),
                      files=dict(manifest["files"]))

