#!/usr/bin/env python3
"""Checks that the library's #include lines follow its layer order (docs/ARCHITECTURE.md):

    core -> dist, io, data, nn -> quant, optim -> train -> ptq -> plot, bench, cli

A file may include headers of its own layer and of layers to its left. Layers that share a
rank (io, data, nn; quant, optim; plot, bench, cli) may include one another, but not in a
cycle. A file's layer is its directory under src/; a header of include/qtrain/ (installed) or
src/include/qtrain/ (not installed) belongs to the directory of the source file with its name
(include/qtrain/net.h: src/nn/net.c), else to the HEADER_LAYER table.

Usage: check_layers.py [ROOT]   (ROOT: the source tree, default: this script's parent's
parent). Prints one line per violation and exits 1 when there is any, else exits 0."""
import os
import re
import sys

RANKS = [["core"], ["dist", "io", "data", "nn"], ["quant", "optim"], ["train"], ["ptq"],
         ["plot", "bench", "cli"]]
RANK = {layer: r for r, layers in enumerate(RANKS) for layer in layers}

# Public headers with no source file of the same name.
HEADER_LAYER = {
    "bench": "bench", "cp": "ptq", "image": "data", "jpeg_image": "data", "json": "io",
    "models": "nn", "ops": "core", "png_image": "data", "profile": "nn", "ptq": "ptq",
    "qquant": "ptq", "quant": "quant", "record_file": "io",
}

INCLUDE = re.compile(r'^\s*#\s*include\s+"([^"]+)"', re.M)


def source_layers(root):
    """{basename without .c: set of layers whose src/ directory holds it}"""
    found = {}
    for layer in RANK:
        top = os.path.join(root, "src", layer)
        for dirpath, _, files in os.walk(top):
            for f in files:
                if f.endswith(".c"):
                    found.setdefault(f[:-2], set()).add(layer)
    return found


def header_layer(name, sources):
    if name in HEADER_LAYER:
        return HEADER_LAYER[name]
    layers = sources.get(name, set())
    return next(iter(layers)) if len(layers) == 1 else None


def files_to_check(root, sources):
    """(path relative to root, its layer) for every library file."""
    for layer in RANK:
        for dirpath, _, files in os.walk(os.path.join(root, "src", layer)):
            for f in sorted(files):
                if f.endswith((".c", ".h")):
                    yield os.path.relpath(os.path.join(dirpath, f), root), layer
    for top in (os.path.join("include", "qtrain"), os.path.join("src", "include", "qtrain")):
        if not os.path.isdir(os.path.join(root, top)):
            continue
        for f in sorted(os.listdir(os.path.join(root, top))):
            if f.endswith(".h"):
                yield os.path.join(top, f), header_layer(f[:-2], sources)


def target_layer(root, path, inc, sources):
    """The layer of the header `inc` included from `path`, '' for a header outside the
    library (third_party, generated), None when a library header has no layer."""
    if inc.startswith("qtrain/"):
        name = inc[len("qtrain/"):-2]
        return header_layer(name, sources) if inc.endswith(".h") else None
    parts = os.path.normpath(os.path.join(os.path.dirname(path), inc)).split(os.sep)
    if len(parts) >= 2 and parts[0] == "src" and parts[1] in RANK:
        return parts[1]
    return ""


def find_cycle(edges):
    """A cycle in the layer graph {layer: set of layers it includes}, or None."""
    state = {}

    def visit(n, stack):
        state[n] = 1
        stack.append(n)
        for m in sorted(edges.get(n, ())):
            if state.get(m) == 1:
                return stack[stack.index(m):] + [m]
            if not state.get(m):
                c = visit(m, stack)
                if c:
                    return c
        stack.pop()
        state[n] = 2
        return None

    for n in sorted(edges):
        if not state.get(n):
            c = visit(n, [])
            if c:
                return c
    return None


def check(root):
    sources = source_layers(root)
    problems, edges = [], {}
    for path, layer in files_to_check(root, sources):
        if layer is None:
            problems.append(f"{path}: no layer (give it a source file of the same name under "
                            f"src/<layer>/ or an entry in HEADER_LAYER of tools/check_layers.py)")
            continue
        text = open(os.path.join(root, path), encoding="utf-8").read()
        for m in INCLUDE.finditer(text):
            inc = m.group(1)
            line = text.count("\n", 0, m.start()) + 1
            to = target_layer(root, path, inc, sources)
            if to == "" or to == layer:
                continue
            if to is None:
                problems.append(f"{path}:{line}: {inc} belongs to no layer")
                continue
            if RANK[to] > RANK[layer]:
                below = [l for r in RANKS[:RANK[layer] + 1] for l in r]
                problems.append(f"{path}:{line}: {layer} includes {inc} of layer {to}; {layer} may "
                                f"include only {', '.join(below)}")
                continue
            edges.setdefault(layer, set()).add(to)
    cycle = find_cycle(edges)
    if cycle:
        problems.append("layers include each other in a cycle: " + " -> ".join(cycle))
    return problems


def main():
    root = sys.argv[1] if len(sys.argv) > 1 else os.path.dirname(os.path.dirname(
        os.path.abspath(__file__)))
    problems = check(root)
    for p in problems:
        print(p)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
