"""What the experiment scripts share: command-line options, the Fashion-MNIST recipe, running
qtrain once per seed (with a cache of finished runs), reading run directories, Markdown tables
and charts through qplot. Statistics over seeds are in seedstats.py.

Every run of every script goes through train(), which only queues it; the script then calls
dispatch(args), which runs the queue the way the options say: one at a time (default),
--jobs N at a time, or not at all: --emit-commands prints one shell command per run (for GNU
parallel or a Slurm job array) and exits, and --collect reads the results of runs made that
way from their run directories. A command is `python3 experiments/qtexp.py --run-job JSON`,
which trains the run exactly as a local job does (same run directory, same record of the
settings, so a later run of the script reuses it)."""

import argparse
import concurrent.futures
import csv
import json
import math
import os
import shlex
import shutil
import subprocess
import sys
import threading
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
    how = p.add_mutually_exclusive_group()
    how.add_argument("--jobs", type=int, default=1, metavar="N",
                     help="run N trainings at a time on this machine (default 1; mind "
                          "--threads: N x threads should not exceed the cores)")
    how.add_argument("--emit-commands", action="store_true",
                     help="print one shell command per run that is not finished yet, and "
                          "exit: run them anywhere that sees this folder (parallel -j N, a "
                          "Slurm array), then --collect (experiments/README.md)")
    how.add_argument("--collect", action="store_true",
                     help="train nothing: read every run from its run directory (made by "
                          "--emit-commands' commands) and write the results")
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
    """A line on stderr (stdout carries --emit-commands' commands); whole lines even when
    several runs print at once."""
    with _log_lock:
        print(msg, file=sys.stderr, flush=True)


class Run:
    """A run directory: its summary, eval rows and train rows, read when first asked for (a
    queued run is read after dispatch() has run it)."""

    def __init__(self, name, path):
        self.name, self.path = name, path
        self._summary = self._eval = self._stamp = None

    def _read(self, what):
        try:
            return what()
        except (OSError, ValueError) as e:
            sys.exit(f"error: run {self.name} in {self.path} is not finished or not readable "
                     f"({e}); run its command (--emit-commands) or the script without --collect")

    @property
    def summary(self):
        if self._summary is None:
            self._summary = self._read(lambda: json.loads((self.path / "summary.json").read_text()))
        return self._summary

    @property
    def eval(self):
        if self._eval is None:
            self._eval = self._read(lambda: read_csv(self.path / "eval.csv"))
        return self._eval

    @property
    def seconds(self):
        """Wall time of the training (from the record train wrote when it finished)."""
        if self._stamp is None:
            self._stamp = self._read(lambda: json.loads((self.path / STAMP).read_text()))
        return self._stamp.get("seconds", 0.0)

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


STAMP = "experiment_run.json"   # in a finished run directory: the settings and the seconds
_queue = []                     # the jobs train() queued for dispatch()
_log_lock = threading.Lock()


def train(args, name, config, sets, runs_dir, quiet_every=None, keep_checkpoints=False):
    """Queues qtrain --config config with the sets (a list of (key, value)) into runs_dir/name,
    unless that folder already holds a finished run with the same command (see --rerun), and
    returns its Run, readable once dispatch(args) has run the queue. The checkpoints are
    deleted after the run unless keep_checkpoints (post-training studies quantize them)."""
    out = runs_dir / name
    sets = list(sets) + [("train.threads", args.threads)]
    if args.data_root:
        sets.append(("data.root", args.data_root))
    if quiet_every:
        sets.append(("log.print_every", quiet_every))
    key = {"config": str(config), "sets": [f"{k}={v}" for k, v in sets]}
    stamp = out / STAMP
    if args.collect:
        return Run(name, out)
    if not args.rerun and stamp.is_file() and (out / "summary.json").is_file():
        old = json.loads(stamp.read_text())
        if old.get("key") == key:
            log(f"  {name}: reusing the finished run in {out}")
            return Run(name, out)
    cmd = [str(tool(args, "src/cli/qtrain").resolve()), "--config", str(config), "--out",
           str(out.resolve())]
    for k, v in sets:
        cmd += ["--set", f"{k}={v}"]
    queue(name, out, cmd, key, remove=[] if keep_checkpoints else ["checkpoints"])
    return Run(name, out)


def queue(name, out, cmd, key, remove=()):
    """Queues one command (qtrain, or qquant for the post-training studies) that writes the run
    directory out, for dispatch(); after it succeeds, the entries of out named in remove are
    deleted (results, not models) and the record of key and time is written."""
    _queue.append({"name": name, "out": str(out), "cmd": [str(c) for c in cmd], "key": key,
                   "remove": list(remove)})


def run_job(job):
    """Runs one queued job (a dict from queue()): a fresh run directory, the tool's output
    lines prefixed with the run's name, then the entries named in job["remove"] deleted and
    the record of its settings and time written. Returns None, or an error text."""
    name, out = job["name"], Path(job["out"])  # absolute: the command runs from anywhere
    if out.exists():
        shutil.rmtree(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    log(f"  {name}: " + " ".join(job["cmd"][1:]))
    t0 = time.monotonic()
    proc = subprocess.Popen(job["cmd"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True, cwd=REPO)
    tail = []
    for line in proc.stdout:
        line = line.rstrip()
        tail = (tail + [line])[-20:]
        if not line.startswith("checkpoint "):
            log(f"    [{name}] {line}")
    if proc.wait() != 0:
        tool_name = Path(job["cmd"][0]).name
        return f"{tool_name} failed for {name} (exit {proc.returncode}):\n" + "\n".join(tail)
    seconds = time.monotonic() - t0
    for entry in job["remove"]:
        path = out / entry
        if path.is_dir():
            shutil.rmtree(path)
        else:
            path.unlink(missing_ok=True)
    (out / STAMP).write_text(json.dumps({"key": job["key"], "seconds": seconds}, indent=1) + "\n")
    return None


def job_command(job):
    """The shell command that runs one queued job anywhere this repository is."""
    return shlex.join(["python3", str(Path(__file__).resolve()), "--run-job",
                       json.dumps(job, separators=(",", ":"))])


def dispatch(args):
    """Runs what train() and queue() queued: --jobs N at a time (default 1), or with
    --emit-commands prints their commands and exits (status 0). A stage with nothing left to
    run returns, so that a study in stages (the post-training studies: train, then quantize)
    emits its next stage's commands on the next call; with --collect nothing was queued."""
    jobs = list(_queue)
    _queue.clear()
    if args.emit_commands and jobs:
        for job in jobs:
            print(job_command(job))
        log(f"{len(jobs)} command(s) printed; run them, then this script again: "
            "--emit-commands for a next stage (none left: it writes the results), or --collect")
        sys.exit(0)
    if not jobs:
        return
    log(f"training {len(jobs)} run(s), {args.jobs} at a time")
    with concurrent.futures.ThreadPoolExecutor(max_workers=max(1, args.jobs)) as pool:
        errors = [e for e in pool.map(run_job, jobs) if e]
    if errors:
        sys.exit("error: " + "\n".join(errors))


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


def main():
    """`qtexp.py --run-job JSON`: one command of --emit-commands."""
    p = argparse.ArgumentParser(prog="qtexp.py", description=main.__doc__)
    p.add_argument("--run-job", required=True, help="a job as --emit-commands prints it")
    error = run_job(json.loads(p.parse_args().run_job))
    if error:
        sys.exit("error: " + error)


if __name__ == "__main__":
    main()
