"""Fetching a bundle named by a desired-state message: a URL (http://, https://, file://) or a file path,
checked against the sha256 the message gives before anything else looks at it."""

from __future__ import annotations

import urllib.parse
import urllib.request
from pathlib import Path

from edge_sdk.atomic import atomic_open
from edge_sdk.errors import BundleError
from edge_sdk.fleet.bundle import sha256_file


def fetch_bundle(source: str, sha256: str, dest_dir: Path, *, timeout_s: float, max_bytes: int) -> Path:
    """The bundle as a local file whose sha256 is `sha256` (downloaded into `dest_dir`, or the path itself)."""
    scheme = urllib.parse.urlsplit(source).scheme
    if scheme in ("http", "https"):
        path = _download(source, dest_dir / f"{sha256}.bundle", timeout_s, max_bytes)
    else:
        path = Path(urllib.parse.urlsplit(source).path if scheme == "file" else source)
        if not path.is_file():
            raise BundleError("the bundle file does not exist on this device", where=source,
                              fix="give a path the device can read, or an http:// URL")
        if path.stat().st_size > max_bytes:
            raise BundleError(f"refused: the bundle is larger than {max_bytes >> 20} MiB", where=source)
    digest = sha256_file(path)
    if digest != sha256.lower():
        if scheme in ("http", "https"):
            path.unlink(missing_ok=True)
        raise BundleError(f"refused: the bundle's sha256 is {digest}, the desired state names {sha256}", where=source,
                          fix="publish the sha256 of the exact bundle file (edge-sdk bundle create prints it)")
    return path


def _download(url: str, dest: Path, timeout_s: float, max_bytes: int) -> Path:
    try:
        with urllib.request.urlopen(url, timeout=timeout_s) as resp, atomic_open(dest, "wb") as out:
            copied = 0
            while block := resp.read(1 << 20):
                copied += len(block)
                if copied > max_bytes:
                    raise BundleError(f"refused: the download exceeds {max_bytes >> 20} MiB", where=url)
                out.write(block)
    except BundleError:
        raise
    except (OSError, ValueError) as exc:  # URLError, HTTPError, timeouts
        raise BundleError(f"cannot download the bundle: {exc}", where=url,
                          fix="check that the bundle server is reachable from the device") from None
    return dest

