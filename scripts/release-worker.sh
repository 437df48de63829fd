#!/usr/bin/env bash
# Builds the sched-worker of each earlier release (those named, or every release in
# CHANGELOG.md but the version in Cargo.toml) into target/releases/VERSION/sched-worker, for
# the upgrade tests (a worker of the release before keeps working through an update). The
# release's commit is the one CHANGELOG.md names; its sources are taken from git, not from the
# network. The build shares target/ with the current one, so only the release's own crates
# are compiled again (cargo keeps both builds apart: their sources are at different paths).
set -euo pipefail
cd "$(dirname "$0")/.."
if [ $# = 0 ]; then
    current=$(sed -n 's/^version = "\(.*\)"$/\1/p' Cargo.toml | head -n 1)
    for version in $(sed -n 's/^## \([0-9][0-9.]*\) .*/\1/p' CHANGELOG.md); do
        [ "$version" = "$current" ] || "$0" "$version"
    done
    exit 0
fi
version=$1
out=target/releases/$version
if [ -x "$out/sched-worker" ]; then
    exit 0
fi
commit=$(awk -v v="$version" '
    $0 ~ "^## " v " " { inside = 1; next }
    /^## / { inside = 0 }
    inside && match($0, /release commit `[0-9a-f]+`/) { print substr($0, RSTART + 16, RLENGTH - 17); exit }
' CHANGELOG.md)
if [ -z "$commit" ]; then
    echo "CHANGELOG.md names no release commit for $version (a line with: release commit \`HASH\`)" >&2
    exit 1
fi
rm -rf "$out/src"
mkdir -p "$out/src"
git archive "$commit" | tar -x -C "$out/src"
# Cargo copies the binary to target/release/sched-worker, over the current build's, and does
# not copy that back while the current build is up to date: it is put back by hand.
current=target/release/sched-worker
if [ -f "$current" ]; then cp -p "$current" "$out/current.keep"; fi
cargo build --release -p sched-worker --manifest-path "$out/src/Cargo.toml" --target-dir "$PWD/target" --locked
cp "$current" "$out/sched-worker.new"
if [ -f "$out/current.keep" ]; then mv "$out/current.keep" "$current"; else rm -f "$current"; fi
mv "$out/sched-worker.new" "$out/sched-worker"
echo "built the sched-worker of release $version ($commit) into $out/sched-worker"
