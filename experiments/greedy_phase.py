#!/usr/bin/env python3
"""The greedy search phase (Li et al. 2017, section 5): BC and SR trained with the paper's
recipe (Adam at 0.01, x0.1 after about 51% and 76% of the run, as 82 and 122 of 160 epochs),
scaled to a short run on Fashion-MNIST, every run once per seed.

Writes:
  greedy_phase_flips.png   the per-step flip rate (train.csv's flips: fraction of binary
                           weights whose value changed at a step; BC: the sign of w_r) against
                           the step, mean over seeds, log scale, the learning-rate decays
                           marked by vertical lines; the learning rate below
  greedy_phase_curves.png  training loss (smoothed) and test error per epoch, mean over seeds
  greedy_phase.md/.csv     per-epoch numbers (mean ± sample std over seeds) and what they show
  steps_<m>.csv, epochs_<m>.csv, curve_<m>.csv  the data behind the charts

The claim: with a float buffer (BC), once the learning rate is small a binary weight flips
only when many small gradient steps agree, so flips fall toward zero (a greedy, descent-only
search); SR has no buffer and keeps flipping weights at random with probability about
step/(2H). Tested here as: BC's per-step flip rate falls by more (last phase / first phase)
than SR's, Welch's t-test on the log10 of that ratio over the seeds.
"""

import math

import qtexp
import seedstats
from qtexp import log

METHODS = ["bc", "sr"]
LABEL = {"bc": "BC", "sr": "SR"}
# 12 short epochs (decays after 6 and 9) of an eighth of the training set, drawn with the seed:
# what six runs allow in about an hour and a half on this loaded machine.
NETS = {"convnet": {"epochs": 12, "fraction": 0.125}, "mlp": {"epochs": 16, "fraction": 0.25}}
BATCH, LOG_EVERY = qtexp.PAPER_BATCH, 5


def sets_for(args, method, epochs, fraction):
    sets = [("model.name", args.net), ("quant.mode", method), ("data.fraction", fraction),
            ("train.batch_size", BATCH)]
    sets += qtexp.paper_recipe(epochs)
    sets += [("train.eval_every", 1), ("log.every", 1 if args.smoke else LOG_EVERY),
             ("log.flips", "true"), ("log.checkpoint_every", 0)]
    if args.net == "mlp":
        sets.append(("model.widths", "500,300"))
    if args.smoke:
        sets += [("data.train_limit", 2 * BATCH), ("data.test_limit", 200)]
    return sets


def epoch_rows(run):
    """Per evaluated epoch: epoch, net flips (eval.csv's flips), the per-step flips summed
    (step_flips_sum), the epoch's last learning rate, its mean training loss, test error."""
    train = run.train_rows()
    rows = []
    for e in run.eval:
        epoch = int(e["epoch"])
        inside = [t for t in train if epoch - 1 < float(t["epoch"]) <= epoch]
        loss = sum(float(t["loss"]) for t in inside) / len(inside) if inside else None
        lr = float(inside[-1]["lr"]) if inside else None
        rows.append([epoch, float(e["flips"]), float(e["step_flips_sum"]), lr, loss,
                     100.0 * (1.0 - float(e["test_acc"]))])
    return rows


def mean_over_seeds(per_seed, columns):
    """Rows of the same shape from every seed: the key columns of the first seed, then the
    mean over seeds of each column in columns (None stays None)."""
    out = []
    for rows in zip(*per_seed):
        row = list(rows[0])
        for c in columns:
            vals = [r[c] for r in rows if r[c] is not None]
            row[c] = seedstats.mean(vals) if vals else None
        out.append(row)
    return out


def step_rows(run):
    """Per logged row: step, the mean per-step flips of its log.every steps, learning rate."""
    return [[int(t["step"]), float(t["flips"]), float(t["lr"])] for t in run.train_rows()]


def phase_rates(rows):
    """Mean per-step flips in each learning-rate phase (rows grouped by their rate), in order."""
    phases = []
    for step, flips, lr in rows:
        if not phases or phases[-1][0] != lr:
            phases.append([lr, []])
        phases[-1][1].append(flips)
    return [(lr, seedstats.mean(v)) for lr, v in phases]


def curve_rows(per_seed_runs):
    """Training loss per logged step (x = fractional epoch) and test error at each evaluated
    epoch, means over seeds, merged in one file so one legend entry carries both panels."""
    trains = [r.train_rows() for r in per_seed_runs]
    rows = [[float(t[0]["epoch"]), seedstats.mean([float(x["loss"]) for x in t]), None]
            for t in zip(*trains)]
    evals = [r.eval for r in per_seed_runs]
    rows += [[float(e[0]["epoch"]), None,
              seedstats.mean([100.0 * (1.0 - float(x["test_acc"])) for x in e])] for e in zip(*evals)]
    return sorted(rows, key=lambda r: (r[0], r[1] is None))


def main():
    p = qtexp.parser("greedy_phase", __doc__)
    p.add_argument("--net", choices=list(NETS), default="convnet", help="network (default convnet)")
    p.add_argument("--epochs", type=int, default=None, help="epochs per run (default per net)")
    p.add_argument("--fraction", type=float, default=None,
                   help="fraction of the training set per epoch, drawn with the seed (default "
                        "0.125 for convnet: more, shorter epochs give the curves more points)")
    p.add_argument("--train-only", choices=METHODS, default=None,
                   help="train only this method's runs and stop (to spread the runs over "
                        "processes; a later run without it reuses them and writes the report)")
    args = qtexp.finish_args(p.parse_args(), "greedy_phase")
    epochs = args.epochs or (4 if args.smoke else NETS[args.net]["epochs"])
    fraction = args.fraction or NETS[args.net]["fraction"]
    decay = qtexp.step_decay_epochs(epochs)
    runs, total = {}, 0.0
    methods = [args.train_only] if args.train_only else METHODS
    for m in methods:
        runs[m] = qtexp.train_seeds(args, f"{args.net}_{m}", qtexp.REPO / f"configs/fmnist_{m}.ini",
                                    sets_for(args, m, epochs, fraction), args.out / "runs",
                                    quiet_every=100)
    qtexp.dispatch(args)
    for m in methods:
        total += sum(r.seconds for r in runs[m])
        log(f"  {LABEL[m]}: test error {seedstats.mean_std_text([r.test_err for r in runs[m]])}%")
    if args.train_only:
        return
    steps_per_epoch = runs["bc"][0].summary["steps"] // max(1, runs["bc"][0].summary["epochs"])
    decay_steps = [d * steps_per_epoch for d in decay]
    per_epoch = {m: [epoch_rows(r) for r in runs[m]] for m in METHODS}
    per_step = {m: [step_rows(r) for r in runs[m]] for m in METHODS}
    for m in METHODS:
        qtexp.write_csv(args.out / f"epochs_{m}.csv",
                        ["epoch", "flips", "step_flips_sum", "lr", "train_loss", "test_err"],
                        mean_over_seeds(per_epoch[m], [1, 2, 4, 5]))
        qtexp.write_csv(args.out / f"steps_{m}.csv", ["step", "flips", "lr"],
                        mean_over_seeds(per_step[m], [1]))
        qtexp.write_csv(args.out / f"curve_{m}.csv", ["epoch", "loss", "test_err"],
                        curve_rows(runs[m]))
    qtexp.qplot(args, args.out / "greedy_phase_flips.png",
                [args.out / f"steps_{m}.csv" for m in METHODS], [LABEL[m] for m in METHODS],
                "step", "flips", y2="lr", logy=True, logy2=True, smooth=4,
                vline=decay_steps,
                title=f"Per-step weight flips ({args.net}), lr x0.1 at the vertical lines",
                ylabel="flips per step (log)", y2label="learning rate (log)")
    qtexp.qplot(args, args.out / "greedy_phase_curves.png",
                [args.out / f"curve_{m}.csv" for m in METHODS], [LABEL[m] for m in METHODS],
                "epoch", "loss", y2="test_err", smooth=25, vline=decay,
                title=f"BC and SR ({args.net}), lr x0.1 after epochs {','.join(map(str, decay))}",
                ylabel="training loss", y2label="test error %")
    write_report(args, runs, per_epoch, per_step, decay, epochs, fraction, total)


def write_report(args, runs, per_epoch, per_step, decay, epochs, fraction, total):
    rows = []
    for k in range(len(per_epoch["bc"][0])):
        e = per_epoch["bc"][0][k]
        cells = [e[0], f"{e[3]:.2g}" if e[3] is not None else None]
        for col, digits in ((2, 3), (1, 4)):
            cells += [seedstats.mean_std_text([s[k][col] for s in per_epoch[m]], digits)
                      for m in METHODS]
        cells += [seedstats.mean_std_text([s[k][5] for s in per_epoch[m]]) for m in METHODS]
        rows.append(cells)
    table = qtexp.md_table(["epoch", "lr"] + [f"{LABEL[m]} step flips summed" for m in METHODS]
                           + [f"{LABEL[m]} net flips" for m in METHODS]
                           + [f"{LABEL[m]} test err %" for m in METHODS], rows)
    rates = {m: [phase_rates(s) for s in per_step[m]] for m in METHODS}
    log_ratio = {m: [math.log10(r[-1][1] / r[0][1]) if r[0][1] > 0 and r[-1][1] > 0 else float("nan")
                     for r in rates[m]] for m in METHODS}
    lines = []
    for m in METHODS:
        phases = list(zip(*[[v for _, v in r] for r in rates[m]]))
        lrs = [lr for lr, _ in rates[m][0]]
        lines.append(f"- {LABEL[m]}: mean per-step flip rate by learning-rate phase "
                     + " -> ".join(f"{seedstats.mean_std_text(list(v), 6)} (lr {lr:g})"
                                   for v, lr in zip(phases, lrs))
                     + f"; log10(last phase / first phase) = "
                       f"{seedstats.mean_std_text(log_ratio[m])}; final test error "
                       f"{seedstats.mean_std_text([r.test_err for r in runs[m]])}%")
    test = seedstats.ordering("BC's log10 ratio", log_ratio["bc"], "SR's log10 ratio", log_ratio["sr"])
    phase_ends = []  # BC against SR at the last epoch of each learning-rate phase
    for end in decay + [epochs]:
        k = end - 1
        for col, what, digits in ((5, "test error %", 2), (1, "net flips", 4)):
            vals = {m: [s[k][col] for s in per_epoch[m]] for m in METHODS}
            phase_ends.append(f"- epoch {end}, {what}: " + seedstats.ordering(
                "BC", vals["bc"], "SR", vals["sr"], digits)["text"])
    lr_drop = len(decay)
    text = (f"# Greedy search phase: BC vs SR ({args.net}, Fashion-MNIST)\n\n"
            + ("**Smoke run: a few steps on tiny data; the numbers mean nothing.**\n\n" if args.smoke else "")
            + f"{epochs} epochs of {fraction:g} of the training set (drawn with each seed), batch "
              f"{BATCH}, the paper's recipe scaled to the run (Adam {qtexp.PAPER_LR}, x0.1 after "
              f"epochs {', '.join(map(str, decay))}), binary weights with BinaryConnect's H, seeds "
              f"{', '.join(map(str, args.seeds))} (mean ± sample std over the seeds). `step flips "
              f"summed`: the epoch's per-step fractions of binary weights whose value changed, "
              f"summed (BC: the sign of w_r); `net flips`: the fraction whose value at the end of "
              f"the epoch differs from its start. Per-step flips are read from train.csv rows "
              f"that average {1 if args.smoke else LOG_EVERY} step(s). "
              f"Training time {qtexp.duration(total)}.\n\n"
            + "\n".join(lines)
            + f"\n\nThe learning rate fell {lr_drop} times by 10x (log10 ratio {-lr_drop}). "
              f"The claim, BC's per-step flips falling by more than SR's: {test['text']}.\n\n"
            + "BC against SR at the end of each learning-rate phase (Welch's t-test, two-sided, "
              f"p < {seedstats.ALPHA}):\n\n" + "\n".join(phase_ends) + "\n\n"
            + "![flips](greedy_phase_flips.png)\n\n![curves](greedy_phase_curves.png)\n\n"
            + table)
    (args.out / "greedy_phase.md").write_text(text)
    qtexp.write_csv(args.out / "greedy_phase.csv",
                    ["method", "seed", "epoch", "flips", "step_flips_sum", "lr", "train_loss",
                     "test_err"],
                    [[LABEL[m], seed] + r for m in METHODS
                     for seed, rows_ in zip(args.seeds, per_epoch[m]) for r in rows_])
    log(f"wrote {args.out / 'greedy_phase.md'}")


if __name__ == "__main__":
    main()
