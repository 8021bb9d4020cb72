"""Ed25519 keys for model bundles, through `cryptography` (no home-made crypto).

A signing key is a PKCS#8 PEM file (`edge-sdk bundle keygen` writes it 0600, with its public key beside it);
a device trusts the public keys (PEM, `*.pub`) in its trusted-keys folder, put there at provision. A key is
named by its id: the first 16 hex digits of the sha256 of its raw 32 public bytes, which the manifest records
so a device with several trusted keys knows which one to check against.

Traps: a private key never leaves the machine that signs; it is never logged or printed. A trusted-keys
folder that is writable by the service user would let a compromised service trust its own keys: provision
installs it root-owned.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from edge_sdk.atomic import write_bytes_atomic
from edge_sdk.errors import BundleError

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

PUBLIC_SUFFIX = ".pub"


@dataclass(frozen=True)
class TrustedKey:
    key_id: str
    path: Path
    key: Ed25519PublicKey


def key_id(public: Ed25519PublicKey) -> str:
    from cryptography.hazmat.primitives import serialization

    raw = public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()[:16]


def generate(private_path: Path, *, overwrite: bool = False) -> tuple[Path, str]:
    """Write a new signing key (0600) and its public key (`<name>.pub`, 0644); returns (public path, key id)."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    public_path = private_path.with_name(private_path.name + PUBLIC_SUFFIX)
    for p in (private_path, public_path):
        if p.exists() and not overwrite:
            raise BundleError("the key file exists already; not overwriting a signing key", where=str(p),
                              fix="choose another --out, or delete the old key if it is really unused")
    private = Ed25519PrivateKey.generate()
    pem = private.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
    pub = private.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    write_bytes_atomic(private_path, pem, perms=0o600)
    write_bytes_atomic(public_path, pub)
    return public_path, key_id(private.public_key())


def load_private(path: Path) -> Ed25519PrivateKey:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    try:
        key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    except FileNotFoundError:
        raise BundleError("signing key not found", where=str(path), fix="edge-sdk bundle keygen --out KEY") from None
    except (ValueError, TypeError) as exc:
        raise BundleError(f"not an unencrypted PEM private key ({exc})", where=str(path),
                          fix="give the key written by `edge-sdk bundle keygen`") from None
    if not isinstance(key, Ed25519PrivateKey):
        raise BundleError(f"the signing key is {type(key).__name__}, not Ed25519", where=str(path),
                          fix="bundles are signed with Ed25519: edge-sdk bundle keygen --out KEY")
    return key


def load_public(path: Path) -> TrustedKey:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    try:
        key = serialization.load_pem_public_key(path.read_bytes())
    except OSError as exc:
        raise BundleError(f"cannot read the public key: {exc.strerror}", where=str(path)) from None
    except ValueError as exc:
        raise BundleError(f"not a PEM public key ({exc})", where=str(path),
                          fix="give the .pub file written by `edge-sdk bundle keygen`") from None
    if not isinstance(key, Ed25519PublicKey):
        raise BundleError(f"the public key is {type(key).__name__}, not Ed25519", where=str(path))
    return TrustedKey(key_id(key), path, key)


def trusted_keys(location: Path) -> list[TrustedKey]:
    """The public keys in a folder (`*.pub`) or one file. An empty or missing folder trusts nothing."""
    if location.is_file():
        return [load_public(location)]
    if not location.is_dir():
        return []
    return [load_public(p) for p in sorted(location.glob(f"*{PUBLIC_SUFFIX}"))]
