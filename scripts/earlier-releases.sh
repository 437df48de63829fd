#!/usr/bin/env bash
# Builds each earlier release (those named, or every release in CHANGELOG.md but the version
# in Cargo.toml) from its release commit (named in CHANGELOG.md, else its tag vVERSION), for the upgrade tests: its Debian packages into
# target/releases/VERSION/debian/ (scripts/package.sh) and its sched-worker into
# target/releases/VERSION/sched-worker. The sources come from git, not from the network; the
# build shares target/ with this tree's, so only the release's own crates are compiled again.
# Built once: an existing build is kept.
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
out=$PWD/target/releases/$version
if [ -x "$out/sched-worker" ] && ls "$out"/debian/*.deb >/dev/null 2>&1; then
    exit 0
fi
# The section is read as one line: a wrapped paragraph may break "release commit" in two.
commit=$(awk -v v="$version" '
    $0 ~ "^## " v " " { inside = 1; next }
    /^## / { inside = 0 }
    inside { text = text " " $0 }
    END {
        if (match(text, /release[ ]+commit[ ]+`[0-9a-f]+`/)) {
            found = substr(text, RSTART, RLENGTH)
            sub(/^[^`]*`/, "", found); sub(/`$/, "", found); print found
        }
    }
' CHANGELOG.md)
if [ -z "$commit" ]; then
    commit=$(git rev-parse -q --verify "v$version^{commit}" || true)
fi
if [ -z "$commit" ]; then
    echo "CHANGELOG.md names no release commit for $version (a line with: release commit \`HASH\`)," \
        "and there is no tag v$version" >&2
    exit 1
fi
rm -rf "$out"
mkdir -p "$out/src"
git archive "$commit" | tar -x -C "$out/src"
# The console embeds its web app: built with this tree's packages (node_modules), which
# npm installed from the registry for this tree already.
web=$out/src/console/web
ln -s "$PWD/console/web/node_modules" "$web/node_modules"
(cd "$web" && npm run build >/dev/null)
scripts/package.sh "$out/src" "$out/debian" >/dev/null
install -m 0755 "target/package/$version/sched-worker/usr/bin/sched-worker" "$out/sched-worker"
echo "built release $version ($commit) into $out: $(cd "$out/debian" && echo *.deb)"
