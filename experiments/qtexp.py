"""What the experiment scripts share: command-line options, the Fashion-MNIST recipe, running
qtrain once per seed (with a cache of finished runs), reading run directories, Markdown tables
and charts through qplot. Statistics over seeds are in seedstats.py."""

import argparse
import csv
import json
import math
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
RESULTS = REPO / "experiments" / "results"


def parser(name, description, seeds=True):
    """The options every experiment takes (--seeds unless seeds is False: convex.py counts
    its seeds itself)."""
    p = argparse.ArgumentParser(prog=f"{name}.py", description=description,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--smoke", action="store_true",
                   help="a few steps per row on tiny data: checks the pipeline in seconds")
    p.add_argument("--out", type=Path, default=None,
                   help=f"output folder (default experiments/results/{name})")
    p.add_argument("--build", type=Path, default=None,
                   help="meson build folder with src/cli/qtrain and tools/ "
                        "(default $QTRAIN_BUILD_ROOT, else ./build of the repository)")
    p.add_argument("--data-root", default=None,
                   help="dataset folder (data.root); default the dataset's standard location")
    p.add_argument("--threads", type=int, default=2, help="qtrain worker threads (default 2)")
    p.add_argument("--rerun", action="store_true",
                   help="train again even when a run folder already holds a finished run "
                        "with the same settings")
    if seeds:
        p.add_argument("--seeds", type=parse_seeds, default=[1, 2, 3],
                       help="train.seed values, comma-separated: every cell runs once per seed "
                            "and the tables give mean ± sample standard deviation (default 1,2,3)")
    return p


def parse_seeds(text):
    try:
        seeds = [int(s) for s in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated whole numbers, got '{text}'")
    if min(seeds) < 0 or len(set(seeds)) != len(seeds):
        raise argparse.ArgumentTypeError(f"seeds must be distinct and >= 0, got '{text}'")
    return seeds


# The paper's recipe (Li et al. 2017, section 6: Adam, lr 0.01, x0.1 at epochs 82 and 122 of
# 160, batch 128) scaled to a short Fashion-MNIST run, with BinaryConnect's binary scale: H is
# the Glorot coefficient sqrt(1.5 / (fan_in + fan_out)) of each layer (configs/README.md,
# quant.scale). No augmentation (our choice for Fashion-MNIST).
PAPER_LR, PAPER_BATCH = 0.01, 128


def paper_recipe(epochs, lr=PAPER_LR):
    decay = ",".join(str(e) for e in step_decay_epochs(epochs))
    return [("data.dataset", "fashion_mnist"), ("data.augment", "false"),
            ("train.epochs", epochs), ("train.optimizer", "adam"), ("train.lr", lr),
            ("train.schedule", "step"), ("train.lr_decay_epochs", decay),
            ("train.lr_decay_factor", 0.1), ("quant.grid", "binary"), ("quant.bits", 1),
            ("quant.scale", "glorot"), ("quant.scale_value", 1), ("quant.step_scale", "none")]


def finish_args(args, name):
    if args.out is None:
        args.out = RESULTS / name
    if args.build is None:
        env = os.environ.get("QTRAIN_BUILD_ROOT")
        args.build = Path(env) if env else REPO / "build"
    args.out.mkdir(parents=True, exist_ok=True)
    return args


def tool(args, rel):
    """Path of a built program (rel to the build folder); exits with a message when missing."""
    path = args.build / rel
    if not path.is_file():
        sys.exit(f"error: {path} not found; build first (meson setup build && ninja -C build)")
    return path


def log(msg):
    print(msg, flush=True)


class Run:
    """A finished run directory: its summary, eval rows and train rows."""

    def __init__(self, name, path, seconds, cached):
        self.name, self.path, self.seconds, self.cached = name, path, seconds, cached
        self.summary = json.loads((path / "summary.json").read_text())
        self.eval = read_csv(path / "eval.csv")

    @property
    def test_err(self):
        """Test error in percent of the last evaluation (quantized weights)."""
        return 100.0 * (1.0 - float(self.summary["test_acc"]))

    @property
    def step_flips(self):
        """Per-step flip fractions summed over every evaluated epoch (eval.csv's
        step_flips_sum; 0 for an unquantized run)."""
        return sum(float(e.get("step_flips_sum") or 0.0) for e in self.eval)

    @property
    def float_test_err(self):
        v = self.summary.get("float_test_acc")
        return None if v is None or (isinstance(v, float) and math.isnan(v)) else 100.0 * (1.0 - v)

    def train_rows(self):
        return read_csv(self.path / "train.csv")


def train(args, name, config, sets, runs_dir, quiet_every=None, keep_checkpoints=False):
    """Runs qtrain --config config with the sets (a list of (key, value)) into runs_dir/name,
    unless that folder already holds a finished run with the same command (see --rerun).
    Prints qtrain's progress lines prefixed with the run's name. The checkpoints are deleted
    unless keep_checkpoints (post-training studies quantize them)."""
    out = runs_dir / name
    sets = list(sets) + [("train.threads", args.threads)]
    if args.data_root:
        sets.append(("data.root", args.data_root))
    if quiet_every:
        sets.append(("log.print_every", quiet_every))
    key = {"config": str(config), "sets": [f"{k}={v}" for k, v in sets]}
    stamp = out / "experiment_run.json"
    if not args.rerun and stamp.is_file() and (out / "summary.json").is_file():
        old = json.loads(stamp.read_text())
        if old.get("key") == key:
            log(f"  {name}: reusing the finished run in {out}")
            return Run(name, out, old.get("seconds", 0.0), True)
    if out.exists():
        shutil.rmtree(out)
    runs_dir.mkdir(parents=True, exist_ok=True)
    cmd = [str(tool(args, "src/cli/qtrain")), "--config", str(config), "--out", str(out)]
    for k, v in sets:
        cmd += ["--set", f"{k}={v}"]
    log(f"  {name}: " + " ".join(cmd[1:]))
    t0 = time.monotonic()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            cwd=REPO)
    tail = []
    for line in proc.stdout:
        line = line.rstrip()
        tail = (tail + [line])[-20:]
        if line.startswith("checkpoint "):
            continue
        log(f"    [{name}] {line}")
    if proc.wait() != 0:
        sys.exit(f"error: qtrain failed for {name} (exit {proc.returncode}):\n" + "\n".join(tail))
    seconds = time.monotonic() - t0
    if not keep_checkpoints:
        shutil.rmtree(out / "checkpoints", ignore_errors=True)  # results, not checkpoints
    stamp.write_text(json.dumps({"key": key, "seconds": seconds}, indent=1) + "\n")
    return Run(name, out, seconds, False)


def train_seeds(args, name, config, sets, runs_dir, quiet_every=None, keep_checkpoints=False):
    """One run of a cell per --seeds value, into runs_dir/<name>_s<seed>; the Runs in seed
    order. sets must not hold train.seed."""
    return [train(args, f"{name}_s{seed}", config, list(sets) + [("train.seed", seed)], runs_dir,
                  quiet_every, keep_checkpoints) for seed in args.seeds]


def read_csv(path):
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def write_csv(path, header, rows):
    with open(path, "w", newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(header)
        for r in rows:
            w.writerow(["" if v is None else fmt_cell(v) for v in r])


def fmt_cell(v):
    if isinstance(v, float):
        return f"{v:.6g}"
    if isinstance(v, (list, tuple)):
        return ";".join(fmt_cell(x) for x in v)
    return str(v)


def md_table(header, rows):
    """A Markdown table; None cells print as an en dash."""
    cells = [[("–" if c is None else str(c)) for c in r] for r in rows]
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(r) + " |" for r in cells]
    return "\n".join(lines) + "\n"


def pct(x):
    return None if x is None else f"{x:.2f}"


def qplot(args, png, files, labels, x, y, **opts):
    """Draws files (one line each, named by labels) with tools/qplot into png. opts maps
    qplot's long options (underscores for dashes) to values; True means a bare flag, a list
    repeats the option once per item."""
    cmd = [str(tool(args, "tools/qplot")), "-o", str(png), "--x", x, "--y", y]
    for k, v in opts.items():
        flag = "--" + k.replace("_", "-")
        if isinstance(v, (list, tuple)):
            for item in v:
                cmd += [flag, str(item)]
        elif v is True:
            cmd.append(flag)
        elif v is not None and v is not False:
            cmd += [flag, str(v)]
    for label in labels:
        cmd += ["--label", label]
    cmd += [str(f) for f in files]
    r = subprocess.run(cmd, capture_output=True, text=True)
    if r.returncode != 0:
        sys.exit(f"error: qplot failed: {r.stderr.strip()}")
    log(f"  wrote {png}")


def step_decay_epochs(epochs):
    """The paper's step decay (x0.1 after epochs 82 and 122 of 160 in the CIFAR configs)
    scaled to a run of `epochs` epochs: after about 51% and 76% of the run."""
    first = max(1, round(epochs * 82 / 160))
    second = max(first + 1, round(epochs * 122 / 160))
    return [first, second] if second < epochs else [first]


def duration(seconds):
    m, s = divmod(int(round(seconds)), 60)
    h, m = divmod(m, 60)
    return f"{h}h{m:02d}m" if h else f"{m}m{s:02d}s"
