"""What the post-training studies (experiments/ptq/*/run.py) share: training the float nets once
per seed (qtexp.train_seeds, checkpoints kept), running qquant through one function (so that a
batch runner can take the commands over), and tables of mean ± std over seeds with Welch tests
(seedstats)."""

import json
import shutil
import subprocess
import sys
import time
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
    """qquant --checkpoint ckpt <options> into runs_dir/name, unless that folder already holds
    a finished quantization of the same command (see --rerun); a stale folder is removed
    first, deliberately. Returns its summary.json as a dict."""
    out = runs_dir / name
    cmd = [str(qtexp.tool(args, "src/cli/qquant")), "--checkpoint", str(ckpt), "--out", str(out),
           "--threads", "1", "--quiet"] + [str(o) for o in options]
    if args.data_root:
        cmd += ["--set", f"data.root={args.data_root}"]
    stamp = out / "experiment_run.json"
    key = cmd[1:]
    if not args.rerun and stamp.is_file() and (out / "summary.json").is_file():
        if json.loads(stamp.read_text()).get("key") == key:
            return json.loads((out / "summary.json").read_text())
    if out.exists():
        shutil.rmtree(out)
    qtexp.log(f"  {name}: qquant " + " ".join(str(c) for c in cmd[1:]))
    t0 = time.monotonic()
    proc = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                          cwd=qtexp.REPO)
    if proc.returncode != 0:
        sys.exit(f"error: qquant failed for {name} (exit {proc.returncode}):\n{proc.stdout}")
    stamp.write_text(json.dumps({"key": key, "seconds": time.monotonic() - t0}, indent=1) + "\n")
    (out / "model.qtr").unlink(missing_ok=True)  # results, not models
    return json.loads((out / "summary.json").read_text())


def acc_cell(summaries, key="quant_acc"):
    """'81.23 ± 0.40' in percent over the seeds' summaries."""
    return seedstats.mean_std_text([100.0 * s[key] for s in summaries])


def errors(summaries, key="quant_acc"):
    """Test errors in percent (lower is better: seedstats.ordering's convention)."""
    return [100.0 * (1.0 - s[key]) for s in summaries]


def compare(name_a, a, name_b, b):
    """seedstats.ordering on test errors of two lists of summaries."""
    return seedstats.ordering(name_a, errors(a), name_b, errors(b))["text"] + " (test error, %)"


def write(args, lines):
    text = "\n".join(lines) + "\n"
    (args.out / "results.md").write_text(text)
    print(text)


def convnets(args, epochs=2):
    """The small conv net both the ADMM and the PQ studies quantize (configs/nets/convnet.net:
    conv 3x3 32, conv 3x3 64, fc 256, fc 10, batchnorm), configs/fmnist_fp.ini trained for
    `epochs` epochs per seed, into <out>/../nets (shared by the studies)."""
    smoke = [("data.train_limit", 3000), ("data.test_limit", 500)] if args.smoke else []
    nets = qtexp.train_seeds(args, "convnet", qtexp.REPO / "configs/fmnist_fp.ini",
                             [("train.epochs", 1 if args.smoke else epochs)] + smoke,
                             args.out.parent / "nets", keep_checkpoints=True)
    qtexp.dispatch(args)  # trains them (--jobs, or --emit-commands: print and exit)
    return nets
