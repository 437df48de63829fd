#!/usr/bin/env python3
"""Fails when a crate's modules or the console app's files import each other in a circle.

Rust: a node is a top-level module of a crate (a file or a folder under src/, plus the
crate root); an edge is a path through `crate::<module>` (in `use` or in code) or, in the
crate root, through a declared module's name. Inside a folder module, its submodules are
checked the same way through `super::<sibling>` and `crate::<folder>::<sibling>`.
JavaScript: a node is a file under console/web/src, an edge an `import … from './…'`.
See docs/architecture.md, "Import graphs".

Usage: import-cycles.py [ROOT]
"""
import os
import re
import sys

ROOT = sys.argv[1] if len(sys.argv) > 1 else os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CRATES = ["core", "extension", "worker", "cli", "console", "tests", "bench"]


def strip_rust(text):
    """The code without comments, string and character literals (raw strings included), so
    that a path quoted in a string or a comment is no edge."""
    out, i, n = [], 0, len(text)
    while i < n:
        if text.startswith("//", i):
            j = text.find("\n", i)
            i = n if j < 0 else j
        elif text.startswith("/*", i):
            depth, i = 1, i + 2
            while i < n and depth:
                if text.startswith("/*", i):
                    depth, i = depth + 1, i + 2
                elif text.startswith("*/", i):
                    depth, i = depth - 1, i + 2
                else:
                    i += 1
        elif re.match(r'b?r#*"', text[i:]) and (i == 0 or not (text[i - 1].isalnum() or text[i - 1] == "_")):
            m = re.match(r'b?r(#*)"', text[i:])
            if m:
                end = '"' + m.group(1)
                j = text.find(end, i + m.end())
                i = n if j < 0 else j + len(end)
            else:
                i = skip_string(text, i + (1 if text[i] == "b" else 0))
            out.append('""')
        elif text[i] == '"':
            i = skip_string(text, i)
            out.append('""')
        elif text[i] == "'":
            m = re.match(r"'(?:\\(?:u\{[0-9a-fA-F]+\}|x[0-9a-fA-F]{2}|.)|[^\\'])'", text[i:])
            if m:
                i += m.end()
                out.append("' '")
            else:
                out.append("'")
                i += 1
        else:
            out.append(text[i])
            i += 1
    return "".join(out)


def skip_string(text, i):
    """The index after the string literal opening at i."""
    i += 1
    while i < len(text):
        if text[i] == "\\":
            i += 2
        elif text[i] == '"':
            return i + 1
        else:
            i += 1
    return i


def rust_files(folder):
    for base, _, names in os.walk(folder):
        for name in names:
            if name.endswith(".rs"):
                yield os.path.join(base, name)


def top_module(src, path):
    rel = os.path.relpath(path, src)
    parts = rel[:-3].split(os.sep)
    if rel in ("lib.rs", "main.rs"):
        return "<root>"
    if parts[0] == "bin":
        return None
    return parts[0]


def reexports(src, modules):
    """Names the crate root re-exports (`pub use module::{A, B}`), by the module they are from:
    a path through such a name leads to that module, not to the root."""
    names = {}
    for root in ("lib.rs", "main.rs"):
        path = os.path.join(src, root)
        if not os.path.exists(path):
            continue
        text = strip_rust(open(path, encoding="utf-8").read())
        for module, rest in re.findall(r"\bpub use (\w+)::(\{[^}]*\}|\w+)", text):
            if module in modules:
                for name in re.findall(r"\w+", rest):
                    names[name] = module
    return names


def crate_graph(src):
    files = list(rust_files(src))
    modules = {m for m in (top_module(src, f) for f in files) if m and m != "<root>"}
    aliases = reexports(src, modules)
    edges = {}
    for path in files:
        here = top_module(src, path)
        if here is None:
            continue
        text = strip_rust(open(path, encoding="utf-8").read())
        targets = set(re.findall(r"\bcrate::(\w+)", text))
        if here == "<root>":
            targets |= {m for m in modules if re.search(r"(?<![\w:])%s::" % re.escape(m), text)}
        # A use-group `crate::{a, b::c}` names several modules.
        for group in re.findall(r"\bcrate::\{([^}]*)\}", text):
            targets |= {t.strip().split("::")[0] for t in group.split(",") if t.strip()}
        resolved = set()
        for t in targets:
            resolved.add(t if t in modules else aliases.get(t, "<root>"))
        resolved.discard(here)
        edges.setdefault(here, set()).update(resolved)
    return edges


def folder_graphs(src):
    graphs = {}
    for entry in sorted(os.listdir(src)):
        folder = os.path.join(src, entry)
        if not os.path.isdir(folder) or entry == "bin":
            continue
        subs = {}
        for path in rust_files(folder):
            rel = os.path.relpath(path, folder)[:-3].split(os.sep)
            if rel == ["mod"]:
                continue
            subs.setdefault(rel[0], []).append(path)
        edges = {}
        for sub, paths in subs.items():
            for path in paths:
                text = strip_rust(open(path, encoding="utf-8").read())
                found = set(re.findall(r"\bsuper::(\w+)", text))
                found |= set(re.findall(r"\bcrate::%s::(\w+)" % re.escape(entry), text))
                edges.setdefault(sub, set()).update(t for t in found if t in subs and t != sub)
        graphs[entry] = edges
    return graphs


def js_graph(src):
    """Files by their path under src (subfolders too); an import resolves from its file's folder."""
    edges = {}
    for base, _, names in os.walk(src):
        for name in sorted(names):
            if not re.search(r"\.(js|jsx|mjs)$", name):
                continue
            path = os.path.join(base, name)
            text = open(path, encoding="utf-8").read()
            targets = set()
            for spec in re.findall(r"""(?:import|export)\s[^;]*?from\s+['"](\.[^'"]+)['"]""", text, flags=re.S):
                targets.add(os.path.relpath(os.path.normpath(os.path.join(base, spec)), src))
            edges[os.path.relpath(path, src)] = targets
    return edges


def cycles(edges):
    """Strongly connected components with more than one node (Tarjan)."""
    index, low, stack, on, out = {}, {}, [], set(), []
    counter = [0]
    nodes = set(edges) | {t for ts in edges.values() for t in ts}

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in sorted(edges.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    sys.setrecursionlimit(10000)
    for v in sorted(nodes):
        if v not in index:
            visit(v)
    return out


def main():
    problems = []
    for crate in CRATES:
        src = os.path.join(ROOT, crate, "src")
        if not os.path.isdir(src):
            continue
        for comp in cycles(crate_graph(src)):
            problems.append("%s/src: %s import each other" % (crate, ", ".join(comp)))
        for folder, edges in folder_graphs(src).items():
            for comp in cycles(edges):
                problems.append("%s/src/%s: %s import each other" % (crate, folder, ", ".join(comp)))
    web = os.path.join(ROOT, "console", "web", "src")
    if os.path.isdir(web):
        for comp in cycles(js_graph(web)):
            problems.append("console/web/src: %s import each other" % ", ".join(comp))
    for p in problems:
        print("import circle: " + p)
    if problems:
        sys.exit(1)
    print("no import circles")


if __name__ == "__main__":
    main()
