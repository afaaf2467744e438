#!/usr/bin/env python3
"""Peak memory, speed and state bytes of the weight rules, by `qbench`, interleaved.

Each round runs every configuration once (model, weight rule, SGD momentum, and the build
when several are given), so all see the same machine state; a configuration's figures are
the medians over the rounds of qbench's median images/s, of its best step's images/s (less
disturbed by other jobs on a busy machine) and of the process's peak resident memory
(ru_maxrss), with the per-round min-max beside them. state_bytes (weights, optimizer
state and flip snapshots as allocated) does not vary between rounds.

Two uses (README "Memory of the weight rules"):
  mem_bench.py --out experiments/results/memory
      vgg_bc at batch 32, fp/bc/sr/r with momentum 0.9 and with plain SGD: SR's peak RSS
      against FP's, and SR's bytes of state per quantized weight;
  mem_bench.py --out DIR --builds before=/path/build,after=build --models resnet56:128,vgg_bc:32
               --quants fp,sr --momenta 0.9
      the speed of two builds side by side.

Writes <out>/runs.csv (every run) and results.md and results.json (the medians, with the
load average seen around the runs: figures from a busy machine are marked as such).

Usage: mem_bench.py [--out DIR] [--builds L=DIR,...] [--models M:BATCH,...] [--quants Q,...]
                    [--momenta M,...] [--rounds N] [--iters N] [--warmup N] [--threads N]
"""
import argparse
import csv
import json
import os
import statistics
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, ".."))
PROG = "mem_bench.py"
sys.path.insert(0, HERE)
import speed  # noqa: E402  (its idle rule: the benchmark's own threads do not count)


def parse_args():
    ap = argparse.ArgumentParser(prog=PROG, description=__doc__.split("\n")[0])
    ap.add_argument("--out", default=os.path.join(ROOT, "experiments", "results", "memory"))
    ap.add_argument("--builds", default="build", help="LABEL=DIR,... or DIR (default build)")
    ap.add_argument("--models", default="vgg_bc:32", help="MODEL:BATCH,... (default vgg_bc:32)")
    ap.add_argument("--quants", default="fp,bc,sr,r")
    ap.add_argument("--momenta", default="0.9,0")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--iters", type=int, default=5)
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--threads", type=int, default=2)
    return ap.parse_args()


def builds_of(text):
    out = []
    for item in text.split(","):
        label, _, path = item.rpartition("=")
        path = path if os.path.isabs(path) else os.path.join(ROOT, path)
        exe = os.path.join(path, "src", "cli", "qbench")
        if not os.access(exe, os.X_OK):
            sys.exit(f"{PROG}: no qbench at {exe} (build it first)")
        helptext = subprocess.run([exe, "--help"], capture_output=True, text=True).stdout
        out.append((label or os.path.basename(path.rstrip("/")), exe, "--momentum" in helptext))
    return out


def run_qbench(exe, model, batch, quant, momentum, a):
    cmd = [exe, "--model", model, "--batch", str(batch), "--quant", quant, "--threads",
           str(a.threads), "--iters", str(a.iters), "--warmup", str(a.warmup), "--json"]
    if momentum is not None:
        cmd += ["--momentum", str(momentum)]
    p = subprocess.run(cmd, capture_output=True, text=True)
    if p.returncode != 0:
        sys.exit(f"{PROG}: {' '.join(cmd)} failed: {p.stderr.strip()}")
    return json.loads(p.stdout)


def main():
    a = parse_args()
    builds = builds_of(a.builds)
    models = [(m.split(":")[0], int(m.split(":")[1])) for m in a.models.split(",")]
    quants = a.quants.split(",")
    momenta = [float(m) for m in a.momenta.split(",")]
    # a qbench without --momentum (an older build) trains with momentum 0.9 only
    configs = [(b, m, q, mo) for m in models for mo in momenta for q in quants for b in builds
               if b[2] or mo == 0.9]
    os.makedirs(a.out, exist_ok=True)
    runs, loads = [], []
    for r in range(a.rounds):
        for (label, exe, has_momentum), (model, batch), q, mo in configs:
            loads.append(os.getloadavg()[0])
            res = run_qbench(exe, model, batch, q, mo if has_momentum else None, a)
            runs.append({"round": r, "build": label, "model": model, "batch": batch, "quant": q,
                         "momentum": mo, "img_per_s": res["img_per_s"],
                         "img_per_s_best": res["img_per_s_best"],
                         "peak_rss_mb": res["peak_rss_mb"],
                         "state_bytes": res.get("state_bytes", ""),
                         "quantized_weights": res.get("quantized_weights", ""),
                         "param_bytes": res["param_bytes"], "load": loads[-1]})
            print(f"round {r + 1}/{a.rounds} {label} {model} b{batch} {q} momentum {mo}: "
                  f"{res['img_per_s']:.1f} img/s, peak RSS {res['peak_rss_mb']:.0f} MB",
                  flush=True)
    with open(os.path.join(a.out, "runs.csv"), "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(runs[0]))
        w.writeheader()
        w.writerows(runs)
    rows = []
    for (label, _, _), (model, batch), q, mo in configs:
        mine = [x for x in runs if (x["build"], x["model"], x["quant"], x["momentum"]) ==
                (label, model, q, mo)]
        ips = [x["img_per_s"] for x in mine]
        best = [x["img_per_s_best"] for x in mine]
        rss = [x["peak_rss_mb"] for x in mine]
        rows.append({"build": label, "model": model, "batch": batch, "quant": q, "momentum": mo,
                     "img_per_s": statistics.median(ips), "img_per_s_range": [min(ips), max(ips)],
                     "img_per_s_best": statistics.median(best),
                     "peak_rss_mb": statistics.median(rss), "peak_rss_range": [min(rss), max(rss)],
                     "state_bytes": mine[0]["state_bytes"], "param_bytes": mine[0]["param_bytes"],
                     "quantized_weights": mine[0]["quantized_weights"]})
    load = {"min": min(loads), "median": statistics.median(loads), "max": max(loads)}
    busy = speed.busy({"start": loads[0], "max": load["max"]}, a.threads)
    with open(os.path.join(a.out, "results.json"), "w") as f:
        json.dump({"rounds": a.rounds, "iters": a.iters, "threads": a.threads, "load": load,
                   "busy": busy, "rows": rows}, f, indent=2)
    lines = [f"# qbench, {a.rounds} interleaved rounds, {a.threads} threads, medians "
             f"(load average {load['min']:.1f} to {load['max']:.1f}, median {load['median']:.1f}"
             f"{': a busy machine' if busy else ''})", "",
             "| build | model | batch | weights | momentum | img/s (range) | best-step img/s "
             "| peak RSS MB (range) | state bytes | state bytes per quantized weight |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for x in rows:
        per = (f"{x['state_bytes'] / x['quantized_weights']:.3f}" if x["state_bytes"] != "" and
               x["quantized_weights"] else "")
        lines.append(f"| {x['build']} | {x['model']} | {x['batch']} | {x['quant']} | "
                     f"{x['momentum']:g} | {x['img_per_s']:.1f} ({x['img_per_s_range'][0]:.1f}-"
                     f"{x['img_per_s_range'][1]:.1f}) | {x['img_per_s_best']:.1f} | "
                     f"{x['peak_rss_mb']:.0f} "
                     f"({x['peak_rss_range'][0]:.0f}-{x['peak_rss_range'][1]:.0f}) | "
                     f"{x['state_bytes']} | {per} |")
    with open(os.path.join(a.out, "results.md"), "w") as f:
        f.write("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
