#!/usr/bin/env bash
# Idempotent: installs only what is missing. Needs root (apt) on a fresh machine.
set -euo pipefail
PG_CONFIG=${PG_CONFIG:-/usr/lib/postgresql/15/bin/pg_config}
PGRX_VERSION=0.18.0

missing=()
for pkg in postgresql-15 postgresql-server-dev-15 clang libclang-dev python3 python3-venv openjdk-17-jre-headless mariadb-server mariadb-client graphviz chromium fonts-noto-cjk; do
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

# spark-submit for the SPARK task type's tests: PySpark (which bundles Spark) in a virtualenv,
# run in local mode on the installed Java 17.
SPARK_VENV=${SCHED_SPARK_VENV:-/opt/sched-spark}
PYSPARK_VERSION=3.5.3
if ! "$SPARK_VENV/bin/python" -c "import pyspark, sys; sys.exit(pyspark.__version__ != '$PYSPARK_VERSION')" 2>/dev/null; then
    echo "setup: installing pyspark $PYSPARK_VERSION into $SPARK_VENV"
    python3 -m venv "$SPARK_VENV"
    "$SPARK_VENV/bin/pip" install -q "pyspark==$PYSPARK_VERSION"
fi

# A real SMTP server for the alert tests: aiosmtpd in a virtualenv of its own.
SMTP_VENV=${SCHED_SMTP_VENV:-/opt/sched-smtp}
AIOSMTPD_VERSION=1.4.6
if ! "$SMTP_VENV/bin/python" -c "import aiosmtpd, sys; sys.exit(aiosmtpd.__version__ != '$AIOSMTPD_VERSION')" 2>/dev/null; then
    echo "setup: installing aiosmtpd $AIOSMTPD_VERSION into $SMTP_VENV"
    python3 -m venv "$SMTP_VENV"
    "$SMTP_VENV/bin/pip" install -q "aiosmtpd==$AIOSMTPD_VERSION"
fi
