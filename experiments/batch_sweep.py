#!/usr/bin/env python3
"""Batch-size sweep (Li et al. 2017, section 6): SR and BC at batch sizes 64 to 1024 on
Fashion-MNIST, the same number of epochs for every batch size; final test error per batch
size as a table and a plot. The claim to check: SR's error falls as the batch grows (bigger
batches mean less gradient noise, so fewer wrong random flips), BC's much less.

Learning rate (--lr-rule): fixed by default, the same Adam rate 0.003 at every batch size,
as the paper's big-batch SR changes only the batch [R]. Adam's step does not scale with the
gradient's size, and for SR the step size sets the per-step flip probability (about
lr/Δ per weight), so a fixed rate keeps the rounding noise per step the same and changes only
the gradient noise and the number of steps. sqrt and linear scale the rate with the batch
(lr * sqrt(b/128), lr * b/128) for users who want the other convention.
"""

import math

import qtexp
from qtexp import log

BATCHES = [64, 128, 256, 512, 1024]
METHODS = ["sr", "bc"]
LABEL = {"sr": "SR", "bc": "BC"}
NETS = {"convnet": {"epochs": 3}, "mlp": {"epochs": 10}}
LR, REF_BATCH = 0.003, 128


def lr_for(rule, batch):
    scale = {"fixed": 1.0, "sqrt": math.sqrt(batch / REF_BATCH), "linear": batch / REF_BATCH}[rule]
    return LR * scale


def sets_for(args, method, batch, epochs):
    decay = ",".join(str(e) for e in qtexp.step_decay_epochs(epochs))
    sets = [("model.name", args.net), ("data.dataset", "fashion_mnist"), ("data.augment", "false"),
            ("train.seed", args.seed), ("quant.mode", method), ("train.batch_size", batch),
            ("train.epochs", epochs), ("train.optimizer", "adam"),
            ("train.lr", f"{lr_for(args.lr_rule, batch):.6g}"), ("train.schedule", "step"),
            ("train.lr_decay_epochs", decay), ("train.lr_decay_factor", 0.1),
            ("train.eval_every", 0), ("log.every", 10), ("log.checkpoint_every", 0)]
    if args.net == "mlp":
        sets.append(("model.widths", "500,300"))
    if method == "bc":
        sets.append(("quant.eval_float", "true"))
    if args.smoke:
        sets += [("train.max_steps", 2), ("data.train_limit", 2 * max(BATCHES)),
                 ("data.test_limit", 200)]
    return sets


def verdict(err):
    """The claim, in numbers: how much each method gains from batch 64 to 1024."""
    gain = {m: err[m][BATCHES[0]] - err[m][BATCHES[-1]] for m in METHODS}
    holds = gain["sr"] > 0.5 and gain["bc"] < gain["sr"] / 2
    return gain, holds


def main():
    p = qtexp.parser("batch_sweep", __doc__)
    p.add_argument("--net", choices=list(NETS), default="mlp", help="network (default mlp)")
    p.add_argument("--epochs", type=int, default=None, help="epochs per run (default per net)")
    p.add_argument("--lr-rule", choices=["fixed", "sqrt", "linear"], default="fixed",
                   help="learning rate versus batch size (default fixed; see above)")
    p.add_argument("--seed", type=int, default=1, help="train.seed of every run (default 1)")
    args = qtexp.finish_args(p.parse_args(), "batch_sweep")
    epochs = args.epochs or NETS[args.net]["epochs"]
    runs_dir = args.out / "runs"
    err, rows, total = {m: {} for m in METHODS}, [], 0.0
    n = len(METHODS) * len(BATCHES)
    for i, (m, b) in enumerate((m, b) for m in METHODS for b in BATCHES):
        log(f"[{i + 1}/{n}] {LABEL[m]} batch {b}")
        r = qtexp.train(args, f"{args.net}_{m}_b{b}", qtexp.REPO / f"configs/fmnist_{m}.ini",
                        sets_for(args, m, b, epochs), runs_dir, quiet_every=100)
        err[m][b] = r.test_err
        total += r.seconds
        rows.append([LABEL[m], b, r.summary["steps"], lr_for(args.lr_rule, b), r.test_err,
                     r.float_test_err, r.seconds])
        log(f"  {LABEL[m]} batch {b}: test error {r.test_err:.2f}% ({qtexp.duration(r.seconds)})")
    qtexp.write_csv(args.out / "batch_sweep.csv",
                    ["method", "batch", "steps", "lr", "test_err", "float_test_err", "seconds"], rows)
    for m in METHODS:
        qtexp.write_csv(args.out / f"curve_{m}.csv", ["batch", "log2_batch", "test_err"],
                        [[b, math.log2(b), err[m][b]] for b in BATCHES])
    png = args.out / "batch_sweep.png"
    qtexp.qplot(args, png, [args.out / f"curve_{m}.csv" for m in METHODS],
                [LABEL[m] for m in METHODS], "log2_batch", "test_err",
                title=f"Test error vs batch ({args.net}, {epochs} epochs, lr {args.lr_rule})",
                xlabel="log2(batch size)", ylabel="test error %")
    gain, holds = verdict(err)
    table = qtexp.md_table(["batch"] + [f"{LABEL[m]} test error %" for m in METHODS]
                           + ["BC float buffer %", "steps", "lr"],
                           [[b] + [qtexp.pct(err[m][b]) for m in METHODS]
                            + [qtexp.pct(next(r[5] for r in rows if r[0] == "BC" and r[1] == b)),
                               next(r[2] for r in rows if r[0] == "SR" and r[1] == b),
                               f"{lr_for(args.lr_rule, b):.6g}"] for b in BATCHES])
    text = (f"# Batch-size sweep: SR and BC, {args.net} on Fashion-MNIST\n\n"
            + ("**Smoke run: a few steps on tiny data; the numbers mean nothing.**\n\n" if args.smoke else "")
            + f"{epochs} epochs at every batch size (so 16x fewer steps at 1024 than at 64), Adam, "
              f"learning-rate rule `{args.lr_rule}` (base {LR} at batch {REF_BATCH}), the paper's step "
              f"decay scaled to the run, binary weights, seed {args.seed}, one run per cell. "
              f"Training time {qtexp.duration(total)}.\n\n"
            + table
            + f"\nFrom batch {BATCHES[0]} to {BATCHES[-1]} SR's test error changes by "
              f"{-gain['sr']:+.2f} points and BC's by {-gain['bc']:+.2f} points. The paper's claim "
              f"(SR improves as the batch grows, BC much less; read here as SR gaining more than "
              f"0.5 points and BC less than half of SR's gain) "
              f"{'holds' if holds else 'does NOT hold'} in this run.\n\n![batch sweep](batch_sweep.png)\n")
    (args.out / "batch_sweep.md").write_text(text)
    log(f"wrote {args.out / 'batch_sweep.md'}, batch_sweep.csv and {png.name}")


if __name__ == "__main__":
    main()
