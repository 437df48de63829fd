#!/usr/bin/env bash
# The install script of the version in Cargo.toml, as `cargo pgrx schema` generates it, kept in
# sql/releases/pg_sched--VERSION.sql: `make release-sql` writes it when a release is cut, and
# `make test` (this script with --check) fails while the kept script and the generated one
# differ, so a released version's SQL cannot change under it: a change goes into the next
# version, with its upgrade script. pgrx writes the build directory's absolute path into
# location comments; those are cut to the file name, so that any clone generates the same text.
set -euo pipefail
cd "$(dirname "$0")/.."
PG_CONFIG=${PG_CONFIG:-/usr/lib/postgresql/15/bin/pg_config}
version=$(sed -n 's/^version = "\(.*\)"$/\1/p' Cargo.toml | head -n 1)
kept=sql/releases/pg_sched--$version.sql
generated=$(mktemp)
trap 'rm -f "$generated"' EXIT
cargo pgrx schema --release -p pg_sched --pg-config "$PG_CONFIG" -o "$generated.raw" >/dev/null 2>&1 ||
    cargo pgrx schema --release -p pg_sched --pg-config "$PG_CONFIG" -o "$generated.raw"
sed -E 's#^-- /.*/out/sql_files\.rs:([0-9]+)$#-- sql_files.rs:\1#' "$generated.raw" >"$generated"
rm -f "$generated.raw"
if [ "${1:-}" = --check ]; then
    if ! [ -f "$kept" ]; then
        echo "$kept is missing: the install script of version $version is kept in the repository;" \
            "write it with \`make release-sql\`" >&2
        exit 1
    fi
    if ! diff -u "$kept" "$generated" >&2; then
        echo "the SQL of version $version changed after it was kept in $kept (diff above):" \
            "a released version does not change; put the change into the next version" \
            "(Cargo.toml, its upgrade script sql/releases/pg_sched--$version--NEXT.sql, CHANGELOG.md)" \
            "and keep that version's script with \`make release-sql\`" >&2
        exit 1
    fi
    echo "$kept is what cargo pgrx schema generates"
else
    cat "$generated" >"$kept"
    echo "wrote $kept"
fi
