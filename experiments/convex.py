#!/usr/bin/env python3
"""The convex case (Li et al. 2017, section 4): quantized least squares on synthetic data,
f(w) = 1/(2m) ||A w - b||^2 with A 500 x 10 Gaussian and b = A w* + 0.1 noise, trained by
minibatch SGD (batch 10) on the grid ΔZ with qtrain's own update rules (tools/qconvex, which
runs include/qtrain/least_squares.h, the code tests/quant/test_convex.c checks).

Two sweeps, each averaged over --seeds runs. Per run: the loss of the iterates averaged over
the second half (BC: of the float buffer w_r and of the quantized Q(w_r)), and the loss at
the average iterate of the second half (off the grid; the point the paper's bounds are about):
  versus Δ:   lr_t = 0.1 / (1 + t/1000), 20000 steps (the test's setting), Δ = 0.025 .. 0.4
  versus lr:  a constant rate lr0 = 0.3 .. 0.003 at Δ = 0.1, 2000 / lr0 steps, so every run
              covers the same distance; constant so each run reaches its stationary regime

What the theory says: SR's error has a floor linear in Δ that a smaller rate does not lower
(the rate only slows it down); BC's float iterate w_r gets within O(Δ) and keeps refining as
the rate falls. The excess loss f - f* is plotted on a log scale.
"""

import math
import subprocess
import sys
from collections import defaultdict

import qtexp
from qtexp import log

DELTAS = [0.025, 0.05, 0.1, 0.2, 0.4]
LRS = [0.3, 0.1, 0.03, 0.01, 0.003]
LR_DELTA = 0.1
# series plotted: (name, mode, column of qconvex's CSV)
SERIES = [("SR", "sr", "loss"), ("BC float w_r", "bc", "loss"),
          ("BC quantized Q(w_r)", "bc", "quantized_loss"), ("R", "r", "loss"),
          ("SR averaged", "sr", "averaged_loss"), ("BC averaged w_r", "bc", "averaged_loss")]


def qconvex(args, out_csv, extra):
    cmd = [str(qtexp.tool(args, "tools/qconvex")), "--out", str(out_csv),
           "--seeds", str(args.seeds)] + extra
    log("  " + " ".join(cmd[1:]))
    r = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    if r.returncode != 0:
        sys.exit(f"error: {r.stderr.strip()}")
    return qtexp.read_csv(out_csv)


def means(rows, key):
    """Mean of every loss column over seeds, per (mode, key value)."""
    acc = defaultdict(lambda: defaultdict(list))
    for r in rows:
        for col in ("loss", "quantized_loss", "averaged_loss", "optimum_loss", "best_grid_loss"):
            acc[(r["mode"], float(r[key]))][col].append(float(r[col]))
    return {k: {c: sum(v) / len(v) for c, v in cols.items()} for k, cols in acc.items()}


def series_files(args, stem, xs, xcol, xfun, m, fstar, best=None):
    """One CSV per plotted series (x, excess loss), for qplot; returns paths and labels."""
    files, labels = [], []
    for name, mode, col in SERIES:
        path = args.out / f"{stem}_{mode}_{col}.csv"
        qtexp.write_csv(path, [xcol, "excess_loss"],
                        [[xfun(x), m[(mode, x)][col] - fstar] for x in xs])
        files.append(path)
        labels.append(name)
    if best:
        path = args.out / f"{stem}_best_grid.csv"
        qtexp.write_csv(path, [xcol, "excess_loss"], [[xfun(x), best[x] - fstar] for x in xs])
        files.append(path)
        labels.append("best grid point")
    return files, labels


def main():
    p = qtexp.parser("convex", __doc__, seeds=False)
    p.add_argument("--seeds", type=int, default=5, help="runs per setting (default 5)")
    args = qtexp.finish_args(p.parse_args(), "convex")
    budget = 20 if args.smoke else 2000
    delta_steps_budget = 200 if args.smoke else 2000  # 20000 steps at lr0 = 0.1
    log("[1/2] final loss versus Δ")
    drows = qconvex(args, args.out / "convex_delta_runs.csv",
                    ["--modes", "fp,bc,sr,r", "--deltas", ",".join(map(str, DELTAS)),
                     "--lrs", "0.1", "--budget", str(delta_steps_budget), "--halflife", "1000",
                     "--quiet"])
    log("[2/2] final loss versus the learning rate")
    lrows = qconvex(args, args.out / "convex_lr_runs.csv",
                    ["--modes", "bc,sr,r", "--deltas", str(LR_DELTA), "--lrs", ",".join(map(str, LRS)),
                     "--budget", str(budget), "--halflife", "1e12", "--quiet"])
    dm, lm = means(drows, "delta"), means(lrows, "lr0")
    fstar = dm[("fp", DELTAS[0])]["optimum_loss"]
    best = {d: dm[("sr", d)]["best_grid_loss"] for d in DELTAS}
    fp_loss = dm[("fp", DELTAS[0])]["loss"]

    files, labels = series_files(args, "delta", DELTAS, "log2_delta", math.log2, dm, fstar, best)
    qtexp.qplot(args, args.out / "convex_delta.png", files, labels, "log2_delta", "excess_loss",
                logy=True, title="Least squares on the grid: excess loss vs grid step",
                xlabel="log2(grid step delta)", ylabel="f - f* (log scale)")
    files, labels = series_files(args, "lr", LRS, "log10_lr", math.log10, lm, fstar)
    qtexp.qplot(args, args.out / "convex_lr.png", files, labels, "log10_lr", "excess_loss",
                logy=True, title=f"Least squares on the grid (delta {LR_DELTA}): excess loss vs rate",
                xlabel="log10(constant learning rate)", ylabel="f - f* (log scale)")

    dtable = qtexp.md_table(
        ["Δ", "SR", "BC w_r", "BC Q(w_r)", "R", "SR averaged", "BC averaged w_r", "best grid point"],
        [[d] + [f"{dm[(mode, d)][col] - fstar:.5f}" for _, mode, col in SERIES]
         + [f"{best[d] - fstar:.5f}"] for d in DELTAS])
    ltable = qtexp.md_table(
        ["lr", "steps", "SR", "BC w_r", "BC Q(w_r)", "R", "SR averaged", "BC averaged w_r"],
        [[lr, math.ceil(budget / lr)] + [f"{lm[(mode, lr)][col] - fstar:.5f}" for _, mode, col in SERIES]
         for lr in LRS])
    sr_d = [dm[("sr", d)]["loss"] - fstar for d in DELTAS]
    sr_l = [lm[("sr", lr)]["loss"] - fstar for lr in LRS]
    bc_l = [lm[("bc", lr)]["loss"] - fstar for lr in LRS]
    slope = (math.log(sr_d[-1]) - math.log(sr_d[0])) / (math.log(DELTAS[-1]) - math.log(DELTAS[0]))
    text = ("# Convex case: quantized least squares\n\n"
            + ("**Smoke run: short runs; the numbers mean nothing.**\n\n" if args.smoke else "")
            + "f(w) = 1/(2m)||Aw - b||², A 500 x 10 Gaussian, b = Aw* + 0.1·noise, minibatch SGD "
              f"(batch 10) through qtrain's update rules, {args.seeds} seeds per cell. Columns SR, BC "
              "w_r, BC Q(w_r), R: the loss of the iterates averaged over the second half of each "
              "run; 'averaged': the loss at the average iterate of the second half (not a grid "
              "point; the theory's bounds are stated for it). Entries are the excess loss f - f* "
              f"(f* = {fstar:.5f}, the float optimum; FP SGD reaches {fp_loss - fstar:.5f} above it).\n\n"
              f"## Versus the grid step Δ (lr 0.1/(1 + t/1000), {math.ceil(delta_steps_budget / 0.1)} steps)\n\n"
            + dtable
            + f"\nSR's excess loss grows like Δ^{slope:.2f} between Δ = {DELTAS[0]} and {DELTAS[-1]} "
              "(the theory's floor is linear in Δ, slope 1; the best grid point's own excess grows "
              "like Δ², slope 2).\n\n![versus delta](convex_delta.png)\n\n"
              f"## Versus a constant learning rate (Δ = {LR_DELTA}, {budget:g}/lr steps)\n\n" + ltable
            + f"\nFrom lr {LRS[0]} to {LRS[-1]} (100x smaller) SR's excess loss goes "
              f"{sr_l[0]:.5f} -> {sr_l[-1]:.5f} ({sr_l[0] / sr_l[-1]:.2g}x lower) and BC's float "
              f"iterate {bc_l[0]:.5f} -> {bc_l[-1]:.5f} ({bc_l[0] / bc_l[-1]:.2g}x lower).\n\n"
              "![versus lr](convex_lr.png)\n")
    (args.out / "convex.md").write_text(text)
    log(f"wrote {args.out / 'convex.md'}")


if __name__ == "__main__":
    main()
