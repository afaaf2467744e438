#!/usr/bin/env python3
"""JPEG loader throughput against ResNet-18 training at 224 on this machine.

Generates ImageNet-like JPEGs (500x375, YCbCr 4:2:0, quality 90, about 110 KB each:
`mkdata imagenet --photo`), then times `qbench --loader` on them with the training recipe
(random-resized crop and flip) at each output size, with 1 and 2 threads, with and without
DCT-scaled decoding, interleaving the configurations round by round (so every
configuration sees the same changes in machine load), and `qbench --model resnet18
--image-size 224` training steps. Per configuration it keeps the median over rounds of
images/s (wall clock) and images per CPU-second (the rate of one core: per thread).

Writes <out>/results.json (every run) and <out>/results.md (the table the README cites).
About 10 minutes on 2 idle cores. The load average is recorded: figures taken while other
jobs run are provisional.

Usage: loader_speed.py [--out DIR] [--build DIR] [--rounds N] [--smoke]
"""
import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, ".."))


def run_json(cmd):
    r = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    if r.returncode != 0:
        sys.exit(f"loader_speed.py: error: {' '.join(cmd)}: {r.stderr.strip()}")
    return json.loads(r.stdout)


def children_cpu():
    u = resource.getrusage(resource.RUSAGE_CHILDREN)
    return u.ru_utime + u.ru_stime


def loader_run(a, data, size, threads, scaled):
    cmd = [os.path.join(a.build, "src/cli/qbench"), "--loader", "--dataset", "imagenet",
           "--root", data, "--image-size", str(size), "--threads", str(threads),
           "--batch", str(a.batch), "--iters", str(a.iters), "--json"]
    return run_json(cmd + ([] if scaled else ["--no-scaled-decode"]))


def train_run(a):
    cmd = [os.path.join(a.build, "src/cli/qbench"), "--model", "resnet18", "--image-size",
           str(a.train_size), "--batch", str(a.train_batch), "--threads", "2", "--iters",
           str(a.train_iters), "--warmup", "1", "--json"]
    cpu0 = children_cpu()
    r = run_json(cmd)
    cpu = children_cpu() - cpu0
    # the CPU time includes warm-up and set-up, so this rate is a lower bound
    r["images_per_cpu_second_lower_bound"] = r["batch"] * (r["iters"] + r["warmup"]) / cpu
    return r


def median(runs, key):
    return statistics.median(r[key] for r in runs)


def write_md(path, a, loader, train, loads):
    lines = [
        "# JPEG loader against ResNet-18 training",
        "",
        f"`experiments/loader_speed.py` on {a.images} generated 500x375 JPEGs (YCbCr 4:2:0, "
        f"quality 90, {a.mean_kb:.0f} KB on average), training recipe (random-resized crop "
        f"0.08-1, flip), batch {a.batch}; median of {a.rounds} interleaved rounds. Load average "
        f"(1 min) {loads[0]:.1f} at the start, {loads[1]:.1f} at the end"
        + (": other jobs were running, so these figures are provisional." if max(loads) > 2.5
           else "."),
        "",
        "| output | threads | DCT scaling | images/s | images per CPU-second |",
        "|---|---|---|---|---|",
    ]
    for (size, threads, scaled), runs in loader.items():
        lines.append(f"| {size} | {threads} | {'on' if scaled else 'off'} | "
                     f"{median(runs, 'images_per_second'):.0f} | "
                     f"{median(runs, 'images_per_cpu_second'):.0f} |")
    t = statistics.median(r["img_per_s"] for r in train)
    tc = statistics.median(r["images_per_cpu_second_lower_bound"] for r in train)
    l2 = median(loader[(a.train_size, 2, True)], "images_per_second")
    lines += [
        "",
        f"ResNet-18 training at {a.train_size} (qbench --model resnet18 --image-size "
        f"{a.train_size} --batch {a.train_batch} --threads 2): {t:.1f} images/s "
        f"(at least {tc:.1f} images per CPU-second).",
        f"The loader at 2 threads delivers {l2:.0f} images/s at {a.train_size}, "
        f"{l2 / t:.0f} times what training consumes.",
        "",
    ]
    with open(path, "w") as f:
        f.write("\n".join(lines))


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default=os.path.join(ROOT, "experiments/results/loader"))
    ap.add_argument("--build", default=os.path.join(ROOT, "build"))
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--smoke", action="store_true", help="tiny sizes, to check the script runs")
    a = ap.parse_args()
    a.images, a.batch, a.iters = (16, 8, 2) if a.smoke else (512, 64, 16)
    a.sizes = [224, 64] if a.smoke else [224, 112, 64]
    a.train_size, a.train_batch, a.train_iters = (224, 2, 1) if a.smoke else (224, 32, 4)
    os.makedirs(a.out, exist_ok=True)
    loads = [os.getloadavg()[0]]
    with tempfile.TemporaryDirectory() as tmp:
        data = os.path.join(tmp, "imagenet")
        subprocess.run([os.path.join(a.build, "tools/mkdata"), "imagenet", data, "--classes", "8",
                        "--train", str(a.images // 8), "--test", "0", "--width", "500",
                        "--height", "375", "--photo"], check=True, stdout=subprocess.DEVNULL)
        sizes = [os.path.getsize(os.path.join(d, f)) for d, _, fs in os.walk(data) for f in fs
                 if f.endswith(".JPEG")]
        a.mean_kb = sum(sizes) / len(sizes) / 1000
        configs = [(s, t, sc) for s in a.sizes for t in (1, 2) for sc in (True, False)]
        loader = {c: [] for c in configs}
        train = []
        for rnd in range(a.rounds):
            for c in configs:
                loader[c].append(loader_run(a, data, *c))
            train.append(train_run(a))
            print(f"round {rnd + 1}/{a.rounds} done, load {os.getloadavg()[0]:.1f}", flush=True)
    loads.append(os.getloadavg()[0])
    with open(os.path.join(a.out, "results.json"), "w") as f:
        json.dump({"date": time.strftime("%Y-%m-%d %H:%M"), "load_average": loads,
                   "mean_file_kb": a.mean_kb,
                   "loader": [{"size": c[0], "threads": c[1], "scaled_decode": c[2], "runs": r}
                              for c, r in loader.items()],
                   "train": train}, f, indent=1)
    write_md(os.path.join(a.out, "results.md"), a, loader, train, loads)
    print(open(os.path.join(a.out, "results.md")).read())


if __name__ == "__main__":
    main()
