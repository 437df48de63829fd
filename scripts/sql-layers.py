#!/usr/bin/env python3
"""Checks that the SQL under sql/ is layered: a function or view uses only what its own layer
or a lower one defines. A layer is a folder `N_name` of sql/; its files install in name order,
the layers in number order (extension/build.rs). Functions the extension defines in Rust are
created before all of them. See docs/architecture.md, "The SQL layers".

Usage: sql-layers.py [SQL_DIR]          fails listing every use of a higher layer
       sql-layers.py --order [SQL_DIR]  prints the install order, one file per line
"""
import os
import re
import sys


def statements(text):
    """Top-level statements of a SQL script, honouring quotes, $tag$ bodies and comments."""
    out, i, start, n = [], 0, 0, len(text)
    while i < n:
        if text.startswith("--", i):
            j = text.find("\n", i)
            i = n if j < 0 else j + 1
            continue
        c = text[i]
        if c == "'":
            j = i + 1
            while True:
                j = text.find("'", j)
                if j < 0 or not text.startswith("''", j):
                    break
                j += 2
            i = n if j < 0 else j + 1
            continue
        if c == "$":
            m = re.match(r"\$(\w*)\$", text[i:])
            if m:
                j = text.find(m.group(0), i + len(m.group(0)))
                i = n if j < 0 else j + len(m.group(0))
                continue
        if c == ";":
            out.append(text[start : i + 1])
            start = i + 1
        i += 1
    if text[start:].strip():
        out.append(text[start:])
    return out


DEFINES = re.compile(
    r"^\s*CREATE\s+(?:OR\s+REPLACE\s+)?(FUNCTION|PROCEDURE|TABLE|VIEW|TYPE)\s+sched\.(\w+)", re.I
)


def layer_files(sql_dir):
    layers = sorted(
        (d for d in os.listdir(sql_dir) if re.match(r"\d+_\w+$", d)),
        key=lambda d: int(d.split("_")[0]),
    )
    for rank, layer in enumerate(layers):
        folder = os.path.join(sql_dir, layer)
        for name in sorted(os.listdir(folder)):
            if name.endswith(".sql"):
                yield rank, layer, os.path.join(folder, name)


def uncommented(statement):
    """The statement without comments and string literals: an error message's hint naming
    a function (`use sched.grant_tenant`) is not a use of it."""
    statement = re.sub(r"--[^\n]*", "", statement)
    return re.sub(r"'(?:[^']|'')*'", "''", statement)


def main(args):
    order = "--order" in args
    args = [a for a in args if a != "--order"]
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    sql_dir = args[0] if args else os.path.join(root, "sql")
    files = list(layer_files(sql_dir))
    if order:
        for _, _, path in files:
            print(os.path.relpath(path, sql_dir))
        return 0
    loose = [n for n in os.listdir(sql_dir) if n.endswith(".sql")]
    problems = ["%s: outside every layer folder" % n for n in sorted(loose)]
    defined = {}
    parsed = []
    for rank, layer, path in files:
        for st in statements(open(path, encoding="utf-8").read()):
            body = uncommented(st)
            m = DEFINES.match(body)
            if m:
                defined.setdefault(m.group(2), (rank, layer, os.path.relpath(path, sql_dir)))
                parsed.append((rank, layer, path, m.group(2), body))
    for rank, layer, path, name, body in parsed:
        for used in sorted(set(re.findall(r"\bsched\.(\w+)", body)) - {name}):
            if used in defined and defined[used][0] > rank:
                problems.append(
                    "%s: %s uses sched.%s, defined in %s, a higher layer than %s"
                    % (os.path.relpath(path, sql_dir), name, used, defined[used][2], layer)
                )
    for p in problems:
        print("layering: " + p)
    if problems:
        return 1
    print("every function and view uses its own layer or a lower one")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
