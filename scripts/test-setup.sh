#!/usr/bin/env bash
# `make test-setup` (run by `make test`, after `make setup`): what only the tests need, and
# only what is missing: MariaDB (SQL tasks against MySQL), Chromium and CJK fonts (the web
# console's browser tests), Java 17 and PySpark (SPARK tasks), aiosmtpd (alert mail), pgTAP
# (the SQL tests of tests/sql/). Idempotent. Needs root (apt) on a fresh machine.
set -euo pipefail

missing=()
for pkg in python3-venv openjdk-17-jre-headless mariadb-server mariadb-client chromium fonts-noto-cjk \
    postgresql-15-pgtap; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
if ((${#missing[@]})); then
    echo "test-setup: installing ${missing[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi

# spark-submit for the SPARK task type's tests: PySpark (which bundles Spark) in a virtualenv,
# run in local mode on the installed Java 17.
SPARK_VENV=${SCHED_SPARK_VENV:-/opt/sched-spark}
PYSPARK_VERSION=3.5.3
if ! "$SPARK_VENV/bin/python" -c "import pyspark, sys; sys.exit(pyspark.__version__ != '$PYSPARK_VERSION')" 2>/dev/null; then
    echo "test-setup: installing pyspark $PYSPARK_VERSION into $SPARK_VENV"
    python3 -m venv "$SPARK_VENV"
    "$SPARK_VENV/bin/pip" install -q "pyspark==$PYSPARK_VERSION"
fi

# A real SMTP server for the alert tests: aiosmtpd in a virtualenv of its own.
SMTP_VENV=${SCHED_SMTP_VENV:-/opt/sched-smtp}
AIOSMTPD_VERSION=1.4.6
if ! "$SMTP_VENV/bin/python" -c "import aiosmtpd, sys; sys.exit(aiosmtpd.__version__ != '$AIOSMTPD_VERSION')" 2>/dev/null; then
    echo "test-setup: installing aiosmtpd $AIOSMTPD_VERSION into $SMTP_VENV"
    python3 -m venv "$SMTP_VENV"
    "$SMTP_VENV/bin/pip" install -q "aiosmtpd==$AIOSMTPD_VERSION"
fi
