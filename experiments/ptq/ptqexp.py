"""What the post-training studies (experiments/ptq/*/run.py) share: training the float nets once
per seed (qtexp.train_seeds, checkpoints kept), running qquant through one function (so that a
batch runner can take the commands over), and tables of mean ± std over seeds with Welch tests
(seedstats)."""

import collections.abc
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
import qtexp  # noqa: E402
import seedstats  # noqa: E402


def checkpoint(run):
    """The last checkpoint of a finished qtexp Run."""
    files = sorted((run.path / "checkpoints").glob("step-*.qtr"))
    if not files:
        sys.exit(f"error: {run.path} holds no checkpoint; rerun with --rerun")
    return files[-1]


def quantize(args, name, ckpt, options, runs_dir):
    """Queues qquant --checkpoint ckpt <options> into runs_dir/name for qtexp.dispatch(args),
    unless that folder already holds a finished quantization of the same command (see
    --rerun). Returns its summary.json as a mapping, readable once dispatch has run it."""
    out = runs_dir / name
    cmd = [str(qtexp.tool(args, "src/cli/qquant")), "--checkpoint", str(ckpt), "--out", str(out),
           "--threads", "1", "--quiet"] + [str(o) for o in options]
    if args.data_root:
        cmd += ["--set", f"data.root={args.data_root}"]
    key = cmd[1:]
    summary = Summary(qtexp.Run(name, out))
    stamp = out / qtexp.STAMP
    if args.collect:
        return summary
    if not args.rerun and stamp.is_file() and (out / "summary.json").is_file():
        if json.loads(stamp.read_text()).get("key") == key:
            return summary
    qtexp.queue(name, out, cmd, key, remove=["model.qtr"])  # results, not models
    return summary


class Summary(collections.abc.Mapping):
    """A quantization's summary.json, read when first looked into (after dispatch)."""

    def __init__(self, run):
        self.run = run

    def __getitem__(self, key):
        return self.run.summary[key]

    def __iter__(self):
        return iter(self.run.summary)

    def __len__(self):
        return len(self.run.summary)


def acc_cell(summaries, key="quant_acc"):
    """'81.23 ± 0.40' in percent over the seeds' summaries."""
    return seedstats.mean_std_text([100.0 * s[key] for s in summaries])


def errors(summaries, key="quant_acc"):
    """Test errors in percent (lower is better: seedstats.ordering's convention)."""
    return [100.0 * (1.0 - s[key]) for s in summaries]


TEST_ERROR = (errors, "test error", "%", 2)  # a measure: lower is better, its name, unit, digits


def compare(name_a, a, name_b, b, measure=TEST_ERROR):
    """seedstats.ordering on a measure (default: test error) of two lists of summaries."""
    values, what, unit, digits = measure
    return (seedstats.ordering(name_a, values(a), name_b, values(b), digits)["text"] +
            f" ({what}, {unit})")


def orderings(res, cells, pairs, label, measure=TEST_ERROR):
    """The report's orderings section: for every cell (a rate, a bit width) and every pair of
    methods, seedstats' Welch comparison of res[cell, method] lists on measure, as Markdown
    lines; label turns a cell into its line's prefix."""
    lines = ["", f"Orderings (Welch's t-test on {measure[1]} over the seeds, p < 0.05):", ""]
    for cell in cells:
        for a, b in pairs:
            lines.append(f"- {label(cell)}: " + compare(a, res[cell, a], b, res[cell, b], measure))
    return lines


def write(args, lines, header=None, rows=None):
    """<out>/results.md from lines, and <out>/runs.csv (one row per quantization) when given
    its header and rows."""
    text = "\n".join(lines) + "\n"
    (args.out / "results.md").write_text(text)
    if rows is not None:
        qtexp.write_csv(args.out / "runs.csv", header, rows)
    print(text)


def convnets(args, epochs=1):
    """The small conv net both the ADMM and the PQ studies quantize (configs/nets/convnet.net:
    conv 3x3 32, conv 3x3 64, fc 256, fc 10, batchnorm), configs/fmnist_fp.ini trained for
    `epochs` epochs per seed (one: the studies had to fit an hour of a shared 2-core
    machine), into <out>/../nets (shared by the studies)."""
    smoke = [("data.train_limit", 3000), ("data.test_limit", 500)] if args.smoke else []
    nets = qtexp.train_seeds(args, "convnet", qtexp.REPO / "configs/fmnist_fp.ini",
                             [("train.epochs", 1 if args.smoke else epochs)] + smoke,
                             args.out.parent / "nets", keep_checkpoints=True)
    qtexp.dispatch(args)  # trains them (--jobs, or --emit-commands: print and exit)
    return nets
