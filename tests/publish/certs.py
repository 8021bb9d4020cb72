"""Test PKI made with the openssl CLI: a CA, server certificates (good, wrong name, expired), a client
certificate, and an unrelated CA. EC P-256 keys, so it takes a fraction of a second."""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

_CA_CNF = """[ ca ]
default_ca = test_ca
[ test_ca ]
dir = {d}
database = {d}/index.txt
new_certs_dir = {d}/newcerts
serial = {d}/serial
default_md = sha256
policy = policy_any
unique_subject = no
[ policy_any ]
commonName = supplied
"""


@dataclass(frozen=True)
class Pki:
    ca: Path
    server_cert: Path
    server_key: Path
    client_cert: Path
    client_key: Path
    other_ca: Path  # signed nothing we use
    wrong_name_cert: Path  # for broker.example only
    expired_cert: Path  # valid 2020-01-01..2020-01-02


def _openssl(*args: str, cwd: Path) -> None:
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True)


def _key(name: str, d: Path) -> Path:
    _openssl("genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", f"{name}.key", cwd=d)
    return d / f"{name}.key"


def _ca(name: str, d: Path) -> Path:
    _key(name, d)
    _openssl("req", "-x509", "-new", "-key", f"{name}.key", "-out", f"{name}.pem", "-days", "3", "-subj",
             f"/CN=edge-sdk test {name}", "-addext", "basicConstraints=critical,CA:TRUE",
             "-addext", "keyUsage=critical,keyCertSign,cRLSign", cwd=d)
    return d / f"{name}.pem"


def _leaf(name: str, d: Path, san: str, usage: str, *, expired: bool = False) -> tuple[Path, Path]:
    _key(name, d)
    _openssl("req", "-new", "-key", f"{name}.key", "-out", f"{name}.csr", "-subj", f"/CN={name}", cwd=d)
    (d / f"{name}.ext").write_text(f"basicConstraints=CA:FALSE\nextendedKeyUsage={usage}\n"
                                   + (f"subjectAltName={san}\n" if san else ""))
    if expired:
        _openssl("ca", "-batch", "-config", "ca.cnf", "-cert", "ca.pem", "-keyfile", "ca.key", "-in", f"{name}.csr",
                 "-out", f"{name}.pem", "-startdate", "20200101000000Z", "-enddate", "20200102000000Z",
                 "-extfile", f"{name}.ext", "-notext", cwd=d)
    else:
        _openssl("x509", "-req", "-in", f"{name}.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial",
                 "-out", f"{name}.pem", "-days", "2", "-sha256", "-extfile", f"{name}.ext", cwd=d)
    return d / f"{name}.pem", d / f"{name}.key"


def make_pki(d: Path) -> Pki:
    if shutil.which("openssl") is None:
        raise RuntimeError("openssl is not installed (apt-get install openssl)")
    d.mkdir(parents=True, exist_ok=True)
    (d / "newcerts").mkdir(exist_ok=True)
    (d / "index.txt").write_text("")
    (d / "serial").write_text("1000\n")
    (d / "ca.cnf").write_text(_CA_CNF.format(d=d))
    ca = _ca("ca", d)
    other = _ca("other-ca", d)
    server, server_key = _leaf("server", d, "IP:127.0.0.1,DNS:localhost", "serverAuth")
    client, client_key = _leaf("client", d, "", "clientAuth")
    wrong, _ = _leaf("wrong-name", d, "DNS:broker.example", "serverAuth")
    expired, _ = _leaf("expired", d, "IP:127.0.0.1,DNS:localhost", "serverAuth", expired=True)
    return Pki(ca, server, server_key, client, client_key, other, wrong, expired)
