#!/usr/bin/env bash
# The whole test suite, on a fresh Debian machine: installs the system packages the tests
# need (if missing), then format check, clippy, and every test.
set -euo pipefail
cd "$(dirname "$0")/.."

# python3-djangorestframework-spectacular: the OpenAPI 3.0 JSON schema and python3-jsonschema,
# which the OpenAPI document is validated against (tests/it/api.rs).
# faketime: libfaketime, the stepped wall clock of tests/it/clock.rs; python3-venv: the
# virtual environment schemathesis is installed into (below).
PKGS=(fonts-wqy-microhei chromium chromium-driver systemd faketime python3-venv python3-djangorestframework-spectacular)
missing=()
for p in "${PKGS[@]}"; do
  dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y --no-install-recommends "${missing[@]}"
fi

cargo fmt --all -- --check
cargo clippy --all-targets -- -D warnings

# The dependency tree against deny.toml: licences, banned crates, sources (crates.io only).
# Advisories need the advisory database, from outside the registries CI reaches. The
# install is about 250 s of CPU (README, "Dependency checks"), once per machine.
CARGO_DENY_VERSION=0.20.2
if ! cargo deny --version 2>/dev/null | grep -qF "$CARGO_DENY_VERSION"; then
  cargo install --locked cargo-deny --version "$CARGO_DENY_VERSION"
fi
cargo deny check licenses bans sources

# schemathesis, which fuzzes every endpoint against the OpenAPI document (tests/it/api_fuzz.rs),
# from PyPI into a virtual environment under target/ (about 20 s, once per checkout).
SCHEMATHESIS_VERSION=4.32.5
ST_VENV=target/schemathesis-venv
if ! "$ST_VENV/bin/schemathesis" --version 2>/dev/null | grep -qF "version $SCHEMATHESIS_VERSION"; then
  rm -rf "$ST_VENV"
  python3 -m venv "$ST_VENV"
  "$ST_VENV/bin/pip" install --quiet --disable-pip-version-check "schemathesis==$SCHEMATHESIS_VERSION"
fi

cargo test
# The Debian package: built from the binary the tests just built, installed, checked.
bash tests/package.sh
