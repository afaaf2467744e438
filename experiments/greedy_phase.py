#!/usr/bin/env python3
"""The greedy search phase (Li et al. 2017, section 5): BC, SR and R trained with the paper's
step decay (x0.1 after about 51% and 76% of the run, as 82 and 122 of 160 epochs), scaled to
a short run on Fashion-MNIST.

Writes:
  greedy_phase_curves.png  training loss (smoothed) and test error per epoch, BC, SR and R
  greedy_phase_flips.png   per-epoch fraction of binary weights whose sign changed during the
                           epoch (eval.csv's flips), BC and SR, log scale, and the rate below
  greedy_phase.md/.csv     the per-epoch numbers and what they show

The claim: with a float buffer (BC), once the learning rate is small a binary weight flips
only when many small gradient steps agree, so flips fall toward zero (a greedy, descent-only
search); SR has no buffer and keeps flipping weights at random with probability about lr/Δ.
"""

import qtexp
from qtexp import log

METHODS = ["bc", "sr", "r"]
LABEL = {"bc": "BC", "sr": "SR", "r": "R"}
NETS = {"convnet": {"epochs": 16, "fraction": 0.25}, "mlp": {"epochs": 16, "fraction": 1.0}}
LR, BATCH = 0.003, 128


def sets_for(args, method, epochs, fraction):
    decay = ",".join(str(e) for e in qtexp.step_decay_epochs(epochs))
    sets = [("model.name", args.net), ("data.dataset", "fashion_mnist"), ("data.augment", "false"),
            ("data.fraction", fraction), ("train.seed", args.seed), ("quant.mode", method),
            ("train.batch_size", BATCH), ("train.epochs", epochs), ("train.optimizer", "adam"),
            ("train.lr", LR), ("train.schedule", "step"), ("train.lr_decay_epochs", decay),
            ("train.lr_decay_factor", 0.1), ("train.eval_every", 1), ("log.every", 1),
            ("log.flips", "true"), ("log.checkpoint_every", 0)]
    if args.net == "mlp":
        sets.append(("model.widths", "500,300"))
    if args.smoke:
        sets += [("data.train_limit", 2 * BATCH), ("data.test_limit", 200)]
    return sets


def epoch_rows(run):
    """Per evaluated epoch: epoch, flips, the epoch's last learning rate, its mean training
    loss and the test error."""
    train = run.train_rows()
    rows = []
    for e in run.eval:
        epoch = int(e["epoch"])
        inside = [t for t in train if epoch - 1 < float(t["epoch"]) <= epoch]
        loss = sum(float(t["loss"]) for t in inside) / len(inside) if inside else None
        lr = float(inside[-1]["lr"]) if inside else None
        rows.append([epoch, float(e["flips"]), lr, loss, 100.0 * (1.0 - float(e["test_acc"]))])
    return rows


def curve_rows(run):
    """Training loss per logged step (x = fractional epoch) and test error at each evaluated
    epoch, merged in one file so one legend entry carries both panels."""
    rows = [[float(t["epoch"]), float(t["loss"]), None] for t in run.train_rows()]
    rows += [[float(e["epoch"]), None, 100.0 * (1.0 - float(e["test_acc"]))] for e in run.eval]
    return sorted(rows, key=lambda r: (r[0], r[1] is None))


def phase_means(rows, decay):
    """Mean flips per learning-rate phase: epochs up to each decay, and after the last."""
    edges = [0] + decay + [max(r[0] for r in rows)]
    out = []
    for lo, hi in zip(edges, edges[1:]):
        vals = [r[1] for r in rows if lo < r[0] <= hi]
        out.append(sum(vals) / len(vals) if vals else float("nan"))
    return out


def main():
    p = qtexp.parser("greedy_phase", __doc__)
    p.add_argument("--net", choices=list(NETS), default="convnet", help="network (default convnet)")
    p.add_argument("--epochs", type=int, default=None, help="epochs per run (default 16)")
    p.add_argument("--fraction", type=float, default=None,
                   help="fraction of the training set per epoch (default 0.25 for convnet: "
                        "more, shorter epochs give the flips curve more points for the same work)")
    p.add_argument("--seed", type=int, default=1, help="train.seed (default 1)")
    args = qtexp.finish_args(p.parse_args(), "greedy_phase")
    epochs = args.epochs or (4 if args.smoke else NETS[args.net]["epochs"])
    fraction = args.fraction or NETS[args.net]["fraction"]
    decay = qtexp.step_decay_epochs(epochs)
    runs, total = {}, 0.0
    for i, m in enumerate(METHODS):
        log(f"[{i + 1}/{len(METHODS)}] {LABEL[m]}")
        r = qtexp.train(args, f"{args.net}_{m}", qtexp.REPO / f"configs/fmnist_{m}.ini",
                        sets_for(args, m, epochs, fraction), args.out / "runs", quiet_every=100)
        runs[m] = r
        total += r.seconds
        log(f"  {LABEL[m]}: test error {r.test_err:.2f}% ({qtexp.duration(r.seconds)})")
    per_epoch = {m: epoch_rows(runs[m]) for m in METHODS}
    for m in METHODS:
        qtexp.write_csv(args.out / f"epochs_{m}.csv",
                        ["epoch", "flips", "lr", "train_loss", "test_err"], per_epoch[m])
        qtexp.write_csv(args.out / f"curve_{m}.csv", ["epoch", "loss", "test_err"], curve_rows(runs[m]))
    qtexp.qplot(args, args.out / "greedy_phase_curves.png",
                [args.out / f"curve_{m}.csv" for m in METHODS], [LABEL[m] for m in METHODS],
                "epoch", "loss", y2="test_err", smooth=25,
                title=f"BC, SR, R ({args.net}), lr x0.1 after epochs {','.join(map(str, decay))}",
                ylabel="training loss", y2label="test error %")
    qtexp.qplot(args, args.out / "greedy_phase_flips.png",
                [args.out / f"epochs_{m}.csv" for m in ("bc", "sr")], ["BC", "SR"],
                "epoch", "flips", y2="lr", logy=True, logy2=True,
                title=f"Binary weights that changed sign per epoch ({args.net})",
                ylabel="flips per epoch (log)", y2label="learning rate (log)")
    write_report(args, runs, per_epoch, decay, epochs, fraction, total)


def write_report(args, runs, per_epoch, decay, epochs, fraction, total):
    rows = []
    for k in range(len(per_epoch["bc"])):
        e = per_epoch["bc"][k]
        rows.append([e[0], f"{e[2]:.2g}" if e[2] is not None else None]
                    + [f"{per_epoch[m][k][1]:.5f}" for m in METHODS]
                    + [qtexp.pct(per_epoch[m][k][4]) for m in METHODS])
    table = qtexp.md_table(["epoch", "lr"] + [f"{LABEL[m]} flips" for m in METHODS]
                           + [f"{LABEL[m]} test err %" for m in METHODS], rows)
    phases = {m: phase_means(per_epoch[m], decay) for m in METHODS}
    lines = []
    for m in METHODS:
        ph = phases[m]
        ratio = ph[-1] / ph[0] if ph[0] > 0 else float("nan")
        lines.append(f"- {LABEL[m]}: mean flips per epoch by learning-rate phase "
                     + " -> ".join(f"{v:.5f}" for v in ph)
                     + f"; last phase / first phase = {ratio:.3g}; final test error "
                       f"{runs[m].test_err:.2f}%")
    bc_ratio = phases["bc"][-1] / phases["bc"][0] if phases["bc"][0] > 0 else float("nan")
    sr_ratio = phases["sr"][-1] / phases["sr"][0] if phases["sr"][0] > 0 else float("nan")
    lr_ratio = 0.1 ** len(decay)
    text = (f"# Greedy search phase: BC vs SR vs R ({args.net}, Fashion-MNIST)\n\n"
            + ("**Smoke run: a few steps on tiny data; the numbers mean nothing.**\n\n" if args.smoke else "")
            + f"{epochs} epochs of {fraction:g} of the training set, batch {BATCH}, Adam lr {LR} x0.1 "
              f"after epochs {', '.join(map(str, decay))}, binary weights, seed {args.seed}. "
              f"`flips` = fraction of binary weights whose sign at the end of the epoch differs "
              f"from the start (BC: the sign of the float buffer). Training time "
              f"{qtexp.duration(total)}.\n\n"
            + "\n".join(lines)
            + f"\n\nThe learning rate fell by {1 / lr_ratio:g}x. BC's flips fell by "
              f"{1 / bc_ratio if bc_ratio > 0 else float('inf'):.3g}x, SR's by "
              f"{1 / sr_ratio if sr_ratio > 0 else float('inf'):.3g}x. The claim (BC's flips drop "
              f"toward zero after the decays, SR's do not; read here as BC's falling by more than "
              f"the learning rate and by at least 10x more than SR's) "
              f"{'holds' if bc_ratio < lr_ratio and bc_ratio * 10 <= sr_ratio else 'does NOT hold'} "
              f"in this run.\n\n"
            + "![curves](greedy_phase_curves.png)\n\n![flips](greedy_phase_flips.png)\n\n"
            + table)
    (args.out / "greedy_phase.md").write_text(text)
    qtexp.write_csv(args.out / "greedy_phase.csv",
                    ["method", "epoch", "flips", "lr", "train_loss", "test_err"],
                    [[LABEL[m]] + r for m in METHODS for r in per_epoch[m]])
    log(f"wrote {args.out / 'greedy_phase.md'}")


if __name__ == "__main__":
    main()
