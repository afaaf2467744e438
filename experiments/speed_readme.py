#!/usr/bin/env python3
"""Rewrites the README's Performance figures from experiments/speed.py's results.json.

It refuses results from a --quick run or from a busy machine (a 1-minute load average above
0.5 before the first run, or above the benchmark's own threads + 0.5 during the runs): only idle-machine figures go into the README.

The generated part sits between two marker comments, which the first run inserts: it then
replaces the Performance section's text from its heading up to the paragraph that starts
with "How:" (the hand-written description of the kernels, kept), or up to the next "## "
heading when there is none. Nothing outside that part changes.

Usage: speed_readme.py [--results FILE] [--readme FILE]
"""
import argparse
import json
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, ".."))
sys.path.insert(0, HERE)
import speed  # noqa: E402

PROG = "speed_readme.py"
HEADING = "## Performance"
BEGIN = "<!-- speed_readme.py: generated from {} (do not edit by hand) -->"
END = "<!-- speed_readme.py: end -->"


def fail(msg):
    sys.exit(f"{PROG}: error: {msg}")


def generated(data, shown_path):
    """The section's figures: how they were taken, the table, where they come from."""
    env, results = data["environment"], data["results"]
    intro = (f"Training and inference speed against PyTorch (fp32, its best configuration "
             f"here), measured side by side and interleaved by `experiments/speed.py`; "
             f"results in `{shown_path}`.")
    body = speed.markdown(env, results)
    return "\n".join([BEGIN.format(shown_path), "", intro, "", body.rstrip("\n"), "", END])


def replace_section(text, block):
    """README text with the generated block in place of the old figures."""
    lines = text.split("\n")
    begin_prefix = BEGIN.split("{}")[0]
    starts = [i for i, l in enumerate(lines) if l.startswith(begin_prefix)]
    if starts:
        ends = [i for i, l in enumerate(lines) if l == END and i > starts[0]]
        if not ends:
            fail(f"README has '{begin_prefix}...' but no '{END}' after it")
        lo, hi = starts[0], ends[0] + 1
        return "\n".join(lines[:lo] + block.split("\n") + lines[hi:])
    heads = [i for i, l in enumerate(lines) if l.strip() == HEADING]
    if not heads:
        fail(f"README has no '{HEADING}' heading")
    lo = heads[0] + 1
    hi = lo
    while hi < len(lines) and not lines[hi].startswith("## ") and not lines[hi].startswith("How:"):
        hi += 1
    return "\n".join(lines[:lo] + [""] + block.split("\n") + [""] + lines[hi:])


def main(argv):
    ap = argparse.ArgumentParser(prog=PROG, description=__doc__.splitlines()[0])
    ap.add_argument("--results", default=os.path.join(ROOT, "experiments/results/speed/results.json"))
    ap.add_argument("--readme", default=os.path.join(ROOT, "README.md"))
    a = ap.parse_args(argv)
    try:
        with open(a.results) as f:
            data = json.load(f)
        with open(a.readme) as f:
            text = f.read()
    except (OSError, ValueError) as e:
        fail(str(e))
    env = data["environment"]
    if env.get("quick"):
        fail(f"{a.results} is from a --quick run (one step per run): not figures to publish")
    if speed.busy(env["load"], speed.max_threads(env)):
        fail(f"{a.results} was measured on a busy machine (load average {env['load']['start']:.2f} "
             f"at the start, up to {env['load']['max']:.2f} during the runs, above "
             f"{speed.IDLE_LOAD} and the benchmark's own threads + {speed.IDLE_LOAD}): "
             f"re-measure on an idle one")
    shown = os.path.relpath(os.path.abspath(a.results), os.path.dirname(os.path.abspath(a.readme)))
    new = replace_section(text, generated(data, shown))
    tmp = a.readme + ".tmp"
    with open(tmp, "w") as f:
        f.write(new)
    os.replace(tmp, a.readme)
    print(f"{PROG}: rewrote the Performance figures in {a.readme} from {a.results}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
