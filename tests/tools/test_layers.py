#!/usr/bin/env python3
"""tools/check_layers.py: the source tree keeps the layer order, and the check fails, naming
file, line and layers, on trees that break it: an include of a higher layer (the nn -> quant
include that src/nn/net.c once had), a cycle between layers of one rank, and a header that
belongs to no layer.
Exits non-zero with the failed check. Needs QTRAIN_SOURCE_ROOT (meson test sets it)."""

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

SRC = Path(os.environ["QTRAIN_SOURCE_ROOT"])
CHECK = SRC / "tools" / "check_layers.py"


def run(root):
    p = subprocess.run([sys.executable, str(CHECK), str(root)], capture_output=True, text=True)
    return p.returncode, p.stdout.splitlines()


def expect(root, code, lines, what):
    got_code, got = run(root)
    if got_code != code or got != lines:
        sys.exit(f"{what}: expected exit {code} and {lines}, got exit {got_code} and {got}")


def write(root, rel, text):
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def fake_tree(root):
    """A tree that keeps the order: nn's net.c includes core, quant includes nn."""
    write(root, "include/qtrain/tensor.h", "#include <stddef.h>\n")
    write(root, "include/qtrain/net.h", '#include "qtrain/tensor.h"\n')
    write(root, "include/qtrain/quant.h", '#include "qtrain/net.h"\n')
    write(root, "src/core/tensor.c", '#include "qtrain/tensor.h"\n')
    write(root, "src/nn/net.c", '#include "qtrain/net.h"\n#include "qtrain/tensor.h"\n')
    write(root, "src/quant/quant_attach.c", '#include "qtrain/quant.h"\n#include "local.h"\n')
    write(root, "src/quant/local.h", "\n")


def main():
    expect(SRC, 0, [], "the source tree")
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        fake_tree(root)
        expect(root, 0, [], "a tree in order")

        write(root, "src/nn/net.c", '#include "qtrain/net.h"\n#include "qtrain/quant.h"\n')
        expect(root, 1, ["src/nn/net.c:2: nn includes qtrain/quant.h of layer quant; nn may "
                         "include only core, dist, io, data, nn"], "nn including quant")
        fake_tree(root)

        write(root, "src/nn/net.c", '#include "../quant/local.h"\n')
        expect(root, 1, ["src/nn/net.c:1: nn includes ../quant/local.h of layer quant; nn may "
                         "include only core, dist, io, data, nn"], "nn including quant's private header")
        fake_tree(root)

        write(root, "include/qtrain/ini.h", '#include "qtrain/image.h"\n')
        write(root, "src/io/ini.c", '#include "qtrain/ini.h"\n')
        write(root, "include/qtrain/image.h", '#include "qtrain/ini.h"\n')
        expect(root, 1, ["layers include each other in a cycle: data -> io -> data"],
               "io and data including each other")
        (root / "include/qtrain/image.h").write_text("\n")
        expect(root, 0, [], "io including data alone")

        write(root, "include/qtrain/orphan.h", "\n")
        expect(root, 1, ["include/qtrain/orphan.h: no layer (give it a source file of the same "
                         "name under src/<layer>/ or an entry in HEADER_LAYER of "
                         "tools/check_layers.py)"], "a header of no layer")
        (root / "include/qtrain/orphan.h").unlink()
    print("check_layers: 6 cases as expected")


if __name__ == "__main__":
    main()
