#!/usr/bin/env python3
"""Runs one experiment script (experiments/NAME.py) in --smoke mode on generated
Fashion-MNIST-shaped data (tools/mkdata) and checks what it wrote: every table row, numbers
that parse and lie in range, the step counts the smoke settings imply, and PNGs that decode
to the requested size with coloured lines drawn. Exits non-zero with the failed check.

Every script but convex runs with two seeds (--seeds 1,2) and must report mean and sample
std columns.

usage: smoke_test.py NAME   (NAME: table, batch_sweep, greedy_phase, r_recipes or convex)
Needs QTRAIN_SOURCE_ROOT and QTRAIN_BUILD_ROOT (meson test sets both)."""

import csv
import os
import subprocess
import sys
import tempfile
from pathlib import Path

SRC = Path(os.environ["QTRAIN_SOURCE_ROOT"])
BUILD = Path(os.environ["QTRAIN_BUILD_ROOT"])
sys.path.insert(0, str(SRC / "experiments"))
import pngread  # noqa: E402

CHART_W, CHART_H = 900, 600  # qplot's default size, which the scripts keep


def check(cond, what):
    if not cond:
        sys.exit(f"FAILED: {what}")
    print(f"ok: {what}")


def rows(path):
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def number(s, lo, hi, what):
    try:
        v = float(s)
    except ValueError:
        sys.exit(f"FAILED: {what}: '{s}' is not a number")
    check(lo <= v <= hi, f"{what} = {v} in [{lo}, {hi}]")
    return v


def check_png(path):
    w, h, px = pngread.read_png(path)
    check((w, h) == (CHART_W, CHART_H), f"{path.name} decodes to {w}x{h}")
    n = pngread.colored_pixels(px)
    # a line across the plot area is several hundred coloured pixels; axes and text are grey
    check(n >= 300, f"{path.name} has {n} coloured (line) pixels")


def mean_std(r, col, lo, hi, what, seeds=2):
    """The cell's mean in range, its sample std a number >= 0, and one value per seed that
    averages to the mean."""
    m = number(r[f"{col}_mean"], lo, hi, f"{what} {col}_mean")
    number(r[f"{col}_std"], 0, hi - lo, f"{what} {col}_std")
    per_seed = [float(v) for v in r[f"{col}_per_seed"].split(";")] if f"{col}_per_seed" in r else None
    if per_seed is not None:
        check(len(per_seed) == seeds, f"{what} has {seeds} per-seed values")
        check(abs(sum(per_seed) / seeds - m) < 1e-4 * max(1.0, abs(m)), f"{what} mean of the seeds")
    return m


SEEDS = ["--seeds", "1,2"]


def run_script(name, out, data, extra):
    cmd = [sys.executable, str(SRC / "experiments" / f"{name}.py"), "--smoke", "--out", str(out),
           "--data-root", str(data), "--build", str(BUILD)] + extra
    r = subprocess.run(cmd, capture_output=True, text=True)
    print(r.stdout[-3000:])
    check(r.returncode == 0, f"{name}.py --smoke exits 0 (stderr: {r.stderr.strip()[-2000:]})")
    return r.stdout


def test_table(out, data):
    run_script("table", out, data, SEEDS)
    t = rows(out / "table.csv")
    methods = ("FP", "BC", "Big-batch SR", "SR", "R", "frozen")
    want = [(n, m) for n in ("convnet", "mlp") for m in methods]
    check([(r["net"], r["method"]) for r in t] == want, "table.csv has the 12 rows in order")
    for r in t:
        what = f"{r['net']} {r['method']}"
        mean_std(r, "test_err", 0, 100, what)
        check(r["seeds"] == "1;2", f"{what} ran seeds 1 and 2")
        check(r["steps"] == "2", f"{what} stopped after the smoke's 2 steps")
        check(r["batch"] == ("1024" if r["method"] == "Big-batch SR" else "128"),
              f"{what} batch {r['batch']}")
        if r["method"] == "BC":
            mean_std(r, "float_test_err", 0, 100, what)
        if r["method"] in ("FP", "frozen"):
            check(float(r["step_flips_mean"]) == 0.0, f"{what} flips no weight")
    md = (out / "table.md").read_text()
    for label in ("| FP |", "| BC |", "| Big-batch SR |", "| SR |", "| R |", "| frozen |"):
        n = sum(line.startswith(label) for line in md.splitlines())
        check(n == 2, f"table.md has a {label} row in both sections")
    check(md.count(" ± ") >= 12, "table.md gives mean ± std")
    check(md.count("Welch p = ") >= 10, "table.md tests every ordering with Welch's t-test")
    check(md.count("[R]") >= 15, "table.md marks the paper's recalled numbers [R]")
    dry = run_script("table", out, data, ["--scale", "paper", "--dry-run"] + SEEDS)
    cmds = [l for l in dry.splitlines() if l.startswith("build/src/cli/qtrain")]
    check(len(cmds) == 72, f"paper-scale dry run prints 6 nets x 6 rows x 2 seeds commands (got {len(cmds)})")
    for c in cmds:
        config = c.split("--config ")[1].split()[0]
        check((SRC / config).is_file(), f"{config} exists")
    check(sum("train.batch_size=1024" in c for c in cmds) == 12, "one big-batch row per paper net and seed")
    check(sum("quant.mode=frozen" in c for c in cmds) == 12, "one frozen row per paper net and seed")


def test_batch_sweep(out, data):
    run_script("batch_sweep", out, data, ["--net", "mlp"] + SEEDS)
    t = rows(out / "batch_sweep.csv")
    want = [(m, str(b)) for m in ("SR", "BC") for b in (64, 128, 256, 512, 1024)]
    check([(r["method"], r["batch"]) for r in t] == want, "batch_sweep.csv has SR and BC at 64..1024")
    for r in t:
        mean_std(r, "test_err", 0, 100, f"{r['method']} batch {r['batch']}")
        check(r["steps"] == "2", f"{r['method']} batch {r['batch']} took the smoke's 2 steps")
        check(abs(float(r["lr"]) - 0.01) < 1e-12, f"fixed lr rule gives 0.01 at batch {r['batch']}")
    md = (out / "batch_sweep.md").read_text()
    check(md.count(" holds in this run") + md.count("does NOT hold in this run") == 1,
          "batch_sweep.md states one verdict")
    check(md.count("Welch p = ") + md.count("not testable") == 7,
          "batch_sweep.md tests the 7 orderings it states")
    check_png(out / "batch_sweep.png")


def test_greedy_phase(out, data):
    run_script("greedy_phase", out, data, ["--net", "mlp"] + SEEDS)
    for m in ("bc", "sr"):
        e = rows(out / f"epochs_{m}.csv")
        check([r["epoch"] for r in e] == ["1", "2", "3", "4"], f"epochs_{m}.csv has epochs 1..4")
        for r in e:
            number(r["flips"], 0, 1, f"{m} net flips at epoch {r['epoch']}")
            number(r["step_flips_sum"], float(r["flips"]), 1e9, f"{m} step flips >= net flips")
        # the smoke run is 4 epochs: decays after epochs 2 and 3
        lrs = [float(r["lr"]) for r in e]
        check(all(abs(a - b) < 1e-9 for a, b in zip(lrs, [1e-2, 1e-2, 1e-3, 1e-4])),
              f"{m} learning rate per epoch {lrs} follows the step decay")
        st = rows(out / f"steps_{m}.csv")
        check(len(st) == 8, f"steps_{m}.csv has a row per step of the smoke run ({len(st)})")
        check(max(float(r["flips"]) for r in st) > 0, f"{m} flips some weight at some step")
        for r in st:
            number(r["flips"], 0, 1, f"{m} per-step flips at step {r['step']}")
    g = rows(out / "greedy_phase.csv")
    check(sorted({(r["method"], r["seed"]) for r in g}) == [("BC", "1"), ("BC", "2"), ("SR", "1"), ("SR", "2")],
          "greedy_phase.csv has both seeds of both methods")
    check_png(out / "greedy_phase_curves.png")
    check_png(out / "greedy_phase_flips.png")


def test_r_recipes(out, data):
    run_script("r_recipes", out, data, SEEDS)
    t = rows(out / "r_recipes.csv")
    check(len(t) == 9 and t[0]["recipe"] == "frozen", "r_recipes.csv has the 9 recipes, frozen first")
    for r in t:
        mean_std(r, "test_err", 0, 100, r["recipe"])
        number(r["step_flips_mean"], 0, 1e9, f"{r['recipe']} step flips")
        check(r["steps"] == "4", f"{r['recipe']} took the smoke's 4 steps")
    check(float(t[0]["step_flips_mean"]) == 0.0, "frozen flips no weight")
    check(float(next(r for r in t if r["recipe"] == "bc_shipped")["step_flips_mean"]) > 0,
          "BC flips weights")


def test_convex(out, data):
    run_script("convex", out, data, ["--seeds", "2"])
    d = rows(out / "convex_delta_runs.csv")
    check(len(d) == 4 * 5 * 2, f"convex_delta_runs.csv has 4 modes x 5 deltas x 2 seeds rows ({len(d)})")
    lr = rows(out / "convex_lr_runs.csv")
    check(len(lr) == 3 * 5 * 2, f"convex_lr_runs.csv has 3 modes x 5 rates x 2 seeds rows ({len(lr)})")
    for r in d + lr:
        fstar = float(r["optimum_loss"])
        for col in ("loss", "quantized_loss", "averaged_loss", "best_grid_loss"):
            # the float optimum is the minimum of f: nothing may be lower (1e-9 for rounding)
            check(float(r[col]) >= fstar - 1e-9,
                  f"{r['mode']} delta {r['delta']} lr {r['lr0']}: {col} >= f*")
    check_png(out / "convex_delta.png")
    check_png(out / "convex_lr.png")


def main():
    name = sys.argv[1]
    tests = {"table": test_table, "batch_sweep": test_batch_sweep,
             "greedy_phase": test_greedy_phase, "r_recipes": test_r_recipes,
             "convex": test_convex}
    with tempfile.TemporaryDirectory(prefix=f"qtrain-exp-{name}-") as tmp:
        data = Path(tmp) / "data"
        r = subprocess.run([str(BUILD / "tools" / "mkdata"), "idx", str(data), "--train", "2048",
                            "--test", "200"], capture_output=True, text=True)
        check(r.returncode == 0, f"mkdata wrote the test data ({r.stderr.strip()})")
        tests[name](Path(tmp) / "out", data)


if __name__ == "__main__":
    main()
