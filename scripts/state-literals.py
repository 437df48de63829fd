#!/usr/bin/env python3
"""Fails on a list of two or more quoted state names written outside core/src/state.rs and
the SQL generated from it: an SQL IN list or array literal, a Rust or JavaScript array, a
match pattern joined by `|`. Sets of states are named once, in core/src/state.rs; SQL calls
sched._task_states_<set>() and friends, clients read sched.state_model().
See docs/architecture.md, "States".

Usage: state-literals.py [ROOT]
"""
import os
import re
import sys

SCANNED = ["sql", "extension/src", "worker/src", "cli/src", "console/src", "console/web/src"]
EXEMPT = {"sql/1_schema/01_vocabulary.sql"}
# A release's kept install script is generated, vocabulary included; its upgrade scripts are
# written by hand and checked, but for the lines they copy from a generated vocabulary (the
# current one, or the one a kept install script holds: the one of the release they lead to).
RELEASED = re.compile(r"sql/releases/pg_sched--[^-]+\.sql$")
UPGRADE = re.compile(r"sql/releases/pg_sched--[^-]+--[^-]+\.sql$")
SUFFIXES = (".sql", ".rs", ".js", ".jsx", ".mjs")


def state_names(root):
    """The states, as the generated SQL declares them."""
    text = open(os.path.join(root, "sql/1_schema/01_vocabulary.sql"), encoding="utf-8").read()
    names = set()
    for enum in re.findall(r"CREATE TYPE sched\.\w+_state AS ENUM \(([^)]*)\)", text):
        names |= set(re.findall(r"'(\w+)'", enum))
    return names


def lists(line):
    """The lists of two or more quoted words in a line: comma-separated (in brackets or
    parentheses), `|`-separated, and PostgreSQL array literals '{a,b}'."""
    item = r"""(?:'\w+'|"\w+"|`\w+`)(?:\s*::\s*[\w.]+)?"""
    for m in re.finditer(r"%s(?:\s*,\s*%s)+" % (item, item), line):
        yield re.findall(r"""['"`](\w+)['"`]""", m.group(0))
    for m in re.finditer(r"%s(?:\s*\|\s*%s)+" % (item, item), line):
        yield re.findall(r"""['"`](\w+)['"`]""", m.group(0))
    for m in re.finditer(r"'\{(\w+(?:,\w+)+)\}'", line):
        yield m.group(1).split(",")


def main(args):
    root = args[0] if args else os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    states = state_names(root)
    generated = set(open(os.path.join(root, "sql/1_schema/01_vocabulary.sql"), encoding="utf-8"))
    releases = os.path.join(root, "sql/releases")
    for name in sorted(os.listdir(releases)) if os.path.isdir(releases) else []:
        if RELEASED.match("sql/releases/" + name):
            generated |= set(open(os.path.join(releases, name), encoding="utf-8"))
    problems = []
    for top in SCANNED:
        for base, _, names in os.walk(os.path.join(root, top)):
            for name in sorted(names):
                path = os.path.join(base, name)
                rel = os.path.relpath(path, root)
                if (
                    not name.endswith(SUFFIXES)
                    or rel in EXEMPT
                    or RELEASED.match(rel)
                    or "/node_modules/" in path
                ):
                    continue
                for no, line in enumerate(open(path, encoding="utf-8"), 1):
                    if line.lstrip().startswith(("--", "//", "*")):
                        continue
                    if UPGRADE.match(rel) and line in generated:
                        continue
                    for words in lists(line):
                        if len(words) >= 2 and all(w in states for w in words):
                            problems.append("%s:%d: %s" % (rel, no, ", ".join(words)))
    for p in problems:
        print("state list written by hand (name it in core/src/state.rs): " + p)
    if problems:
        return 1
    print("every list of states is named in core/src/state.rs")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
