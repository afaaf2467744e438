#!/usr/bin/env python3
"""Li et al. 2017, Table 1: final test error of FP, BC, big-batch SR, SR and R on the same
net and data, and beside R the frozen baseline (binary weights never updated; only biases and
batch norm train), as Markdown tables with mean ± sample std over seeds, next to the paper's
pattern (FP < BC < big-batch SR < SR <~ R) and the paper's numbers where known (all of them
unverified recollections, marked [R]). Every stated ordering is tested with Welch's t-test.

Scales:
  small  Fashion-MNIST (the real data) with the small conv net and with the MLP
         784-500-300-10, the paper's recipe scaled to a short run (qtexp.paper_recipe).
  paper  the paper's nets and data (configs/vgg9_*, vggbc_*, resnet56_*, wrn56_2_*,
         resnet56_cifar100_*, resnet18_imagenet_*); CIFAR and ImageNet must be brought by
         the user (datasets/README.md). Days on a CPU: --estimate measures the speed with
         qbench and prints the hours; --dry-run prints the commands.

Every row is one qtrain run per seed with the settings below; only quant.mode (and the batch
for big-batch SR) changes between the rows of a net.
"""

import json
import subprocess
import sys

import qtexp
import seedstats
from qtexp import log

METHODS = ["fp", "bc", "bigsr", "sr", "r", "frozen"]
LABEL = {"fp": "FP", "bc": "BC", "bigsr": "Big-batch SR", "sr": "SR", "r": "R",
         "frozen": "frozen"}
BATCH, BIG_BATCH = qtexp.PAPER_BATCH, 1024  # big-batch SR: 8x the batch, as recalled [R]

# Small scale: budgets chosen so all rows of both nets for three seeds fit about 2 hours on
# this shared, heavily loaded 2-core machine. Each net trains 4 epochs (room for both of the
# paper's decays, after epochs 2 and 3) of a fraction of the training set drawn with the seed.
SMALL = {
    "convnet": {"title": "Fashion-MNIST, small conv net (32C3-MP-64C3-MP-FC256-FC10)",
                "epochs": 4, "fraction": 0.125},
    "mlp": {"title": "Fashion-MNIST, MLP 784-500-300-10 (batch norm)", "epochs": 4,
            "fraction": 0.25},
}

# Paper scale: net -> (base config, model name for qbench, qbench extra args, training images)
PAPER = {
    "vgg9": ("configs/vgg9_bc.ini", "vgg9", [], 50000),
    "vggbc": ("configs/vggbc_bc.ini", "vgg_bc", [], 50000),
    "resnet56": ("configs/resnet56_bc.ini", "resnet56", [], 50000),
    "wrn56_2": ("configs/wrn56_2_bc.ini", "wrn56_2", [], 50000),
    "resnet56_cifar100": ("configs/resnet56_cifar100_bc.ini", "resnet56", ["--classes", "100"], 50000),
    "resnet18_imagenet": ("configs/resnet18_imagenet_bc.ini", "resnet18",
                          ["--image-size", "224"], 1281167),
}

# Li et al. 2017 Table 1 test error (%), columns FP, BC, Big SR, SR, R. From memory only
# (shared/reference/li2017-binaryconnect.md section 6: "low confidence; do not use as targets
# without checking the PDF"); the WRN-56-2 and ResNet-56 rows are not recalled at all.
PAPER_NUMBERS_R = {
    "VGG-9 / CIFAR-10": [7.97, 10.36, 16.95, 23.33, 23.99],
    "VGG-BC / CIFAR-10": [7.08, 8.21, 16.77, 20.56, 21.89],
    "ResNet-18 / ImageNet (top-1)": [36.6, 52.7, 70.0, 77.7, 90.0],
}



def row_sets(method, epochs):
    mode = "sr" if method == "bigsr" else method
    sets = [("quant.mode", mode), ("train.batch_size", BIG_BATCH if method == "bigsr" else BATCH)]
    if epochs is not None:
        sets += qtexp.paper_recipe(epochs)
    if mode == "bc":
        sets.append(("quant.eval_float", "true"))  # also report BC's float buffer
    return sets


def small_sets(net, method, smoke):
    sets = [("model.name", net)]
    if net == "mlp":
        sets.append(("model.widths", "500,300"))
    sets += row_sets(method, SMALL[net]["epochs"])
    sets += [("data.fraction", SMALL[net]["fraction"]), ("train.eval_every", 1), ("log.every", 10), ("log.checkpoint_every", 0)]
    if smoke:  # all of the tiny data: a big batch needs it
        sets += [("train.max_steps", 2), ("data.fraction", 1), ("data.train_limit", 2 * BIG_BATCH),
                 ("data.test_limit", 200)]
    return sets


def pattern_checks(err):
    """The paper's ordering, comparison by comparison, and R against the frozen baseline:
    seedstats.ordering dicts (lower test error is better)."""
    pairs = [("fp", "bc"), ("bc", "bigsr"), ("bigsr", "sr"), ("sr", "r"), ("bc", "sr"),
             ("r", "frozen")]
    return [seedstats.ordering(LABEL[a], err[a], LABEL[b], err[b]) for a, b in pairs]


def run_small(args):
    runs_dir = args.out / "runs"
    sections, csv_rows, total = [], [], 0.0
    nets = args.nets.split(",") if args.nets else list(SMALL)
    for net in nets:
        if net not in SMALL:
            sys.exit(f"error: --nets: unknown net '{net}' at small scale (choose from {', '.join(SMALL)})")
    all_runs = {}
    for net in nets:
        for method in METHODS:
            mode = "sr" if method == "bigsr" else method
            all_runs.setdefault(net, {})[method] = qtexp.train_seeds(
                args, f"{net}_{method}", qtexp.REPO / f"configs/fmnist_{mode}.ini",
                small_sets(net, method, args.smoke), runs_dir, quiet_every=100)
    qtexp.dispatch(args)
    for net in nets:
        s = SMALL[net]
        runs = all_runs[net]
        for method in METHODS:
            rs = runs[method]
            total += sum(r.seconds for r in rs)
            log(f"  {s['title']}, {LABEL[method]}: test error "
                f"{seedstats.mean_std_text([r.test_err for r in rs])}%")
        sections.append(small_section(net, s, runs))
        for m in METHODS:
            rs = runs[m]
            err = [r.test_err for r in rs]
            ferr = [r.float_test_err for r in rs] if m == "bc" else None
            flips = [r.step_flips for r in rs]
            csv_rows.append([net, LABEL[m], BIG_BATCH if m == "bigsr" else BATCH, s["epochs"],
                             rs[0].summary["steps"], args.seeds, seedstats.mean(err),
                             seedstats.sample_std(err), err,
                             seedstats.mean(ferr) if ferr else None,
                             seedstats.sample_std(ferr) if ferr else None,
                             seedstats.mean(flips), sum(r.seconds for r in rs)])
    qtexp.write_csv(args.out / "table.csv",
                    ["net", "method", "batch", "epochs", "steps", "seeds", "test_err_mean",
                     "test_err_std", "test_err_per_seed", "float_test_err_mean",
                     "float_test_err_std", "step_flips_mean", "seconds"], csv_rows)
    head = ("# Li et al. 2017, Table 1 at small scale: test error (%)\n\n"
            + ("**Smoke run: a few steps on tiny data; the numbers mean nothing.**\n\n" if args.smoke else "")
            + f"Fashion-MNIST (60k train / 10k test images), seeds {', '.join(map(str, args.seeds))} "
              f"(mean ± sample standard deviation over the seeds), the paper's recipe scaled to "
              f"the run: Adam at {qtexp.PAPER_LR}, x0.1 after about 51% and 76% of the epochs, "
              f"batch {BATCH} (big-batch SR: {BIG_BATCH}); every conv and linear weight binary with "
              f"BinaryConnect's H = sqrt(1.5 / (fan_in + fan_out)) per layer. Test error is "
              f"measured with the binary weights; BC's float buffer is shown beside it. frozen: "
              f"the binary weights stay at their initial signs, only biases and batch norm "
              f"train. `weight flips`: the per-step fractions of binary weights that changed, "
              f"summed over the run (1.0 = as many flips as weights). Orderings are tested with "
              f"Welch's t-test (two-sided, p < {seedstats.ALPHA}). Training time: "
              f"{qtexp.duration(total)} summed over all runs (several ran at once).\n\n")
    (args.out / "table.md").write_text(head + "\n".join(sections) + "\n" + paper_section())
    log(f"wrote {args.out / 'table.md'} and table.csv")


def small_section(net, s, runs):
    rows = []
    for m in METHODS:
        rs = runs[m]
        err = [r.test_err for r in rs]
        rows.append([LABEL[m], BIG_BATCH if m == "bigsr" else BATCH, rs[0].summary["steps"],
                     seedstats.mean_std_text(err), ", ".join(f"{e:.2f}" for e in err),
                     seedstats.mean_std_text([r.float_test_err for r in rs]) if m == "bc" else None,
                     f"{seedstats.mean([r.step_flips for r in rs]):.3g}",
                     qtexp.duration(sum(r.seconds for r in rs))])
    of = "" if s["fraction"] == 1.0 else f" of {s['fraction']:g} of the training set (drawn with each seed)"
    text = f"## {s['title']}, {s['epochs']} epochs{of}\n\n"
    text += qtexp.md_table(["method", "batch", "steps", "test error %", "per seed",
                            "BC float buffer %", "weight flips", "time (all seeds)"], rows)
    checks = pattern_checks({m: [r.test_err for r in runs[m]] for m in METHODS})
    text += ("\nThe paper's pattern FP < BC < Big-batch SR < SR ≲ R, comparison by comparison, "
             "then BC against SR and R against the frozen baseline:\n\n" + "".join(f"- {c['text']}\n" for c in checks))
    return text


def paper_section():
    rows = [[k] + [f"{v:g} [R]" for v in vals] for k, vals in PAPER_NUMBERS_R.items()]
    return ("\n## The paper's numbers (Li et al. 2017, Table 1)\n\n"
            "**[R] = unverified recollection** (shared/reference/li2017-binaryconnect.md, section 6: "
            "low confidence, not checked against the PDF). No numbers are recalled for WRN-56-2 "
            "and ResNet-56. The qualitative pattern FP < BC < Big-batch SR < SR ≲ R is what the "
            "abstract and the reviews support.\n\n"
            + qtexp.md_table(["net / data", "FP", "BC", "Big-batch SR", "SR", "R"], rows))


def paper_rows(net):
    """(method, config, sets) of the five runs of a paper-scale net: the net's BC config with
    quant.mode (and, for big-batch SR, the batch) changed."""
    config = PAPER[net][0]
    return [(m, config, row_sets(m, None)) for m in METHODS]


def print_config_value(args, config, key):
    r = subprocess.run([str(qtexp.tool(args, "src/cli/qtrain")), "--config", config,
                        "--print-config"], capture_output=True, text=True, cwd=qtexp.REPO)
    if r.returncode != 0:
        sys.exit(f"error: {r.stderr.strip()}")
    section, name = key.split(".")
    current = None
    for line in r.stdout.splitlines():
        line = line.split("#")[0].strip()
        if line.startswith("["):
            current = line.strip("[]")
        elif "=" in line and current == section and line.split("=")[0].strip() == name:
            return line.split("=", 1)[1].strip()
    sys.exit(f"error: {key} not in the resolved config of {config}")


def estimate(args, nets):
    """Hours per net: five rows of epochs x training images at the images/s qbench measures
    for a BC training step (batch 32, this machine, now)."""
    rows = []
    for net in nets:
        config, model, extra, images = PAPER[net]
        epochs = int(print_config_value(args, config, "train.epochs"))
        cmd = [str(qtexp.tool(args, "src/cli/qbench")), "--model", model, "--quant", "bc",
               "--batch", "32", "--iters", "6", "--warmup", "2", "--threads", str(args.threads),
               "--json"] + extra
        log(f"  measuring {net}: {' '.join(cmd[1:])}")
        r = subprocess.run(cmd, capture_output=True, text=True)
        if r.returncode != 0:
            sys.exit(f"error: qbench failed: {r.stderr.strip()}")
        speed = json.loads(r.stdout)["img_per_s"]
        runs = len(METHODS) * len(args.seeds)
        hours = runs * epochs * images / speed / 3600
        rows.append([net, epochs, images, f"{speed:.1f}", f"{hours:.0f}"])
        log(f"  {net}: {speed:.1f} images/s -> {hours:.0f} h for the {runs} runs")
    text = qtexp.md_table(["net", "epochs", "train images", "images/s (qbench, BC, batch 32)",
                           f"hours for {len(METHODS)} rows x {len(args.seeds)} seeds"], rows)
    (args.out / "paper_estimate.md").write_text(
        "# Paper-scale table: estimated training time on this machine\n\n" + text)
    log(text)


def run_paper(args):
    nets = args.nets.split(",") if args.nets else list(PAPER)
    for net in nets:
        if net not in PAPER:
            sys.exit(f"error: --nets: unknown net '{net}' (choose from {', '.join(PAPER)})")
    if args.estimate:
        estimate(args, nets)
        return
    runs, sections = {}, []
    for net in nets:
        for m, config, sets in paper_rows(net):
            name = f"{net}_{m}"
            if args.dry_run:
                root = [("data.root", args.data_root)] if args.data_root else []
                for seed in args.seeds:
                    print(" ".join(["build/src/cli/qtrain", "--config", config, "--out",
                                    str(args.out / "paper_runs" / f"{name}_s{seed}")]
                                   + [f"--set {k}={v}" for k, v in sets + root]
                                   + [f"--set train.seed={seed}"]))
                continue
            runs.setdefault(net, {})[m] = qtexp.train_seeds(args, name, qtexp.REPO / config, sets,
                                                            args.out / "paper_runs", quiet_every=200)
    if args.dry_run:
        return
    qtexp.dispatch(args)
    for net, rs in runs.items():
        err = {m: [r.test_err for r in rs[m]] for m in METHODS}
        rows = [[LABEL[m], seedstats.mean_std_text(err[m])] for m in METHODS]
        sections.append(f"## {net}\n\n" + qtexp.md_table(["method", "test error %"], rows) + "\n"
                        + "".join(f"- {c['text']}\n" for c in pattern_checks(err)))
    (args.out / "paper_table.md").write_text("# Li et al. 2017, Table 1 at the paper's scale\n\n"
                                             + "\n".join(sections) + paper_section())
    log(f"wrote {args.out / 'paper_table.md'}")


def main():
    p = qtexp.parser("table", __doc__)
    p.add_argument("--scale", choices=["small", "paper"], default="small",
                   help="small (Fashion-MNIST, default) or paper (CIFAR/ImageNet configs)")
    p.add_argument("--nets", default=None,
                   help=f"comma-separated subset of the nets: {','.join(SMALL)} (small scale) or "
                        f"{','.join(PAPER)} (paper scale)")
    p.add_argument("--dry-run", action="store_true", help="paper scale: print the commands only")
    p.add_argument("--estimate", action="store_true",
                   help="paper scale: measure speed with qbench and print the hours")
    args = qtexp.finish_args(p.parse_args(), "table")
    if args.scale == "small":
        run_small(args)
    else:
        run_paper(args)


if __name__ == "__main__":
    main()
