#!/usr/bin/env python3
"""Whether a change that makes qtrain round differently (a new kernel, a new tiling) moves a
config's test accuracy by more than seed noise: the same config trained by two builds over
the same seeds, interleaved (seed 1 with build A, then B, then seed 2, ...), compared by mean
± std and Welch's t-test (seedstats.py).

Each run is `BUILD/src/cli/qtrain --config CONFIG --seed S --quiet` into a scratch directory;
its test accuracy comes from the run's summary.json. Writes <out>/runs.csv (every run) and
<out>/results.md.

--from-runs CSV... writes results.md from earlier runs.csv files (the same config; seeds
from several runs pooled) without training.

Usage: build_seeds.py --a DIR --b DIR [--a-name NAME] [--b-name NAME] [--config FILE]
                      [--seeds 1,2,...] [--out DIR]
       build_seeds.py --from-runs CSV [CSV ...] [--config FILE] [--out DIR]
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import qtexp  # noqa: E402
import seedstats  # noqa: E402
import speed  # noqa: E402

PROG = "build_seeds.py"
HEADER = ["seed", "build", "commit", "test_acc_pct", "seconds"]


def train(build, config, seed, workdir):
    """Test accuracy (percent) and training seconds of one run."""
    out = os.path.join(workdir, f"run_{seed}")
    cmd = [os.path.join(build, "src/cli/qtrain"), "--config", config, "--seed", str(seed),
           "--out", out, "--overwrite", "--quiet"]
    r = subprocess.run(cmd, capture_output=True, text=True)
    if r.returncode != 0:
        sys.exit(f"{PROG}: {' '.join(cmd)} failed: {r.stderr.strip()}")
    with open(os.path.join(out, "summary.json")) as f:
        summary = json.load(f)
    return 100.0 * summary["test_acc"], summary["seconds"]


def describe(build):
    """The commit a build directory was configured from (its source tree's git describe)."""
    src = os.path.realpath(os.path.join(build, ".."))
    r = subprocess.run(["git", "-C", src, "describe", "--always", "--dirty"], capture_output=True,
                       text=True)
    return r.stdout.strip() or "unknown"


def summary_lines(rows, config, source):
    """results.md's lines for runs (dicts of HEADER's columns): the builds in the order they
    first appear, the first one the baseline."""
    names, commits, acc = [], {}, {}
    for r in rows:
        seed, name, commit, test_acc = r["seed"], r["build"], r["commit"], r["test_acc_pct"]
        if name not in acc:
            names.append(name)
            commits[name], acc[name] = commit, {}
        acc[name][int(seed)] = float(test_acc)
    if len(names) != 2 or acc[names[0]].keys() != acc[names[1]].keys():
        sys.exit(f"{PROG}: the runs must hold the same seeds for exactly two builds")
    na, nb = names
    seeds = sorted(acc[na])
    xa, xb = [acc[na][k] for k in seeds], [acc[nb][k] for k in seeds]
    test = seedstats.welch(xa, xb)
    lower_b = sum(x > y for x, y in zip(xa, xb))
    table = qtexp.md_table(["build", "commit", "test accuracy % (mean ± std)", "per seed"],
                           [[name, commits[name], seedstats.mean_std_text(xs),
                             " / ".join(f"{x:.2f}" for x in xs)] for name, xs in ((na, xa), (nb, xb))])
    lines = [f"`{os.path.relpath(config, speed.ROOT)}` trained by two builds of qtrain, "
             f"{len(seeds)} seeds ({seeds[0]}-{seeds[-1]}, `--seed`), interleaved; {source} "
             f"(`experiments/{PROG}`).", ""] + table.rstrip("\n").split("\n")
    diff = seedstats.mean(xb) - seedstats.mean(xa)
    verdict = ("not testable" if test is None else
               f"Welch t {test[0]:.2f}, df {test[1]:.1f}, p {test[2]:.2g}: "
               f"{'significant' if test[2] < seedstats.ALPHA else 'NOT significant'} "
               f"at {seedstats.ALPHA}")
    lines += ["", f"{nb} - {na}: {diff:+.2f} points; {nb} lower in {lower_b} of {len(seeds)} "
              f"seeds; {verdict}."]
    return lines


def run_all(a, seeds):
    """Trains every seed with both builds, interleaved; returns the runs."""
    builds = [(a.a_name, a.a, describe(a.a)), (a.b_name, a.b, describe(a.b))]
    rows = []
    with tempfile.TemporaryDirectory() as work:
        for seed in seeds:
            for name, build, commit in builds:
                test_acc, seconds = train(build, a.config, seed, work)
                rows.append(dict(zip(HEADER, [seed, name, commit, f"{test_acc:.2f}",
                                              f"{seconds:.1f}"])))
                print(f"[{len(rows)}/{2 * len(seeds)}] seed {seed} {name} ({commit}): "
                      f"{test_acc:.2f} %", flush=True)
    return rows


def main():
    ap = argparse.ArgumentParser(prog=PROG, description=__doc__.split("\n\n")[0])
    ap.add_argument("--a", help="build directory A (the baseline)")
    ap.add_argument("--b", help="build directory B (the change)")
    ap.add_argument("--a-name", default="A")
    ap.add_argument("--b-name", default="B")
    ap.add_argument("--config", default=os.path.join(speed.ROOT, "configs/fmnist_bc.ini"))
    ap.add_argument("--seeds", type=qtexp.parse_seeds, default=list(range(1, 11)),
                    help="comma-separated (default 1,...,10)")
    ap.add_argument("--from-runs", nargs="+", metavar="CSV",
                    help="summarise earlier runs.csv files (same config) instead of training")
    ap.add_argument("--out", default=os.path.join(speed.ROOT, "experiments/results/build_seeds"))
    a = ap.parse_args()
    if a.from_runs:
        rows = [r for path in a.from_runs for r in qtexp.read_csv(path)]
        source = "summarised from " + ", ".join(os.path.basename(os.path.dirname(
            os.path.abspath(p))) + "/" + os.path.basename(p) for p in a.from_runs)
    elif a.a and a.b:
        source = "started " + time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()) + " on " + \
                 speed.cpu_model()
        rows = run_all(a, a.seeds)
    else:
        sys.exit(f"{PROG}: give --a and --b (two build directories), or --from-runs")
    lines = summary_lines(rows, a.config, source)
    os.makedirs(a.out, exist_ok=True)
    if not a.from_runs:
        qtexp.write_csv(os.path.join(a.out, "runs.csv"), HEADER,
                        [[r[k] for k in HEADER] for r in rows])
    with open(os.path.join(a.out, "results.md"), "w") as f:
        f.write("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
