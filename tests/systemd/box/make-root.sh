#!/usr/bin/env bash
# Makes (once) a Debian 12 root file system with systemd, for booting systemd as PID 1 in a namespace.
# Usage: make-root.sh [DIR] [EXTRA_PACKAGES...]   (DIR default /var/cache/edge-sdk/systemd-box/root; root needed)
# Reused when DIR/.systemd-box-ready exists; takes a minute or two the first time (Debian's packages).
# Copied from ../shared/systemd-box (CI's clean clone has no ../shared); edge-sdk's own package list.
set -euo pipefail
dir=${1:-/var/cache/edge-sdk/systemd-box/root}; shift || true
if [ -f "$dir/.systemd-box-ready" ]; then echo "$dir"; exit 0; fi
mkdir -p "$(dirname "$dir")"
exec 9>"$dir.lock"; flock 9  # two test runs at once: one makes it, the other waits and reuses it
if [ -f "$dir/.systemd-box-ready" ]; then echo "$dir"; exit 0; fi
command -v debootstrap >/dev/null || { apt-get update -qq; DEBIAN_FRONTEND=noninteractive apt-get install -y -qq debootstrap >/dev/null; }
rm -rf "$dir"; mkdir -p "$dir"
# libgl1, libglib2.0-0: what PyPI's opencv-python loads (a Debian desktop or server with X libraries has them)
pkgs=systemd,systemd-sysv,dbus,ca-certificates,python3,python3-venv,procps,libgl1,libglib2.0-0
[ $# -gt 0 ] && pkgs="$pkgs,$(IFS=,; echo "$*")"
debootstrap --variant=minbase --include="$pkgs" bookworm "$dir" >"$dir.log" 2>&1 \
  || { echo "debootstrap failed, see $dir.log" >&2; exit 1; }
# no getty on a console that does not exist; no network management (the host's network is shared)
chroot "$dir" systemctl mask getty.target console-getty.service getty@tty1.service serial-getty@ttyS0.service systemd-networkd.service \
  systemd-resolved.service systemd-timesyncd.service >/dev/null 2>&1 || true
cp /etc/resolv.conf "$dir/etc/resolv.conf" 2>/dev/null || true
touch "$dir/.systemd-box-ready"
echo "$dir"
