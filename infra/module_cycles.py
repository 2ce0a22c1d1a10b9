#!/usr/bin/env python3
"""Fails when a module of any crate in the workspace imports from a module that imports it.

A module here is a file (inline modules count with their file). A reference is every path that
names another module: `use` trees, inline paths and string literals such as serde attributes
(`crate::…`, `super::…`, `self::…`, and a child module named by its bare name); comments are
not read. Each reference A → B is counted at the level of A's and B's lowest common ancestor,
between the two children of that ancestor holding them (or the ancestor's own file), so
`store::dynamodb::item` used by `delivery::dynamodb` is an edge `delivery → store` among the
crate's top-level modules. Every level must be acyclic.

Usage: module_cycles.py [PACKAGE_DIR ...]   (default: every package of the workspace)
Exit 0 when acyclic, 1 with each knot printed otherwise.
"""

import re
import sys
from pathlib import Path

IDENT = r"[A-Za-z_][A-Za-z0-9_]*"
MOD_DECL = re.compile(r"^\s*(?:pub(?:\([^)]*\))?\s+)?mod\s+(" + IDENT + r")\s*;", re.M)
INLINE_MOD = re.compile(r"^\s*(?:pub(?:\([^)]*\))?\s+)?mod\s+(" + IDENT + r")\s*\{", re.M)
RAW_STRING = re.compile(r'b?r(#*)"')
PATH_START = re.compile(r"(?<![A-Za-z0-9_:])((?:crate|super|self)(?:::super)*|" + IDENT + r")::")


def strip_comments(text):
    """Drops // and /* */ comments, keeps string literals (serde attributes name paths)."""
    out, i, n = [], 0, len(text)
    while i < n:
        c = text[i]
        # r"…" and r#"…"# take no escapes and may hold quotes: read them whole.
        starts_word = i == 0 or not (text[i - 1].isalnum() or text[i - 1] == "_")
        raw = RAW_STRING.match(text, i) if c in "br" and starts_word else None
        if raw:
            close = '"' + raw.group(1)
            j = text.find(close, raw.end())
            j = n if j < 0 else j + len(close)
            out.append(text[i:j])
            i = j
        elif text.startswith("//", i):
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
        elif c == '"':
            j = i + 1
            while j < n and text[j] != '"':
                j += 2 if text[j] == "\\" else 1
            out.append(text[i : j + 1])
            i = j + 1
        elif c == "'" and i + 2 < n and (text[i + 2] == "'" or text[i + 1] == "\\"):
            j = text.find("'", i + 2)
            out.append(" ")
            i = j + 1
        else:
            out.append(c)
            i += 1
    return "".join(out)


def expand(text, start):
    """The paths of the use tree (or plain path) beginning at `start`, as lists of segments."""
    segs, i = [], start
    while True:
        m = re.compile(IDENT).match(text, i)
        if m:
            segs.append(m.group(0))
            i = m.end()
            if text.startswith("::", i):
                i += 2
                if i < len(text) and text[i] == "{":
                    paths, depth, j, item_start = [], 0, i, i + 1
                    while j < len(text):
                        if text[j] == "{":
                            depth += 1
                        elif text[j] == "}":
                            depth -= 1
                            if depth == 0:
                                break
                        if text[j] == "," and depth == 1:
                            paths += [segs + p for p in expand(text, skip_ws(text, item_start))]
                            item_start = j + 1
                        j += 1
                    paths += [segs + p for p in expand(text, skip_ws(text, item_start))]
                    return paths
                continue
        return [segs] if segs else []


def inline_spans(text):
    """(name, start, end) of each inline `mod name { … }` block."""
    spans = []
    for m in INLINE_MOD.finditer(text):
        depth, j = 0, m.end() - 1
        while j < len(text):
            if text[j] == "{":
                depth += 1
            elif text[j] == "}":
                depth -= 1
                if depth == 0:
                    break
            j += 1
        spans.append((m.group(1), m.end(), j))
    return spans


def skip_ws(text, i):
    while i < len(text) and text[i].isspace():
        i += 1
    return i


class Crate:
    def __init__(self, root_file):
        self.root_file = root_file
        self.files = {}  # module path (tuple) -> file
        self.load((), root_file)

    def load(self, module, path):
        self.files[module] = path
        text = strip_comments(path.read_text())
        if path.name in ("mod.rs", "lib.rs", "main.rs") or module == ():
            base = path.parent
        else:
            base = path.parent / path.stem
        for name in MOD_DECL.findall(text):
            for candidate in (base / f"{name}.rs", base / name / "mod.rs"):
                if candidate.exists():
                    self.load(module + (name,), candidate)
                    break

    def children(self, module):
        return {m[-1] for m in self.files if len(m) == len(module) + 1 and m[: len(module)] == module}

    def resolve(self, module, segs):
        """The deepest known module a path names, or None for a path outside the crate."""
        head, rest = segs[0], segs[1:]
        if head == "crate":
            base = ()
        elif head == "super" or head.startswith("super"):
            base = module[:-1]
        elif head == "self":
            base = module
        elif head in self.children(module):
            base, rest = module + (head,), rest
        else:
            return None
        while rest and rest[0] == "super":
            base, rest = base[:-1], rest[1:]
        for seg in rest:
            if base + (seg,) in self.files:
                base = base + (seg,)
            else:
                break
        return base

    def edges(self):
        found = {}
        for module, path in self.files.items():
            text = strip_comments(path.read_text())
            inline = inline_spans(text)
            for m in PATH_START.finditer(text):
                start = m.start(1)
                # Inside `mod tests { … }` a path starts from that inline module, whose
                # `super` is this file's module.
                nested = tuple(name for name, a, b in inline if a <= start < b)
                if m.group(1) in {name for name, _, _ in inline}:
                    continue
                for segs in expand(text, start):
                    if not segs:
                        continue
                    while nested and segs and segs[0] == "super":
                        nested, segs = nested[:-1], segs[1:]
                        if segs and segs[0] != "super":
                            segs = ["self"] + segs
                    if not segs or (nested and segs[0] == "self"):
                        continue
                    if segs[0] in ("crate", "super", "self") or segs[0] in self.children(module):
                        # `super::super::x` arrives as ["super", "super", "x"].
                        target = self.resolve(module, segs)
                        if target is not None and target != module:
                            found.setdefault((module, target), path)
        return found


def knots(crate):
    """Cycles among the children of each module, edges lifted to their lowest common ancestor."""
    levels = {}
    for (a, b), _ in crate.edges().items():
        k = 0
        while k < len(a) and k < len(b) and a[k] == b[k]:
            k += 1
        lca = a[:k]
        na = a[k] if k < len(a) else "(itself)"
        nb = b[k] if k < len(b) else "(itself)"
        if na != nb:
            levels.setdefault(lca, {}).setdefault(na, set()).add(nb)
    found = []
    for lca, graph in sorted(levels.items()):
        for component in strongly_connected(graph):
            if len(component) > 1:
                found.append((lca, sorted(component)))
    return found


def strongly_connected(graph):
    index, low, stack, on, out, counter = {}, {}, [], set(), [], [0]
    nodes = set(graph) | {n for vs in graph.values() for n in vs}

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in graph.get(v, ()):
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
            out.append(comp)

    sys.setrecursionlimit(10000)
    for v in sorted(nodes):
        if v not in index:
            visit(v)
    return out


def crate_roots(package):
    roots = [package / "src" / name for name in ("lib.rs", "main.rs")]
    for folder in ("tests", "examples", "benches"):
        roots += sorted((package / folder).glob("*.rs"))
    return [r for r in roots if r.exists()]


def main(argv):
    here = Path(__file__).resolve().parent.parent
    packages = [Path(p) for p in argv] or sorted(
        {p.parent for p in here.glob("**/Cargo.toml") if "target" not in p.parts and p.parent != here}
    )
    failed = 0
    crates = 0
    for package in packages:
        for root in crate_roots(package):
            crates += 1
            for lca, component in knots(Crate(root)):
                failed += 1
                where = "::".join(lca) or "crate root"
                print(f"knot in {root} at {where}: {' <-> '.join(component)}")
    if failed:
        print(f"{failed} knot(s) among the modules of {crates} crates")
        return 1
    print(f"no module cycles in {crates} crates")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
