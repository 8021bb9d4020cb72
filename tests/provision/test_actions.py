"""The idempotent install actions on real files: content, mode and owner are compared, and only what
differs is changed; writes are atomic (no temp files left behind)."""

from __future__ import annotations

import grp
import os
import pwd
from pathlib import Path

import pytest

from edge_sdk.provision.actions import Owner, ensure_dir, install_copy, install_text, run_command


def _other_owner() -> Owner:
    for user, group in (("nobody", "nogroup"), ("nobody", "nobody"), ("daemon", "daemon")):
        try:
            pwd.getpwnam(user)
            grp.getgrnam(group)
            return Owner(user, group)
        except KeyError:
            continue
    pytest.skip("no unprivileged user/group to chown to")


def test_install_text_compares_content_mode_and_owner(tmp_path: Path) -> None:
    target = tmp_path / "etc" / "app.yaml"
    assert install_text("config", target, "a: 1\n", 0o640, None, dry_run=True).status == "would change"
    assert not target.exists()
    assert install_text("config", target, "a: 1\n", 0o640, None, dry_run=False).status == "changed"
    assert target.read_text() == "a: 1\n" and target.stat().st_mode & 0o7777 == 0o640
    assert install_text("config", target, "a: 1\n", 0o640, None, dry_run=False).status == "unchanged"
    target.chmod(0o644)
    r = install_text("config", target, "a: 1\n", 0o640, None, dry_run=False)
    assert r.status == "changed" and "mode 0644 -> 0640" in r.detail
    assert install_text("config", target, "a: 2\n", 0o640, None, dry_run=False).status == "changed"
    assert target.read_text() == "a: 2\n"
    assert [p.name for p in target.parent.iterdir()] == ["app.yaml"], "no temp files left behind"


@pytest.mark.skipif(os.geteuid() != 0, reason="chown needs root")
def test_owner_is_part_of_the_comparison(tmp_path: Path) -> None:
    owner = _other_owner()
    uid, gid = owner.ids() or (None, None)
    target = tmp_path / "secret"
    assert install_text("secret", target, "pw\n", 0o600, owner, dry_run=False).status == "changed"
    assert (target.stat().st_uid, target.stat().st_gid) == (uid, gid)
    assert install_text("secret", target, "pw\n", 0o600, owner, dry_run=False).status == "unchanged"
    os.chown(target, 0, 0)
    r = install_text("secret", target, "pw\n", 0o600, owner, dry_run=False)
    assert r.status == "changed" and "owner" in r.detail
    assert (target.stat().st_uid, target.stat().st_gid) == (uid, gid)
    d = tmp_path / "state"
    assert ensure_dir("dir", d, 0o750, owner, dry_run=False).status == "changed"
    assert ensure_dir("dir", d, 0o750, owner, dry_run=False).status == "unchanged"


def test_install_copy_and_missing_owner(tmp_path: Path) -> None:
    src = tmp_path / "model.onnx"
    src.write_bytes(b"\x00onnx" * 1000)
    dst = tmp_path / "lib" / "model.onnx"
    ghost = Owner("edge-sdk-no-such-user", "edge-sdk-no-such-group")
    r = install_copy("model", dst, src, 0o640, ghost, dry_run=False)
    assert r.status == "changed" and dst.read_bytes() == src.read_bytes()
    again = install_copy("model", dst, src, 0o640, ghost, dry_run=False)
    assert again.status == "unchanged" and "no such user" in again.detail


def test_run_command_reports_failures_as_values() -> None:
    assert run_command("x", ["false"], dry_run=False).status == "failed"
    assert run_command("x", ["true"], dry_run=False).status == "changed"
    assert run_command("x", ["definitely-not-a-command-xyz"], dry_run=False).status == "failed"
    assert run_command("x", ["rm", "-rf", "/nonexistent"], dry_run=True).status == "would change"


@pytest.mark.skipif(os.geteuid() != 0, reason="chown needs root")
def test_own_tree_gives_build_outputs_to_the_service_user(tmp_path: Path) -> None:
    from edge_sdk.provision.actions import own_tree

    owner = _other_owner()
    build = tmp_path / "build"
    (build / "det").mkdir(parents=True)
    (build / "det" / "model.int8.onnx").write_bytes(b"x")
    r = own_tree("owner build", build, owner, dry_run=False)
    assert r.status == "changed" and "3 entries" in r.detail
    assert (build / "det" / "model.int8.onnx").stat().st_uid == (owner.ids() or (0, 0))[0]
    assert own_tree("owner build", build, owner, dry_run=False).status == "unchanged"
    assert own_tree("owner build", tmp_path / "missing", owner, dry_run=False).status == "unchanged"
