#!/usr/bin/env python3
"""Li et al. 2017, Table 1: final test error of FP, BC, big-batch SR, SR and R on the same
net and data, as a Markdown table next to the paper's pattern (FP < BC < big-batch SR < SR
<~ R) and the paper's numbers where known (all of them unverified recollections, marked [R]).

Scales:
  small  Fashion-MNIST (the real data) with the small conv net and with the MLP
         784-500-300-10; all ten rows take well under an hour on 2 cores.
  paper  the paper's nets and data (configs/vgg9_*, vggbc_*, resnet56_*, wrn56_2_*,
         resnet56_cifar100_*, resnet18_imagenet_*); CIFAR and ImageNet must be brought by
         the user (datasets/README.md). Days on a CPU: --estimate measures the speed with
         qbench and prints the hours; --dry-run prints the commands.

Every row is one qtrain run with the settings below; only quant.mode (and the batch for
big-batch SR) changes between the rows of a net.
"""

import json
import subprocess
import sys

import qtexp
from qtexp import log

METHODS = ["fp", "bc", "bigsr", "sr", "r"]
LABEL = {"fp": "FP", "bc": "BC", "bigsr": "Big-batch SR", "sr": "SR", "r": "R"}
BATCH, BIG_BATCH = 128, 1024  # big-batch SR: 8x the batch, as recalled for the paper [R]

# Small scale. Adam at the quick-start configs' rate, the paper's step decay scaled to the run.
SMALL = {
    "convnet": {"title": "Fashion-MNIST, small conv net (32C3-MP-64C3-MP-FC256-FC10)",
                "epochs": 4, "lr": 0.003},
    "mlp": {"title": "Fashion-MNIST, MLP 784-500-300-10 (batch norm)",
            "epochs": 10, "lr": 0.003},
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

ABOUT_EQUAL = 1.0  # "SR <~ R" holds when SR is at most this many points above R


def row_sets(method, epochs, lr):
    mode = "sr" if method == "bigsr" else method
    sets = [("quant.mode", mode), ("train.batch_size", BIG_BATCH if method == "bigsr" else BATCH)]
    if epochs is not None:
        decay = ",".join(str(e) for e in qtexp.step_decay_epochs(epochs))
        sets += [("train.epochs", epochs), ("train.lr", lr), ("train.optimizer", "adam"),
                 ("train.schedule", "step"), ("train.lr_decay_epochs", decay),
                 ("train.lr_decay_factor", 0.1)]
    if mode == "bc":
        sets.append(("quant.eval_float", "true"))  # also report BC's float buffer
    return sets


def small_sets(net, method, smoke):
    s = SMALL[net]
    sets = [("model.name", net), ("data.dataset", "fashion_mnist"), ("data.augment", "false"),
            ("train.seed", 1)]
    if net == "mlp":
        sets.append(("model.widths", "500,300"))
    sets += row_sets(method, s["epochs"], s["lr"])
    sets += [("train.eval_every", 0), ("log.every", 10), ("log.checkpoint_every", 0)]
    if smoke:
        sets += [("train.max_steps", 2), ("data.train_limit", 2 * BIG_BATCH),
                 ("data.test_limit", 200)]
    return sets


def pattern_checks(err):
    """The paper's ordering, comparison by comparison: (text, holds)."""
    e = [err[m] for m in METHODS]
    names = [LABEL[m] for m in METHODS]
    out = [(f"{names[i]} < {names[i + 1]}", e[i] < e[i + 1]) for i in range(3)]
    out.append((f"SR ≲ R (SR at most {ABOUT_EQUAL:g} point above R)", e[3] <= e[4] + ABOUT_EQUAL))
    return out


def run_small(args):
    runs_dir = args.out / "runs"
    sections, csv_rows, total = [], [], 0.0
    for net, s in SMALL.items():
        log(f"== {s['title']}")
        runs = {}
        for i, method in enumerate(METHODS):
            log(f"[{net} {i + 1}/{len(METHODS)}] {LABEL[method]}")
            r = qtexp.train(args, f"{net}_{method}", qtexp.REPO / f"configs/fmnist_{'sr' if method == 'bigsr' else method}.ini",
                            small_sets(net, method, args.smoke), runs_dir, quiet_every=100)
            runs[method] = r
            total += r.seconds
            log(f"  {net} {LABEL[method]}: test error {r.test_err:.2f}% ({qtexp.duration(r.seconds)})")
        sections.append(small_section(net, s, runs))
        for m in METHODS:
            r = runs[m]
            csv_rows.append([net, LABEL[m], r.summary["steps"], BIG_BATCH if m == "bigsr" else BATCH,
                             s["epochs"], r.test_err, r.float_test_err, r.seconds])
    qtexp.write_csv(args.out / "table.csv", ["net", "method", "steps", "batch", "epochs",
                                              "test_err", "float_test_err", "seconds"], csv_rows)
    head = ("# Li et al. 2017, Table 1 at small scale: test error (%)\n\n"
            + ("**Smoke run: a few steps on tiny data; the numbers mean nothing.**\n\n" if args.smoke else "")
            + f"Fashion-MNIST (60k train / 10k test images), one seed per row, Adam with the paper's "
              f"step decay (x0.1 after about 51% and 76% of the epochs), batch {BATCH} "
              f"(big-batch SR: {BIG_BATCH}), all conv and linear weights binary "
              f"(H = mean |w| of each layer's initial weights). Test error is measured with the "
              f"binary weights; BC's float buffer is shown beside it. Training time: "
              f"{qtexp.duration(total)} for all rows.\n\n")
    (args.out / "table.md").write_text(head + "\n".join(sections) + "\n" + paper_section())
    log(f"wrote {args.out / 'table.md'} and table.csv")


def small_section(net, s, runs):
    rows = []
    for m in METHODS:
        r = runs[m]
        rows.append([LABEL[m], BIG_BATCH if m == "bigsr" else BATCH, r.summary["steps"],
                     qtexp.pct(r.test_err), qtexp.pct(r.float_test_err) if m == "bc" else None,
                     qtexp.duration(r.seconds)])
    text = f"## {s['title']}, {s['epochs']} epochs\n\n"
    text += qtexp.md_table(["method", "batch", "steps", "test error %", "BC float buffer %",
                            "time"], rows)
    checks = pattern_checks({m: runs[m].test_err for m in METHODS})
    text += ("\nPaper's pattern FP < BC < Big-batch SR < SR ≲ R, comparison by comparison: "
             + "; ".join(f"{c}: {'holds' if ok else 'does NOT hold'}" for c, ok in checks) + ".\n")
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
    return [(m, config, row_sets(m, None, None)) for m in METHODS]


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
        hours = len(METHODS) * epochs * images / speed / 3600
        rows.append([net, epochs, images, f"{speed:.1f}", f"{hours:.0f}"])
        log(f"  {net}: {speed:.1f} images/s -> {hours:.0f} h for the five rows")
    text = qtexp.md_table(["net", "epochs", "train images", "images/s (qbench, BC, batch 32)",
                           "hours for 5 rows"], rows)
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
                print(" ".join(["build/src/cli/qtrain", "--config", config, "--out",
                                str(args.out / "paper_runs" / name)]
                               + [f"--set {k}={v}" for k, v in sets + root]))
                continue
            runs.setdefault(net, {})[m] = qtexp.train(args, name, qtexp.REPO / config, sets,
                                                      args.out / "paper_runs", quiet_every=200)
    if args.dry_run:
        return
    for net, rs in runs.items():
        rows = [[LABEL[m], qtexp.pct(rs[m].test_err)] for m in METHODS]
        sections.append(f"## {net}\n\n" + qtexp.md_table(["method", "test error %"], rows)
                        + "\n" + "; ".join(f"{c}: {'holds' if ok else 'does NOT hold'}"
                                           for c, ok in pattern_checks({m: rs[m].test_err for m in METHODS}))
                        + "\n")
    (args.out / "paper_table.md").write_text("# Li et al. 2017, Table 1 at the paper's scale\n\n"
                                             + "\n".join(sections) + paper_section())
    log(f"wrote {args.out / 'paper_table.md'}")


def main():
    p = qtexp.parser("table", __doc__)
    p.add_argument("--scale", choices=["small", "paper"], default="small",
                   help="small (Fashion-MNIST, default) or paper (CIFAR/ImageNet configs)")
    p.add_argument("--nets", default=None,
                   help=f"paper scale: comma-separated subset of {','.join(PAPER)}")
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
