#!/usr/bin/env bash
# The Debian package, built and installed: `cargo deb` from the binary the test suite
# built (target/debug), its contents and metadata checked, installed on this machine with
# dpkg -i (CI runs as root on a throwaway machine), the installed config passing
# check-config, the unit passing `systemd-analyze verify` and an exposure of at most 1.5,
# then removed again. Run by tests/run-all.sh after `cargo test`.
set -euo pipefail
cd "$(dirname "$0")/.."

fail() { echo "package test: $*" >&2; exit 1; }

command -v cargo-deb >/dev/null || cargo install cargo-deb --locked --version 3.8.0
[ -x target/debug/returnsd ] || cargo build --bin returnsd
deb=target/debian/returnsd-test.deb
rm -f "$deb"
cargo deb --quiet --profile dev --no-build --no-strip --output "$deb" 2>&1 \
  | grep -v "dev profile is not supported\|To enable debug symbols\|license field" || true
[ -f "$deb" ] || fail "cargo deb made no package"

contents=$(dpkg-deb --contents "$deb" | awk '{print $1, $6}')
for want in \
  "-rwxr-xr-x ./usr/bin/returnsd" \
  "-rw-r--r-- ./lib/systemd/system/returnsd.service" \
  "-rw-r--r-- ./usr/lib/sysusers.d/returnsd.conf" \
  "-rw-r--r-- ./usr/lib/tmpfiles.d/returnsd.conf" \
  "-rw-r--r-- ./lib/udev/rules.d/99-returnsd.rules" \
  "-rw-r----- ./etc/returnsd/station.toml" \
  "-rw-r--r-- ./usr/share/returnsd/labels/return_label.toml" \
  "-rw-r--r-- ./usr/share/returnsd/printers/zebra-zpl-203.toml" \
  "-rw-r--r-- ./usr/share/returnsd/scanners/honeywell-serial.toml" \
  "-rw-r--r-- ./usr/share/doc/returnsd/README.md" \
  "-rw-r--r-- ./usr/share/doc/returnsd/sync-protocol.md" \
  "-rw-r--r-- ./usr/share/doc/returnsd/station.example.toml"; do
  grep -qxF -- "$want" <<<"$contents" || fail "missing from the package: $want"
done
dpkg-deb --field "$deb" Depends | grep -q "fonts-wqy-microhei" || fail "no CJK font dependency"
dpkg-deb --field "$deb" Conffiles 2>/dev/null | grep -q "/etc/returnsd/station.toml" \
  || dpkg-deb --info "$deb" conffiles | grep -qx "/etc/returnsd/station.toml" \
  || fail "station.toml is not a conffile"

dpkg -i "$deb" >/dev/null
trap 'dpkg --purge returnsd >/dev/null 2>&1 || true' EXIT
getent passwd returnsd >/dev/null || fail "no returnsd user after install"
[ "$(stat -c %G /etc/returnsd/station.toml)" = returnsd ] || fail "the config is not readable by the daemon's group"
/usr/bin/returnsd --config /etc/returnsd/station.toml check-config \
  || fail "the installed config does not pass check-config"
systemd-analyze verify /lib/systemd/system/returnsd.service || fail "systemd-analyze verify"
# --threshold counts tenths: 15 is an exposure of 1.5.
systemd-analyze security --offline=yes --threshold=15 /lib/systemd/system/returnsd.service \
  | tail -1 || fail "the unit's exposure is over 1.5"
echo "package test: OK ($(du -h "$deb" | cut -f1) package installed, checked, removed)"
