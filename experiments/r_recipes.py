#!/usr/bin/env python3
"""Does R (w <- Q_d(w + step), no float buffer) move? Short Fashion-MNIST runs of the small
conv net under each candidate reading of the paper's recipe and BinaryConnect's code, every
one once per seed, beside the frozen baseline (binary weights never updated; biases and batch
norm train) and, for reference, SR and BC under the shipped recipe.

On the binary grid {-H, +H}, R flips a weight only when one step, c * lr * u (u: Adam's
normalized direction, c: the layer's step scale), reaches H against the weight's sign. The
candidates differ in H, c and lr (experiments/README.md says where each comes from):
the runs count the flips (train.csv/eval.csv) and measure the test error after
--steps steps at a constant rate (no decay: the decays only make steps smaller).

Writes r_recipes.md and r_recipes.csv: per candidate, the per-step flip fractions summed over
the run, the fraction of weights whose sign differs from the start, and the test error, mean ±
sample std over the seeds, each error compared with frozen's by Welch's t-test.
"""

import qtexp
import seedstats
from qtexp import log

# name, description, quant.mode, quant.scale, quant.scale_value, quant.step_scale, lr
RECIPES = [
    ("frozen", "frozen baseline: binary weights never move (H = Glorot coefficient)",
     "frozen", "glorot", 1, "none", 0.01),
    ("r_shipped", "R, H = Glorot coefficient sqrt(1.5/(fan_in+fan_out)), lr 0.01: the shipped "
     "recipe (BinaryConnect's scripts, up to batch norm's scale invariance)",
     "r", "glorot", 1, "none", 0.01),
    ("r_bc_literal", "R, H = 1 and steps x W_LR_scale = 1/sqrt(1.5/(fan_in+fan_out)), lr 0.01: "
     "BinaryConnect's scripts to the letter", "r", "const", 1, "glorot", 0.01),
    ("r_mean_abs", "R, H = mean |w| of the initial weights, lr 0.01: qtrain's former default",
     "r", "mean_abs", 1, "none", 0.01),
    ("r_both_glorot", "R, H = Glorot coefficient and steps x W_LR_scale, lr 0.01: both Glorot "
     "options of binary_connect.py at once (no script of BinaryConnect does this)",
     "r", "glorot", 1, "glorot", 0.01),
    ("r_lr_0.02", "R, H = Glorot coefficient, lr 0.02 (2x the paper's; ours)",
     "r", "glorot", 1, "none", 0.02),
    ("r_lr_0.03", "R, H = Glorot coefficient, lr 0.03 (3x the paper's; ours)",
     "r", "glorot", 1, "none", 0.03),
    ("sr_shipped", "SR, the shipped recipe (reference)", "sr", "glorot", 1, "none", 0.01),
    ("bc_shipped", "BC, the shipped recipe (reference)", "bc", "glorot", 1, "none", 0.01),
]
BATCH = qtexp.PAPER_BATCH


def sets_for(args, recipe):
    _, _, mode, scale, value, step_scale, lr = recipe
    sets = [("model.name", "convnet"), ("data.dataset", "fashion_mnist"), ("data.augment", "false"),
            ("data.train_limit", args.steps * BATCH), ("train.batch_size", BATCH),
            ("train.epochs", 1), ("train.optimizer", "adam"), ("train.lr", lr),
            ("train.schedule", "constant"), ("quant.mode", mode), ("quant.grid", "binary"),
            ("quant.bits", 1), ("quant.scale", scale), ("quant.scale_value", value),
            ("quant.step_scale", step_scale), ("train.eval_every", 1), ("log.every", 10),
            ("log.flips", "true"), ("log.checkpoint_every", 0)]
    if args.smoke:
        sets += [("data.test_limit", 200), ("data.train_limit", 4 * BATCH)]
    return sets


def main():
    p = qtexp.parser("r_recipes", __doc__)
    p.add_argument("--steps", type=int, default=300, help="steps per run (default 300)")
    args = qtexp.finish_args(p.parse_args(), "r_recipes")
    results, total = {}, 0.0
    for rec in RECIPES:
        results[rec[0]] = qtexp.train_seeds(args, rec[0], qtexp.REPO / f"configs/fmnist_{rec[2]}.ini",
                                            sets_for(args, rec), args.out / "runs", quiet_every=100)
    qtexp.dispatch(args)
    for rec in RECIPES:
        rs = results[rec[0]]
        total += sum(r.seconds for r in rs)
        log(f"  {rec[0]}: test error {seedstats.mean_std_text([r.test_err for r in rs])}%, "
            f"step flips summed {seedstats.mean([r.step_flips for r in rs]):.3g}")
    frozen = [r.test_err for r in results["frozen"]]
    rows, csv_rows = [], []
    for rec in RECIPES:
        rs = results[rec[0]]
        err = [r.test_err for r in rs]
        step_flips = [r.step_flips for r in rs]
        net_flips = [float(r.eval[-1]["flips"]) for r in rs]
        vs = None if rec[0] == "frozen" else seedstats.ordering(rec[0], err, "frozen", frozen)
        rows.append([f"`{rec[0]}`", rec[1], seedstats.mean_std_text(step_flips, 6),
                     seedstats.mean_std_text(net_flips, 6), seedstats.mean_std_text(err),
                     None if vs is None else vs["text"].split(": ", 1)[1]])
        csv_rows.append([rec[0], rec[2], rec[3], rec[4], rec[5], rec[6], rs[0].summary["steps"],
                         args.seeds, seedstats.mean(step_flips), seedstats.sample_std(step_flips),
                         seedstats.mean(net_flips), seedstats.mean(err), seedstats.sample_std(err),
                         err, None if vs is None else vs["p"]])
    qtexp.write_csv(args.out / "r_recipes.csv",
                    ["recipe", "mode", "scale", "scale_value", "step_scale", "lr", "steps", "seeds",
                     "step_flips_mean", "step_flips_std", "net_flips_mean", "test_err_mean",
                     "test_err_std", "test_err_per_seed", "welch_p_vs_frozen"], csv_rows)
    text = ("# Does R move? Candidate recipes on Fashion-MNIST\n\n"
            + ("**Smoke run: a few steps on tiny data; the numbers mean nothing.**\n\n" if args.smoke else "")
            + f"Small conv net, {results['frozen'][0].summary['steps']} steps of batch {BATCH} "
              f"(one pass over {args.steps * BATCH} training images), Adam at a constant rate, "
              f"binary weights (first and last layer included), test error on the full test set, "
              f"seeds {', '.join(map(str, args.seeds))} (mean ± sample std). `step flips summed`: "
              f"per-step fractions of binary weights whose sign changed, summed over the run; "
              f"`net flips`: fraction whose sign at the end differs from the start. Last column: "
              f"the candidate's test error against frozen's, Welch's t-test (two-sided, p < "
              f"{seedstats.ALPHA}). Training time {qtexp.duration(total)}.\n\n"
            + qtexp.md_table(["recipe", "what", "step flips summed", "net flips", "test error %",
                              "below frozen's error?"], rows))
    (args.out / "r_recipes.md").write_text(text)
    log(f"wrote {args.out / 'r_recipes.md'} and r_recipes.csv")


if __name__ == "__main__":
    main()
