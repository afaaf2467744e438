#!/usr/bin/env python3
"""Checks of the speed harness (experiments/speed.py, speed_readme.py, tools/bench_pytorch.py).

usage: speed_test.py harness | pytorch

harness: the summary pairs each qtrain run with the PyTorch run of its round and reports the
  median and range of the per-round ratios; the README rewrite replaces only the Performance
  figures (the old text, including its unmeasured claims, goes; the "How:" paragraph and
  every other section stay byte for byte) and is idempotent, and refuses --quick and
  busy-machine results; speed.py refuses to start when
  tcmalloc-minimal is missing, with a message that names the package.
pytorch (needs Debian's python3-torch and libtcmalloc-minimal4; skipped without them):
  bench_pytorch.py refuses to time PyTorch when the preload it expects is not mapped; every
  model has the same parameter count in PyTorch and in qtrain; a --quick run of speed.py
  records tcmalloc, torch's threads and oneDNN as the PyTorch process saw them, its ratio is
  the median of the ratios in its own runs.csv, and it writes the row's qbench profile.
Needs QTRAIN_SOURCE_ROOT and QTRAIN_BUILD_ROOT (meson test sets both)."""

import csv
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

SRC = Path(os.environ["QTRAIN_SOURCE_ROOT"])
BUILD = Path(os.environ["QTRAIN_BUILD_ROOT"])
sys.path.insert(0, str(SRC / "experiments"))
import speed  # noqa: E402

SKIP = 77  # meson's exit status for a skipped test


def check(cond, what):
    if not cond:
        sys.exit(f"FAILED: {what}")
    print(f"ok: {what}")


def run(cmd, env=None):
    return subprocess.run([str(c) for c in cmd], capture_output=True, text=True, env=env)


def fake_run(rnd, framework, quant, ips, gflops=0.0, fmt=""):
    return {"round": rnd, "model": "resnet56", "mode": "train", "threads": 2, "quant": quant,
            "framework": framework, "memory_format": fmt, "img_per_s": ips, "img_per_s_best": ips, "gflops": gflops,
            "peak_rss_mb": 600.0 if framework == "qtrain" else 800.0, "params": 853018,
            "load_before": 0.1, "load_after": 0.1, "seconds": 1.0}


def test_summary():
    row = speed.Row("resnet56", "train", 2, ["fp", "bc"], 5, 2)
    q_fp, q_bc, pt = [100.0, 120.0, 90.0], [110.0, 126.0, 99.0], [80.0, 100.0, 100.0]
    runs = []
    for k in range(3):  # PyTorch first in round 2: pairing goes by round, not by order
        order = [("qtrain", "fp", q_fp[k], ""), ("qtrain", "bc", q_bc[k], ""),
                 ("pytorch", "fp", pt[k], "channels_last" if k == 2 else "contiguous"),
                 ("pytorch", "fp", pt[k] * 0.9, "contiguous" if k == 2 else "channels_last")]
        for fw, quant, ips, fmt in (order[::-1] if k == 1 else order):
            runs.append(fake_run(k + 1, fw, quant, ips, 0.75 * ips if fw == "qtrain" else 0.0, fmt))
    res = speed.summarize(runs, [row], {2: 300.0})
    check(len(res) == 2, "one result per weight rule")
    fp, bc = res
    check((fp["ratio_median"], fp["ratio_min"], fp["ratio_max"]) == (1.2, 0.9, 1.25),
          f"fp ratio = median 1.2 of the per-round 1.25, 1.2, 0.9 (got {fp['ratio_median']})")
    check(fp["ratio_median"] != round(statistics.median(q_fp) / statistics.median(pt), 3),
          "the ratio is a median of ratios, not a ratio of medians (1.2 vs 1.0)")
    check((bc["ratio_median"], bc["ratio_min"], bc["ratio_max"]) == (1.26, 0.99, 1.375),
          "bc ratio median 1.26, range 0.99-1.375")
    check(bc["vs_fp_median"] == 1.1, "bc against its own fp: median of 1.1, 1.05, 1.1")
    check(fp["qtrain_img_per_s"] == 100.0 and fp["pytorch_img_per_s"] == 100.0,
          "images/s are medians over the rounds")
    check(fp["pytorch_formats"] == "contiguous/contiguous/channels_last",
          "each round counts PyTorch's faster memory format, and says which it was")
    check(fp["qtrain_gflops"] == 75.0 and fp["qtrain_peak_fraction"] == 0.25,
          "GFLOP/s 0.75 per image x 100 img/s = 75, a quarter of a 300 GFLOP/s peak")
    check(fp["pytorch_peak_fraction"] == 0.25, "PyTorch's fraction uses the same FLOPs per image")
    env = {"date": "2026-12-07 10:00 UTC", "cpu": "AMD EPYC", "cores": 2, "kernel": "6.1",
           "qtrain_commit": "abc1234", "rounds": 3, "quick": False, "memory_format": "best",
           "allocator": "tcmalloc_minimal", "allocator_path": "/usr/lib/libtcmalloc_minimal.so.4",
           "torch_interop_threads": 1, "mkldnn_available": True, "mkldnn_enabled": True,
           "cpu_capability": "AVX2", "python": "/usr/bin/python3", "python_version": "3.11.2",
           "torch_version": "1.13.1", "fma_isa": "avx512", "fma_peak_gflops": {"1": 215.0, "2": 300.0},
           "load": {"start": 0.1, "max": 0.3, "end": 0.2}}
    md = speed.markdown(env, res)
    check("| resnet56 | train | 2 | fp | 100.0 | 100.0 | NCHW/NCHW/NHWC | 1.20x | 0.90-1.25 |  | "
          "75.0 (25%) |" in md,
          "results.md row: medians, ratio 1.20x, range 0.90-1.25, GFLOP/s with % of peak")
    check("| bc |" in md and "| 1.10 |" in md, "results.md gives bc's ratio to fp")
    check("tcmalloc_minimal" in md and "2026-12-07" in md and "AMD EPYC" in md,
          "results.md names the allocator, the date and the CPU")
    check("not idle" not in md, "an idle run is not flagged")
    own = dict(env, load={"start": 0.1, "max": 2.4, "end": 2.0}, max_threads=2)
    check("not idle" not in speed.markdown(own, res),
          "the benchmark's own 2 threads (load up to 2.4) do not make a run busy")
    busy = dict(env, load={"start": 0.1, "max": 2.6, "end": 0.2}, max_threads=2)
    check("not idle: provisional" in speed.markdown(busy, res),
          "a load above the benchmark's threads + 0.5 is flagged provisional")
    started_busy = dict(env, load={"start": 0.7, "max": 1.0, "end": 0.2}, max_threads=2)
    check("not idle: provisional" in speed.markdown(started_busy, res),
          "a load above 0.5 before the first run is flagged provisional")
    return env, res, runs


README = """# qtrain

## Quick start

Some text.

## Performance

Old figures, 1.65x.

- These PyTorch figures are about half of those in the speed issue's reference machine, so this
  VM is slower than that one.

How: convolutions on the project's own kernels.

## Layout

The end.
"""


def test_readme(env, res, runs, tmp):
    results = tmp / "results.json"
    readme = tmp / "README.md"
    results.write_text(json.dumps({"environment": env, "results": res, "runs": runs}))
    readme.write_text(README)
    tool = SRC / "experiments" / "speed_readme.py"
    r = run([sys.executable, tool, "--results", results, "--readme", readme])
    check(r.returncode == 0, f"speed_readme.py exits 0 ({r.stderr.strip()})")
    new = readme.read_text()
    check("1.65x" not in new and "reference machine" not in new,
          "the old figures and the unmeasured 'reference machine' claim are gone")
    check("| resnet56 | train | 2 | fp | 100.0 | 100.0 | NCHW/NCHW/NHWC | 1.20x | 0.90-1.25 |" in new,
          "the new table is in the README")
    check("results.json" in new, "the section cites its results file")
    head, tail = README.split("## Performance")[0], README[README.index("How:"):]
    check(new.startswith(head + "## Performance\n") and new.endswith(tail),
          "everything before the section and from 'How:' on is unchanged")
    r = run([sys.executable, tool, "--results", results, "--readme", readme])
    check(r.returncode == 0 and readme.read_text() == new, "a second run changes nothing")
    quick = dict(env, quick=True)
    results.write_text(json.dumps({"environment": quick, "results": res, "runs": runs}))
    r = run([sys.executable, tool, "--results", results, "--readme", readme])
    check(r.returncode != 0 and "--quick run" in r.stderr, "a --quick result is refused")
    busy = dict(env, load={"start": 0.9, "max": 0.9, "end": 0.3})
    results.write_text(json.dumps({"environment": busy, "results": res, "runs": runs}))
    r = run([sys.executable, tool, "--results", results, "--readme", readme])
    check(r.returncode != 0 and "busy machine (load average 0.90 at the start" in r.stderr
          and readme.read_text() == new, "a busy-machine result is refused, the README untouched")


def test_missing_tcmalloc():
    r = run([sys.executable, SRC / "experiments" / "speed.py", "--build", BUILD, "--tcmalloc",
             "/nonexistent/libtcmalloc_minimal.so.4", "--out", "/nonexistent/out"])
    check(r.returncode != 0, "speed.py without tcmalloc exits non-zero")
    check(r.stderr.startswith("speed.py: error: /nonexistent/libtcmalloc_minimal.so.4 not found: "
                              "install it (apt-get install libtcmalloc-minimal4"),
          f"and says which package to install ({r.stderr.strip()})")


def harness():
    env, res, runs = test_summary()
    with tempfile.TemporaryDirectory() as d:
        test_readme(env, res, runs, Path(d))
    test_missing_tcmalloc()


def params(cmd, env=None):
    r = run(cmd + ["--mode", "infer", "--batch", "2", "--iters", "1", "--warmup", "0",
                   "--threads", "1", "--json"], env)
    check(r.returncode == 0, f"{' '.join(map(str, cmd))} runs ({r.stderr.strip()[-300:]})")
    return json.loads(r.stdout)["params"]


def pytorch():
    py = speed.PYTORCH_PYTHON
    if run([py, "-c", "import torch"]).returncode != 0 or not os.path.exists(speed.TCMALLOC):
        print(f"skipped: needs {py} with torch (python3-torch) and {speed.TCMALLOC}")
        sys.exit(SKIP)
    bench = SRC / "tools" / "bench_pytorch.py"
    env = dict(os.environ, LD_PRELOAD="")
    r = run([py, bench, "--model", "mlp", "--iters", "1", "--warmup", "0", "--expect-preload",
             speed.TCMALLOC], env)
    check(r.returncode == 1 and r.stderr.startswith(
        f"bench_pytorch: error: {speed.TCMALLOC} is not mapped into this process"),
        "bench_pytorch.py refuses to run when the expected preload is not mapped")
    env = dict(os.environ, LD_PRELOAD=speed.TCMALLOC)
    for model in ("mlp", "vgg9", "vgg_bc", "resnet20", "resnet56", "wrn56_2", "resnet18"):
        p_torch = params([py, bench, "--model", model, "--expect-preload", speed.TCMALLOC], env)
        p_qt = params([BUILD / "src/cli/qbench", "--model", model])
        check(p_torch == p_qt, f"{model}: PyTorch {p_torch} parameters, qtrain {p_qt}")
    with tempfile.TemporaryDirectory() as d:
        r = run([sys.executable, SRC / "experiments" / "speed.py", "--build", BUILD, "--out", d,
                 "--quick", "--rows", "mlp-train-2t", "--rounds", "3"])
        check(r.returncode == 0, f"speed.py --quick runs ({r.stderr.strip()[-500:]})")
        data = json.loads((Path(d) / "results.json").read_text())
        env = data["environment"]
        check(env["allocator"] == "tcmalloc_minimal" and "libtcmalloc_minimal" in env["allocator_path"],
              "the PyTorch process had tcmalloc-minimal mapped")
        check(env["mkldnn_available"] is True and env["torch_interop_threads"] >= 1,
              "oneDNN and interop threads are recorded")
        with open(Path(d) / "runs.csv", newline="") as f:
            rows = list(csv.DictReader(f))
        check(len(rows) == 6 and [r["round"] for r in rows] == ["1", "1", "2", "2", "3", "3"],
              "runs.csv: qtrain then PyTorch in each of 3 rounds")
        ratios = [float(rows[i]["img_per_s"]) / float(rows[i + 1]["img_per_s"]) for i in (0, 2, 4)]
        got = data["results"][0]["ratio_median"]
        check(abs(got - statistics.median(ratios)) < 1e-3, f"ratio {got} is the median of {ratios}")
        prof = json.loads((Path(d) / "profile_mlp.json").read_text())
        check(len(prof["profile"]["passes"]) == 8 and "load_average" in prof,
              "profile_mlp.json holds qbench's profile and the load average")
        check("\nconv shapes, most time first" in (Path(d) / "profile_mlp.txt").read_text(),
              "profile_mlp.txt holds the text report")


if __name__ == "__main__":
    {"harness": harness, "pytorch": pytorch}[sys.argv[1]]()
