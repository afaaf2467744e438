#!/usr/bin/env python3
"""Batch-size sweep (Li et al. 2017, section 6): SR and BC at batch sizes 64 to 1024 on
Fashion-MNIST, the same number of epochs for every batch size, every cell once per seed; final
test error per batch size (mean ± sample std over the seeds) as a table and a plot. The claim
to check: SR's error falls as the batch grows (bigger batches mean less gradient noise, so
fewer wrong random flips), BC's much less. Each stated difference is tested with Welch's
t-test (two-sided, p < 0.05).

The recipe is the paper's scaled to the run (qtexp.paper_recipe: Adam, lr 0.01 at batch 128,
x0.1 after about 51% and 76% of the epochs, BinaryConnect's H). Learning rate versus batch
(--lr-rule): fixed by default, the same rate at every batch size, as the paper's big-batch SR
changes only the batch [R]. Adam's step does not scale with the gradient's size, and for SR
the step size sets the per-step flip probability (about lr/(2H) per weight), so a fixed rate
keeps the rounding noise per step the same and changes only the gradient noise and the number
of steps. sqrt and linear scale the rate with the batch (lr * sqrt(b/128), lr * b/128) for
users who want the other convention.
"""

import math

import qtexp
import seedstats
from qtexp import log

BATCHES = [64, 128, 256, 512, 1024]
METHODS = ["sr", "bc"]
LABEL = {"sr": "SR", "bc": "BC"}
# 4 epochs (room for both of the paper's decays) of a quarter of the training set, drawn with
# the seed: what three seeds of ten cells allow in about an hour and a half here.
NETS = {"convnet": {"epochs": 4, "fraction": 0.125}, "mlp": {"epochs": 4, "fraction": 0.25}}
LR, REF_BATCH = qtexp.PAPER_LR, qtexp.PAPER_BATCH


def lr_for(rule, batch):
    scale = {"fixed": 1.0, "sqrt": math.sqrt(batch / REF_BATCH), "linear": batch / REF_BATCH}[rule]
    return LR * scale


def sets_for(args, method, batch, epochs):
    sets = [("model.name", args.net), ("quant.mode", method), ("train.batch_size", batch),
            ("data.fraction", args.fraction)]
    sets += qtexp.paper_recipe(epochs, lr=f"{lr_for(args.lr_rule, batch):.6g}")
    sets += [("train.eval_every", 0), ("log.every", 10), ("log.checkpoint_every", 0)]
    if args.net == "mlp":
        sets.append(("model.widths", "500,300"))
    if method == "bc":
        sets.append(("quant.eval_float", "true"))
    if args.smoke:  # all of the tiny data: the biggest batch needs it
        sets += [("train.max_steps", 2), ("data.fraction", 1),
                 ("data.train_limit", 2 * max(BATCHES)), ("data.test_limit", 200)]
    return sets


def verdict(err):
    """The claim, in numbers: how much each method gains from the smallest batch to the
    largest (difference of the means), whether that gain is significant, and BC vs SR at
    every batch."""
    lo, hi = BATCHES[0], BATCHES[-1]
    gain = {m: seedstats.mean(err[m][lo]) - seedstats.mean(err[m][hi]) for m in METHODS}
    tests = [seedstats.ordering(f"{LABEL[m]} at batch {hi}", err[m][hi], f"{LABEL[m]} at batch {lo}",
                                err[m][lo]) for m in METHODS]
    tests += [seedstats.ordering(f"BC at batch {b}", err["bc"][b], f"SR at batch {b}", err["sr"][b])
              for b in BATCHES]
    holds = tests[0]["significant"] and gain["sr"] > 0.5 and gain["bc"] < gain["sr"] / 2
    return gain, tests, holds


def main():
    p = qtexp.parser("batch_sweep", __doc__)
    p.add_argument("--net", choices=list(NETS), default="mlp", help="network (default mlp)")
    p.add_argument("--epochs", type=int, default=None, help="epochs per run (default 4)")
    p.add_argument("--fraction", type=float, default=None,
                   help="fraction of the training set, drawn with each seed (default 0.25 for "
                        "mlp, 0.125 for convnet)")
    p.add_argument("--lr-rule", choices=["fixed", "sqrt", "linear"], default="fixed",
                   help="learning rate versus batch size (default fixed; see above)")
    args = qtexp.finish_args(p.parse_args(), "batch_sweep")
    epochs = args.epochs or NETS[args.net]["epochs"]
    args.fraction = args.fraction or NETS[args.net]["fraction"]
    runs_dir = args.out / "runs"
    runs, rows, total = {m: {} for m in METHODS}, [], 0.0
    for m, b in ((m, b) for m in METHODS for b in BATCHES):
        runs[m][b] = qtexp.train_seeds(args, f"{args.net}_{m}_b{b}",
                                       qtexp.REPO / f"configs/fmnist_{m}.ini",
                                       sets_for(args, m, b, epochs), runs_dir, quiet_every=100)
    qtexp.dispatch(args)
    for m, b in ((m, b) for m in METHODS for b in BATCHES):
        rs = runs[m][b]
        total += sum(r.seconds for r in rs)
        err = [r.test_err for r in rs]
        ferr = [r.float_test_err for r in rs] if m == "bc" else None
        rows.append([LABEL[m], b, rs[0].summary["steps"], lr_for(args.lr_rule, b), args.seeds,
                     seedstats.mean(err), seedstats.sample_std(err), err,
                     seedstats.mean(ferr) if ferr else None,
                     seedstats.sample_std(ferr) if ferr else None, sum(r.seconds for r in rs)])
        log(f"  {LABEL[m]} batch {b}: test error {seedstats.mean_std_text(err)}%")
    qtexp.write_csv(args.out / "batch_sweep.csv",
                    ["method", "batch", "steps", "lr", "seeds", "test_err_mean", "test_err_std",
                     "test_err_per_seed", "float_test_err_mean", "float_test_err_std", "seconds"],
                    rows)
    err = {m: {b: [r.test_err for r in runs[m][b]] for b in BATCHES} for m in METHODS}
    for m in METHODS:
        qtexp.write_csv(args.out / f"curve_{m}.csv",
                        ["batch", "log2_batch", "test_err", "test_err_std"],
                        [[b, math.log2(b), seedstats.mean(err[m][b]), seedstats.sample_std(err[m][b])]
                         for b in BATCHES])
    png = args.out / "batch_sweep.png"
    qtexp.qplot(args, png, [args.out / f"curve_{m}.csv" for m in METHODS],
                [LABEL[m] for m in METHODS], "log2_batch", "test_err", y2="test_err_std",
                title=f"Test error vs batch ({args.net}, {epochs} epochs, lr {args.lr_rule}, "
                      f"{len(args.seeds)} seeds)",
                xlabel="log2(batch size)", ylabel="test error %, mean over seeds",
                y2label="sample std over seeds")
    gain, tests, holds = verdict(err)
    table = qtexp.md_table(["batch"] + [f"{LABEL[m]} test error %" for m in METHODS]
                           + ["BC float buffer %", "steps", "lr"],
                           [[b] + [seedstats.mean_std_text(err[m][b]) for m in METHODS]
                            + [seedstats.mean_std_text([r.float_test_err for r in runs["bc"][b]]),
                               runs["sr"][b][0].summary["steps"],
                               f"{lr_for(args.lr_rule, b):.6g}"] for b in BATCHES])
    text = (f"# Batch-size sweep: SR and BC, {args.net} on Fashion-MNIST\n\n"
            + ("**Smoke run: a few steps on tiny data; the numbers mean nothing.**\n\n" if args.smoke else "")
            + f"{epochs} epochs of {args.fraction:g} of the training set (drawn with each seed) at "
              f"every batch size (so 16x fewer steps at 1024 than at 64), the "
              f"paper's recipe scaled to the run (Adam, learning-rate rule `{args.lr_rule}`, base "
              f"{LR} at batch {REF_BATCH}, x0.1 after about 51% and 76% of the epochs), binary "
              f"weights with BinaryConnect's H, seeds {', '.join(map(str, args.seeds))}: mean ± "
              f"sample standard deviation over the seeds. Training time {qtexp.duration(total)}.\n\n"
            + table
            + f"\nFrom batch {BATCHES[0]} to {BATCHES[-1]} SR's mean test error changes by "
              f"{-gain['sr']:+.2f} points and BC's by {-gain['bc']:+.2f} points. Welch's t-test "
              f"(two-sided, p < {seedstats.ALPHA}):\n\n"
            + "".join(f"- {t['text']}\n" for t in tests)
            + f"\nThe paper's claim (SR improves as the batch grows, BC much less; read here as "
              f"SR's gain from {BATCHES[0]} to {BATCHES[-1]} significant and above 0.5 points, and "
              f"BC's mean gain less than half of SR's) {'holds' if holds else 'does NOT hold'} "
              f"in this run.\n\n![batch sweep](batch_sweep.png)\n")
    (args.out / "batch_sweep.md").write_text(text)
    log(f"wrote {args.out / 'batch_sweep.md'}, batch_sweep.csv and {png.name}")


if __name__ == "__main__":
    main()
