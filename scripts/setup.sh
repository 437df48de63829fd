#!/usr/bin/env bash
# `make setup`: what building and running pg_sched need, and only what is missing (the tests'
# own tools are scripts/test-setup.sh's). Idempotent. Needs root (apt) on a fresh machine.
set -euo pipefail
PG_CONFIG=${PG_CONFIG:-/usr/lib/postgresql/15/bin/pg_config}
PGRX_VERSION=0.18.0

# python3 runs python tasks; graphviz draws `sched graph --format svg`.
missing=()
for pkg in postgresql-15 postgresql-server-dev-15 clang libclang-dev python3 graphviz; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
if ((${#missing[@]})); then
    echo "setup: installing ${missing[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi

if ! cargo pgrx --version 2>/dev/null | grep -q "$PGRX_VERSION"; then
    echo "setup: installing cargo-pgrx $PGRX_VERSION"
    cargo install cargo-pgrx --version "$PGRX_VERSION" --locked
fi

# A bare `cargo pgrx init` would download PostgreSQL; point it at the system's instead.
config="${PGRX_HOME:-$HOME/.pgrx}/config.toml"
if ! grep -qs "pg15 = \"$PG_CONFIG\"" "$config"; then
    cargo pgrx init --pg15 "$PG_CONFIG"
fi
