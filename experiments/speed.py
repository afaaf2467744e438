#!/usr/bin/env python3
"""Training and inference speed of qtrain against PyTorch on this machine, side by side.

Each row runs `qbench` and then `tools/bench_pytorch.py` (Debian's python3-torch, with
tcmalloc preloaded when it is installed: PyTorch's best configuration here) on the same
model, batch, threads and mode, so both see the same machine state. Writes
<out>/results.csv and <out>/results.md. About 10 minutes on 2 cores; run it on an otherwise
idle machine (another job on one core halves the 2-thread figures).

Usage: speed.py [--out DIR] [--build DIR] [--quick]
"""
import argparse
import csv
import json
import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, ".."))
TCMALLOC = "/usr/lib/x86_64-linux-gnu/libtcmalloc.so.4"

# (model, mode, threads, qtrain quant modes, iters, warmup)
ROWS = [
    ("resnet56", "train", 2, ["fp", "bc", "sr", "r"], 6, 2),
    ("resnet56", "train", 1, ["fp"], 4, 1),
    ("resnet56", "infer", 2, ["fp"], 10, 2),
    ("vgg_bc", "train", 2, ["fp", "bc"], 3, 1),
    ("vgg_bc", "train", 1, ["fp"], 2, 1),
    ("vgg_bc", "infer", 2, ["fp"], 5, 1),
    ("mlp", "train", 2, ["fp"], 200, 20),
]


def run_json(cmd, env=None):
    out = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    if out.returncode != 0:
        sys.exit(f"speed.py: error: {' '.join(cmd)}: {out.stderr.strip()}")
    return json.loads(out.stdout)


def qbench(args, model, mode, threads, quant, iters, warmup):
    return run_json([os.path.join(args.build, "src/cli/qbench"), "--model", model, "--mode", mode,
                     "--threads", str(threads), "--quant", quant, "--batch", "128",
                     "--iters", str(iters), "--warmup", str(warmup), "--json"])


def pytorch(model, mode, threads, iters, warmup):
    env = dict(os.environ)
    if os.path.exists(TCMALLOC):
        env["LD_PRELOAD"] = TCMALLOC
    return run_json(["/usr/bin/python3", os.path.join(ROOT, "tools/bench_pytorch.py"), "--model",
                     model, "--mode", mode, "--threads", str(threads), "--batch", "128",
                     "--iters", str(iters), "--warmup", str(warmup), "--json"], env)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default=os.path.join(ROOT, "experiments/results/speed"))
    ap.add_argument("--build", default=os.path.join(ROOT, "build"))
    ap.add_argument("--quick", action="store_true", help="one timed step per row (a smoke run)")
    args = ap.parse_args()
    os.makedirs(args.out, exist_ok=True)
    rows = []
    for model, mode, threads, quants, iters, warmup in ROWS:
        if args.quick:
            iters, warmup = 1, 1
        pt = pytorch(model, mode, threads, iters, warmup)
        for quant in quants:
            q = qbench(args, model, mode, threads, quant, iters, warmup)
            rows.append({"model": model, "mode": mode, "threads": threads, "quant": quant,
                         "qtrain_img_per_s": q["img_per_s"], "qtrain_best": q["img_per_s_best"],
                         "qtrain_rss_mb": q["peak_rss_mb"], "qtrain_gflops": q["gflops"],
                         "pytorch_img_per_s": round(pt["img_per_s"], 2),
                         "pytorch_rss_mb": round(pt["peak_rss_mb"], 1),
                         "pytorch_allocator": pt.get("allocator", "")})
            r = rows[-1]
            print(f"{model} {mode} {threads}thr {quant}: qtrain {r['qtrain_img_per_s']} img/s, "
                  f"pytorch {r['pytorch_img_per_s']} img/s", flush=True)
    with open(os.path.join(args.out, "results.csv"), "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    lines = ["| model | mode | threads | weights | qtrain img/s | PyTorch img/s (fp32) | ratio | "
             "qtrain GFLOP/s | peak RSS qtrain / PyTorch (MB) |", "|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        ratio = r["qtrain_img_per_s"] / r["pytorch_img_per_s"]
        lines.append(f"| {r['model']} | {r['mode']} | {r['threads']} | {r['quant']} | "
                     f"{r['qtrain_img_per_s']:.1f} | {r['pytorch_img_per_s']:.1f} | {ratio:.2f}x | "
                     f"{r['qtrain_gflops']:.1f} | {r['qtrain_rss_mb']:.0f} / {r['pytorch_rss_mb']:.0f} |")
    with open(os.path.join(args.out, "results.md"), "w") as f:
        f.write("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
