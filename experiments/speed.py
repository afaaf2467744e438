#!/usr/bin/env python3
"""Training and inference speed of qtrain against PyTorch on this machine, interleaved.

Each round runs every row once: `qbench` (for each of the row's weight rules) and then
`tools/bench_pytorch.py` on the same model, batch, threads and mode, so each pair sees the
same machine state. A row's ratio is the median over the rounds of that round's qtrain /
PyTorch images/s, with the spread (min-max) of the per-round ratios beside it.

PyTorch runs as Debian ships it (/usr/bin/python3, python3-torch) with tcmalloc-minimal
preloaded (package libtcmalloc-minimal4), its best configuration here, and the conv nets run
in both memory formats (NCHW and channels-last) every round, the faster counting; speed.py refuses to
run when that library is missing, and bench_pytorch.py checks from inside the PyTorch process
(/proc/self/maps) that it is really loaded. The results record the allocator, torch's
thread counts, oneDNN use, the python, the CPU, the load average around every run and the
fp32 FMA peak measured by tools/fma_peak, against which achieved GFLOP/s are given.

Writes <out>/runs.csv (every run), results.csv and results.md (the summary) and
results.json (both, with the environment; experiments/speed_readme.py turns it into the
README's Performance section), and, for each 2-thread training row, the `qbench --profile`
of its fp run: profile_<model>.txt and .json (where the step's time goes, per layer, pass
and conv shape). About 10 minutes per 3 rounds on an idle 2-core machine;
on a busy one (load average above 0.5) it warns, and its figures are provisional.

Usage: speed.py [--out DIR] [--build DIR] [--rounds N] [--rows NAMES] [--quick]
"""
import argparse
import csv
import datetime
import json
import os
import platform
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, ".."))
PROG = "speed.py"
TCMALLOC = "/usr/lib/x86_64-linux-gnu/libtcmalloc_minimal.so.4"
TCMALLOC_PACKAGE = "libtcmalloc-minimal4"
PYTORCH_PYTHON = "/usr/bin/python3"
IDLE_LOAD = 0.5


def max_threads(env):
    """The most threads any row of the run used (results from before this field: the cores)."""
    return env.get("max_threads", env["cores"])


def busy(loads, cores):
    """Whether anything but the benchmark ran: the 1-minute load average counts the benchmark's
    own threads, so during the runs it may reach their number (at most `cores`) plus IDLE_LOAD;
    before the first run it must be below IDLE_LOAD."""
    return loads["start"] > IDLE_LOAD or loads["max"] > cores + IDLE_LOAD


class Row:
    """One configuration compared: model, mode, threads, qtrain's weight rules, steps."""

    def __init__(self, model, mode, threads, quants, iters, warmup):
        self.model, self.mode, self.threads = model, mode, threads
        self.quants, self.iters, self.warmup = quants, iters, warmup

    @property
    def name(self):
        return f"{self.model}-{self.mode}-{self.threads}t"


# Odd step counts: qbench and bench_pytorch both take the middle of the sorted times.
ROWS = [
    Row("resnet56", "train", 2, ["fp", "bc", "sr", "r"], 5, 2),
    Row("resnet56", "train", 1, ["fp"], 3, 1),
    Row("resnet56", "infer", 2, ["fp"], 9, 2),
    Row("vgg_bc", "train", 2, ["fp", "bc"], 3, 1),
    Row("vgg_bc", "train", 1, ["fp"], 3, 1),
    Row("vgg_bc", "infer", 2, ["fp"], 5, 1),
    Row("mlp", "train", 2, ["fp"], 201, 20),
]

RUN_FIELDS = ["round", "model", "mode", "threads", "quant", "framework", "memory_format", "img_per_s",
              "img_per_s_best", "gflops", "peak_rss_mb", "params", "load_before", "load_after",
              "seconds"]
RESULT_FIELDS = ["model", "mode", "threads", "quant", "rounds", "qtrain_img_per_s",
                 "pytorch_img_per_s", "pytorch_formats", "ratio_median", "ratio_min", "ratio_max",
                 "vs_fp_median", "qtrain_gflops", "qtrain_peak_fraction", "pytorch_gflops",
                 "pytorch_peak_fraction", "qtrain_rss_mb", "pytorch_rss_mb", "params"]


def fail(msg):
    sys.exit(f"{PROG}: error: {msg}")


def load1():
    return os.getloadavg()[0]


def run_json(cmd, env=None):
    out = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    if out.returncode != 0:
        fail(f"{' '.join(cmd)}: {out.stderr.strip() or 'exit status %d' % out.returncode}")
    return json.loads(out.stdout)


def cpu_model():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def git_commit():
    r = subprocess.run(["git", "-C", ROOT, "describe", "--always", "--dirty"],
                       stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    return r.stdout.strip() or "unknown"


def preflight(args):
    """Everything that must hold before a long run: programs, python, allocator."""
    for prog in (args.qbench, args.fma_peak):
        if not os.access(prog, os.X_OK):
            fail(f"{prog} not found: build first (meson setup build && ninja -C build)")
    if not os.access(args.python, os.X_OK):
        fail(f"{args.python} not found: PyTorch runs on Debian's python3 with python3-torch")
    if not os.path.exists(args.tcmalloc):
        fail(f"{args.tcmalloc} not found: install it (apt-get install {TCMALLOC_PACKAGE}, or "
             f"tools/setup.sh); without it PyTorch would run on glibc's allocator, "
             f"which is not its best configuration here")


def qbench(args, row, quant):
    iters, warmup = (1, 0) if args.quick else (row.iters, row.warmup)
    return run_json([args.qbench, "--model", row.model, "--mode", row.mode, "--threads",
                     str(row.threads), "--quant", quant, "--batch", "128", "--iters",
                     str(iters), "--warmup", str(warmup), "--json"])


def memory_formats(args, row):
    """PyTorch's layouts to time for a row: both for the conv nets unless one is asked for."""
    if row.model == "mlp":
        return ["contiguous"]
    return ["contiguous", "channels_last"] if args.memory_format == "best" else [args.memory_format]


def pytorch(args, row, fmt):
    iters, warmup = (1, 0) if args.quick else (row.iters, row.warmup)
    env = dict(os.environ, LD_PRELOAD=args.tcmalloc)
    r = run_json([args.python, os.path.join(ROOT, "tools/bench_pytorch.py"), "--model",
                  row.model, "--mode", row.mode, "--threads", str(row.threads), "--batch", "128",
                  "--iters", str(iters), "--warmup", str(warmup), "--memory-format", fmt,
                  "--expect-preload", args.tcmalloc, "--json"], env)
    if r["allocator"] == "glibc" or r["torch_threads"] != row.threads:
        fail(f"PyTorch ran with the {r['allocator']} allocator and {r['torch_threads']} "
             f"threads, not tcmalloc and {row.threads}")
    return r


def measure(fn, rnd, row, quant, framework):
    before = load1()
    t0 = time.monotonic()
    r = fn()
    run = {"round": rnd, "model": row.model, "mode": row.mode, "threads": row.threads,
           "quant": quant, "framework": framework, "memory_format": r.get("memory_format", ""),
           "img_per_s": round(r["img_per_s"], 2),
           "img_per_s_best": round(r["img_per_s_best"], 2),
           "gflops": round(r.get("gflops", 0.0), 2), "peak_rss_mb": round(r["peak_rss_mb"], 1),
           "params": r["params"], "load_before": round(before, 2),
           "load_after": round(load1(), 2), "seconds": round(time.monotonic() - t0, 1)}
    return run, r


def fma_peaks(args):
    """{threads: GFLOP/s} of the widest FMA this CPU has, from tools/fma_peak."""
    r = run_json([args.fma_peak, "--json", "--threads", "2"] +
                 (["--rounds", "20"] if args.quick else []))
    best = {}
    for p in r["peaks"]:
        if p["isa"] == r["peaks"][0]["isa"]:
            best[p["threads"]] = p["gflops"]
    return r, best


def profiles(args):
    """qbench --profile of every 2-thread training row (fp), as text and JSON files."""
    for row in args.selected:
        if row.mode != "train" or row.threads != 2:
            continue
        iters, warmup = (1, 0) if args.quick else (row.iters, row.warmup)
        cmd = [args.qbench, "--model", row.model, "--threads", "2", "--iters", str(iters),
               "--warmup", str(warmup), "--profile"]
        before = load1()
        text = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        if text.returncode != 0:
            fail(f"{' '.join(cmd)}: {text.stderr.strip()}")
        data = run_json(cmd + ["--json"])
        data["load_average"] = [round(before, 2), round(load1(), 2)]
        base = os.path.join(args.out, f"profile_{row.model}")
        with open(base + ".txt", "w") as f:
            f.write(f"$ {' '.join(os.path.relpath(c, ROOT) if c == args.qbench else c for c in cmd)}"
                    f"\n# load average {before:.2f} before, {load1():.2f} after\n{text.stdout}")
        with open(base + ".json", "w") as f:
            json.dump(data, f, indent=1)
            f.write("\n")
        print(f"profile of {row.model} written to {base}.txt and .json", flush=True)


def summarize(runs, rows, peaks):
    """One result per (row, weight rule): medians over rounds and the per-round ratios'
    median, min and max. A ratio pairs a qtrain run with the PyTorch run of its round; when
    PyTorch ran in several memory formats in a round, with the fastest of them."""
    results = []
    for row in rows:
        def of(framework, quant, rnd=None):
            return [r for r in runs if r["model"] == row.model and r["mode"] == row.mode
                    and r["threads"] == row.threads and r["framework"] == framework
                    and r["quant"] == quant and (rnd is None or r["round"] == rnd)]
        pt = {}
        for r in of("pytorch", "fp"):
            if r["round"] not in pt or r["img_per_s"] > pt[r["round"]]["img_per_s"]:
                pt[r["round"]] = r
        fp = {r["round"]: r for r in of("qtrain", "fp")}
        for quant in row.quants:
            q = {r["round"]: r for r in of("qtrain", quant)}
            rounds = sorted(set(q) & set(pt))
            if not rounds:
                continue
            ratios = [q[k]["img_per_s"] / pt[k]["img_per_s"] for k in rounds]
            vs_fp = [q[k]["img_per_s"] / fp[k]["img_per_s"] for k in rounds if k in fp]
            q_ips = statistics.median(q[k]["img_per_s"] for k in rounds)
            p_ips = statistics.median(pt[k]["img_per_s"] for k in rounds)
            gflop_per_img = q[rounds[0]]["gflops"] / q[rounds[0]]["img_per_s"]
            peak = peaks.get(row.threads)
            results.append({
                "model": row.model, "mode": row.mode, "threads": row.threads, "quant": quant,
                "rounds": len(rounds), "qtrain_img_per_s": round(q_ips, 2),
                "pytorch_img_per_s": round(p_ips, 2),
                "pytorch_formats": "/".join(pt[k]["memory_format"] for k in rounds),
                "ratio_median": round(statistics.median(ratios), 3),
                "ratio_min": round(min(ratios), 3), "ratio_max": round(max(ratios), 3),
                "vs_fp_median": round(statistics.median(vs_fp), 3) if vs_fp else "",
                "qtrain_gflops": round(gflop_per_img * q_ips, 1),
                "qtrain_peak_fraction": round(gflop_per_img * q_ips / peak, 3) if peak else "",
                "pytorch_gflops": round(gflop_per_img * p_ips, 1),
                "pytorch_peak_fraction": round(gflop_per_img * p_ips / peak, 3) if peak else "",
                "qtrain_rss_mb": statistics.median(q[k]["peak_rss_mb"] for k in rounds),
                "pytorch_rss_mb": statistics.median(pt[k]["peak_rss_mb"] for k in rounds),
                "params": q[rounds[0]]["params"],
            })
    return results


def markdown(env, results):
    loads = env["load"]
    peaks = ", ".join(f"{t} thread{'s' if int(t) > 1 else ''} {g:.0f}"
                      for t, g in sorted(env["fma_peak_gflops"].items()))
    lines = [
        f"Measured {env['date']} on {env['cpu']} ({env['cores']} cores, Linux "
        f"{env['kernel']}), qtrain {env['qtrain_commit']}, {env['rounds']} interleaved rounds "
        f"(qtrain then PyTorch, every row once per round), batch 128.",
        f"Load average (1 min): {loads['start']:.2f} at the start, {loads['max']:.2f} at most, "
        f"{loads['end']:.2f} at the end"
        f"{' (not idle: provisional figures)' if busy(loads, max_threads(env)) else ''}.",
        f"PyTorch {env['torch_version']} ({env['python']}, python {env['python_version']}): "
        f"allocator {env['allocator']} ({env['allocator_path']}), "
        f"torch.get_num_threads() equal to the row's threads (checked in every run), interop "
        f"threads {env['torch_interop_threads']}, "
        f"oneDNN {'on' if env['mkldnn_enabled'] else 'off'}, ATen {env['cpu_capability']}, "
        + ("the conv nets timed in both memory formats every round, the faster one counting "
           "(`PyTorch layout`: the one that won, round by round)."
           if env["memory_format"] == "best" else
           f"memory format {env['memory_format']} for the conv nets."),
        f"fp32 FMA peak ({env['fma_isa']}, tools/fma_peak): {peaks} GFLOP/s.",
        "",
        "Images/s are medians over the rounds; the ratio is the median of the per-round "
        "qtrain / PyTorch ratios, with their range; `vs fp` is the same for qtrain's rule "
        "against its own fp run; `% peak` divides the achieved GFLOP/s by the FMA peak at that "
        "thread count.",
        "",
        "| model | mode | threads | weights | qtrain img/s | PyTorch img/s (fp32) | PyTorch "
        "layout | ratio (median) | ratio range | vs fp | qtrain GFLOP/s (% peak) | PyTorch "
        "GFLOP/s (% peak) | peak RSS qtrain / PyTorch (MB) |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        def pct(f):
            return f" ({100 * f:.0f}%)" if f != "" else ""
        vs_fp = f"{r['vs_fp_median']:.2f}" if r["quant"] != "fp" and r["vs_fp_median"] != "" else ""
        lines.append(
            f"| {r['model']} | {r['mode']} | {r['threads']} | {r['quant']} | "
            f"{r['qtrain_img_per_s']:.1f} | {r['pytorch_img_per_s']:.1f} | "
            f"{r['pytorch_formats'].replace('channels_last', 'NHWC').replace('contiguous', 'NCHW')} | "
            f"{r['ratio_median']:.2f}x | {r['ratio_min']:.2f}-{r['ratio_max']:.2f} | {vs_fp} | "
            f"{r['qtrain_gflops']:.1f}{pct(r['qtrain_peak_fraction'])} | "
            f"{r['pytorch_gflops']:.1f}{pct(r['pytorch_peak_fraction'])} | "
            f"{r['qtrain_rss_mb']:.0f} / {r['pytorch_rss_mb']:.0f} |")
    return "\n".join(lines) + "\n"


def write_csv(path, fields, rows):
    with open(path, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=fields)
        w.writeheader()
        w.writerows(rows)


def parse_args(argv):
    ap = argparse.ArgumentParser(prog=PROG, description=__doc__.splitlines()[0])
    ap.add_argument("--out", default=os.path.join(ROOT, "experiments/results/speed"))
    ap.add_argument("--build", default=os.environ.get("QTRAIN_BUILD_ROOT",
                                                      os.path.join(ROOT, "build")))
    ap.add_argument("--rounds", type=int, default=3, help="interleaved rounds (at least 3)")
    ap.add_argument("--rows", default="",
                    help="comma-separated row names to run (default all: "
                         + ", ".join(r.name for r in ROWS) + ")")
    ap.add_argument("--memory-format", choices=("best", "contiguous", "channels_last"),
                    default="best", help="PyTorch's layout for the conv nets (best: time both "
                                         "every round and count the faster)")
    ap.add_argument("--tcmalloc", default=TCMALLOC, help="the allocator PyTorch preloads")
    ap.add_argument("--python", default=PYTORCH_PYTHON, help="the python that has torch")
    ap.add_argument("--quick", action="store_true",
                    help="one timed step per run, no warm-up (a smoke run; figures meaningless)")
    args = ap.parse_args(argv)
    if args.rounds < 3:
        ap.error("--rounds must be at least 3 (a median of paired ratios needs rounds)")
    names = [n for n in args.rows.split(",") if n]
    unknown = [n for n in names if n not in {r.name for r in ROWS}]
    if unknown:
        ap.error(f"unknown row {unknown[0]} (rows: {', '.join(r.name for r in ROWS)})")
    args.selected = [r for r in ROWS if not names or r.name in names]
    args.qbench = os.path.join(args.build, "src/cli/qbench")
    args.fma_peak = os.path.join(args.build, "tools/fma_peak")
    return args


def environment(args, first_pytorch, fma, peaks, loads):
    env = {k: first_pytorch[k] for k in (
        "allocator", "allocator_path", "torch_interop_threads", "mkldnn_available",
        "mkldnn_enabled", "cpu_capability", "python", "python_version", "torch_version")}
    env.update({
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "cpu": cpu_model(), "cores": os.cpu_count(), "kernel": platform.release(),
        "qtrain_commit": git_commit(), "rounds": args.rounds, "quick": args.quick,
        "memory_format": args.memory_format,
        "fma_isa": fma["peaks"][0]["isa"] if fma["peaks"] else "",
        "fma_peak_gflops": {str(t): g for t, g in peaks.items()}, "fma_peak": fma,
        "load": loads, "max_threads": max(r.threads for r in args.selected),
    })
    return env


def main(argv):
    args = parse_args(argv)
    preflight(args)
    start_load = load1()
    if start_load > IDLE_LOAD:
        print(f"{PROG}: warning: load average {start_load:.2f} is above {IDLE_LOAD}: the machine "
              f"is not idle, so these figures are provisional (re-measure on an idle machine)",
              file=sys.stderr, flush=True)
    fma, peaks = fma_peaks(args)
    print("fp32 FMA peak: " + ", ".join(f"{t} thread{'s' if t > 1 else ''} {g:.0f} GFLOP/s"
                                         for t, g in sorted(peaks.items())), flush=True)
    runs, pytorch_env, max_load = [], None, start_load
    total = args.rounds * sum(len(r.quants) + len(memory_formats(args, r)) for r in args.selected)
    t_start, done = time.monotonic(), 0
    for rnd in range(1, args.rounds + 1):
        for row in args.selected:
            steps = [(q, "qtrain", lambda q=q: qbench(args, row, q)) for q in row.quants]
            steps += [("fp", "pytorch", lambda f=f: pytorch(args, row, f))
                      for f in memory_formats(args, row)]
            for quant, framework, fn in steps:
                run, raw = measure(fn, rnd, row, quant, framework)
                if framework == "pytorch":
                    pytorch_env = pytorch_env or raw
                    want = next(r["params"] for r in runs[::-1]
                                if r["model"] == row.model and r["framework"] == "qtrain")
                    if raw["params"] != want:
                        fail(f"{row.model}: PyTorch's model has {raw['params']} parameters, "
                             f"qtrain's {want}: the two nets differ")
                runs.append(run)
                max_load = max(max_load, run["load_before"], run["load_after"])
                done += 1
                eta = (time.monotonic() - t_start) / done * (total - done)
                print(f"[{done}/{total}, ETA {eta / 60:.1f} min] round {rnd} {row.name} "
                      f"{framework} {quant} {run['memory_format']}: {run['img_per_s']:.1f} img/s "
                      f"(load {run['load_before']:.2f})", flush=True)
    loads = {"start": start_load, "max": max_load, "end": load1()}
    env = environment(args, pytorch_env, fma, peaks, loads)
    results = summarize(runs, args.selected, peaks)
    os.makedirs(args.out, exist_ok=True)
    write_csv(os.path.join(args.out, "runs.csv"), RUN_FIELDS, runs)
    write_csv(os.path.join(args.out, "results.csv"), RESULT_FIELDS, results)
    md = markdown(env, results)
    with open(os.path.join(args.out, "results.md"), "w") as f:
        f.write(md)
    profiles(args)
    with open(os.path.join(args.out, "results.json"), "w") as f:
        json.dump({"environment": env, "results": results, "runs": runs}, f, indent=1)
        f.write("\n")
    print(md)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
