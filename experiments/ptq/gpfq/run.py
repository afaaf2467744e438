#!/usr/bin/env python3
"""GPFQ, AdaRound and MSQ on a Fashion-MNIST MLP, over seeds, hyperparameters chosen on a
validation split.

The paper's MLP 784-500-300-10 with batchnorm (configs/fmnist_mlp_fp.ini), trained here for
EPOCHS epochs per seed (train.seed = s), is quantized by each method at each bit width with
qquant --seed s: C_alpha (the alphabet's scale, the same alphabet for all three methods) is
chosen among CALPHAS by accuracy on VAL held-out training images, and only the chosen value
is tested. GPFQ and AdaRound learn from CALIB training images after the validation ones;
MSQ uses none. Weights only (activations float). Writes <out>/results.md; runs and summaries
go to <out>/runs.
"""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
import ptqexp  # noqa: E402
from ptqexp import qtexp  # noqa: E402

EPOCHS, VAL, CALIB = 3, 2000, 2000
CALPHAS = "2,3,4"
BITS = [1.58, 3]
ADAROUND = ["--adaround-iters", 200, "--adaround-batch", 64]
METHODS = ["gpfq", "adaround", "msq"]


def main():
    ap = qtexp.parser("gpfq", __doc__.splitlines()[0])
    args = qtexp.finish_args(ap.parse_args(), "ptq/gpfq")
    runs = args.out / "runs"
    smoke = [("data.train_limit", 3000), ("data.test_limit", 500)] if args.smoke else []
    epochs = 1 if args.smoke else EPOCHS
    val, calib = (300, 300) if args.smoke else (VAL, CALIB)
    nets = qtexp.train_seeds(args, "mlp", qtexp.REPO / "configs/fmnist_mlp_fp.ini",
                             [("train.epochs", epochs)] + smoke, runs, keep_checkpoints=True)
    qtexp.dispatch(args)  # trains them (--jobs, or --emit-commands: print and exit)
    floats = [n.summary["test_acc"] for n in nets]
    res = {}
    for bits in BITS:
        for m in METHODS:
            res[bits, m] = [
                ptqexp.quantize(args, f"q/{m}-{bits}_s{seed}", ptqexp.checkpoint(net),
                                ["--method", m, "--bits", bits, "--sweep-calpha", CALPHAS,
                                 "--val-images", val, "--calib-images", calib, "--seed", seed]
                                + (ADAROUND if m == "adaround" else []), runs)
                for seed, net in zip(args.seeds, nets)]
    qtexp.dispatch(args)  # runs the quantizations (--jobs, or --emit-commands)
    seeds = ",".join(str(s) for s in args.seeds)
    lines = ["# GPFQ, AdaRound and MSQ on Fashion-MNIST (experiments/ptq/gpfq/run.py)", "",
             f"MLP 784-500-300-10, {epochs} epochs per seed; seeds {seeds}; float test accuracy "
             f"{qtexp.pct(100 * sum(floats) / len(floats))}% (mean). Test accuracy in %, mean ± sample "
             f"std over the seeds; C_alpha chosen among {CALPHAS} on {val} validation images "
             f"(per seed, in parentheses).", "",
             "| bits | " + " | ".join(METHODS) + " |", "|---|" + "---|" * len(METHODS)]
    for bits in BITS:
        cells = [f"{ptqexp.acc_cell(res[bits, m])} "
                 f"({','.join('%g' % s['calpha'] for s in res[bits, m])})" for m in METHODS]
        lines.append(f"| {bits} | " + " | ".join(cells) + " |")
    lines += ptqexp.orderings(res, BITS, (("gpfq", "msq"), ("adaround", "msq"), ("gpfq", "adaround")),
                              lambda b: f"{b} bits")
    ptqexp.write(args, lines)


if __name__ == "__main__":
    main()
