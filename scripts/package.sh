#!/usr/bin/env bash
# `make package`: Debian packages of the release whose sources are in SOURCE (default: this
# tree) into OUT (default: target/debian):
#   postgresql-PG-pg-sched  the extension, as `cargo pgrx package` lays it out, with the
#                           upgrade scripts and the kept install scripts of earlier releases;
#   sched-worker            the worker, its systemd unit, /etc/sched/worker.env and an empty
#                           /etc/sched/worker.conn (0600) for the connection string;
#   sched-console           the web console, its systemd unit and /etc/sched/console.env;
#   sched-cli               the `sched` command line.
# dpkg-deb builds them from staged trees; the configuration files are conffiles, which an
# upgrade leaves as the administrator edited them. The packaging (units, configuration,
# maintainer scripts) is this tree's, whatever release SOURCE holds: the upgrade test packages
# the release before this way.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
src=$(cd "${1:-$here}" && pwd)
out=${2:-$here/target/debian}
PG_CONFIG=${PG_CONFIG:-/usr/lib/postgresql/15/bin/pg_config}
version=$(sed -n 's/^version = "\(.*\)"$/\1/p' "$src/Cargo.toml" | head -n 1)
pg=$("$PG_CONFIG" --version | sed -E 's/^PostgreSQL ([0-9]+).*/\1/')
arch=$(dpkg --print-architecture)
stage=$here/target/package/$version
target=$here/target
rm -rf "$stage"
mkdir -p "$stage" "$out"

# A release other than this tree's is built into the same target/ (only its own crates are
# compiled again), which copies its binaries over this tree's in target/release/; those are
# put back afterwards, as they were, so that cargo, which does not copy them again while
# they are up to date, leaves this tree's in place.
keep=
if [ "$src" != "$here" ] && [ -d "$target/release" ]; then
    keep=$(mktemp -d)
    find "$target/release" -maxdepth 1 -type f -exec cp -p {} "$keep/" \;
fi
restore() {
    if [ -n "$keep" ]; then
        cp -p "$keep"/* "$target/release/" 2>/dev/null || true
        rm -rf "$keep"
    fi
}
trap restore EXIT

# The extension.
ext=$stage/postgresql-$pg-pg-sched
pgrx_package() {
    CARGO_TARGET_DIR=$target cargo pgrx package -p pg_sched --manifest-path "$src/extension/Cargo.toml" \
        --pg-config "$PG_CONFIG" --out-dir "$ext"
}
log=$(mktemp)
pgrx_package >"$log" 2>&1 || { cat "$log" >&2; rm -f "$log"; exit 1; }
rm -f "$log"
sharedir=$ext$("$PG_CONFIG" --sharedir)/extension
for script in "$src"/sql/releases/pg_sched--*.sql; do
    name=$(basename "$script")
    [ -e "$sharedir/$name" ] || install -m 0644 "$script" "$sharedir/$name"
done
mkdir -p "$ext/DEBIAN"
cat >"$ext/DEBIAN/control" <<CONTROL
Package: postgresql-$pg-pg-sched
Version: $version
Architecture: $arch
Maintainer: pg_sched <pg-sched@localhost>
Depends: postgresql-$pg, libc6
Section: database
Priority: optional
Description: pg_sched: a DAG workflow scheduler inside PostgreSQL $pg
 The extension (shared_preload_libraries = 'pg_sched', then CREATE EXTENSION pg_sched). After
 an upgrade of this package, restart PostgreSQL and run ALTER EXTENSION pg_sched UPDATE.
CONTROL

# The binaries.
CARGO_TARGET_DIR=$target cargo build --release --locked --manifest-path "$src/Cargo.toml" \
    -p sched-worker -p sched-cli -p sched-console 2>&1 | grep -v '^\s*\(Compiling\|Finished\)' || true
for bin in sched-worker sched sched-console; do
    [ -x "$target/release/$bin" ] || { echo "building $bin of $src failed" >&2; exit 1; }
done

binary_package() { # name, description, binary
    local dir=$stage/$1
    install -D -m 0755 "$target/release/$3" "$dir/usr/bin/$3"
    install -D -m 0644 "$src/README.md" "$dir/usr/share/doc/$1/README.md"
    install -D -m 0644 "$src/CHANGELOG.md" "$dir/usr/share/doc/$1/CHANGELOG.md"
    mkdir -p "$dir/DEBIAN"
    cat >"$dir/DEBIAN/control" <<CONTROL
Package: $1
Version: $version
Architecture: $arch
Maintainer: pg_sched <pg-sched@localhost>
Depends: libc6
Section: admin
Priority: optional
Description: $2
 For pg_sched $version: a DAG workflow scheduler inside PostgreSQL.
CONTROL
}

binary_package sched-cli "pg_sched's command line, sched" sched

binary_package sched-worker "pg_sched's worker, which runs task instances" sched-worker
w=$stage/sched-worker
install -D -m 0644 "$here/packaging/sched-worker.service" "$w/lib/systemd/system/sched-worker.service"
install -D -m 0644 "$here/packaging/worker.env" "$w/etc/sched/worker.env"
echo /etc/sched/worker.env >"$w/DEBIAN/conffiles"
# The connection string holds a password: made by postinst, readable by root only, and left
# alone by upgrades and removal (it is the administrator's).
cat >"$w/DEBIAN/postinst" <<'POSTINST'
#!/bin/sh
set -e
if [ "$1" = configure ]; then
    install -d -m 0755 /etc/sched /var/lib/sched
    install -d -m 0711 /var/lib/sched/work
    if [ ! -e /etc/sched/worker.conn ]; then
        install -m 0600 -o root -g root /dev/null /etc/sched/worker.conn
    fi
    chmod 0600 /etc/sched/worker.conn
    if [ -d /run/systemd/system ]; then
        systemctl daemon-reload >/dev/null || true
        # A running worker is restarted into the new binary: it drains (--shutdown-grace)
        # and the master fails over nothing.
        systemctl try-restart sched-worker.service >/dev/null || true
    fi
fi
POSTINST
chmod 0755 "$w/DEBIAN/postinst"

binary_package sched-console "pg_sched's web console" sched-console
c=$stage/sched-console
install -D -m 0644 "$here/packaging/sched-console.service" "$c/lib/systemd/system/sched-console.service"
install -D -m 0644 "$here/packaging/console.env" "$c/etc/sched/console.env"
echo /etc/sched/console.env >"$c/DEBIAN/conffiles"
cat >"$c/DEBIAN/postinst" <<'POSTINST'
#!/bin/sh
set -e
if [ "$1" = configure ] && [ -d /run/systemd/system ]; then
    systemctl daemon-reload >/dev/null || true
    systemctl try-restart sched-console.service >/dev/null || true
fi
POSTINST
chmod 0755 "$c/DEBIAN/postinst"

for dir in "$ext" "$stage/sched-cli" "$w" "$c"; do
    name=$(sed -n 's/^Package: //p' "$dir/DEBIAN/control")
    dpkg-deb --root-owner-group --build "$dir" "$out/${name}_${version}_$arch.deb" >/dev/null
    echo "$out/${name}_${version}_$arch.deb"
done
