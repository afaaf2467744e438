"""Data-parallel scaling on paper (issue 19, docs/scaling.md): for every zoo model, the bytes
of gradient each step sums over the processes (fp32, every parameter), the ring-allreduce
traffic per process 2(N-1)/N x bytes, and the predicted efficiency of a step on N nodes over
10 Gb/s and 100 Gb/s links, from the step time measured here (experiments/mpi_speed.py's
results.json) scaled by each model's training FLOPs (qbench --json).

The model of a step on N nodes, with qtrain's implementation (gradients summed after
backward, in 4 MiB buckets, no overlap with backward):
  compute(N) = T128 / N          the global batch of 128 split over N nodes (qtrain's
                                 train.batch_size is global), each node as fast as one core here
  comm(N)    = 2(N-1)/N * bytes / bandwidth + 2(N-1) * latency * buckets
  efficiency = compute(N) / (compute(N) + comm(N))
A second table keeps 128 images per node (a global batch of 128 N, another recipe) for
comparison. latency is 20 us per message at 10 Gb/s (TCP) and 3 us at 100 Gb/s (RDMA).
Writes scaling.json and scaling.md."""

import os
import json
import math
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import qtexp  # noqa: E402

MODELS = ["mlp", "convnet", "vgg9", "vgg_bc", "resnet20", "resnet56", "resnet110", "wrn56_2",
          "resnet18"]
NODES = [4, 16, 64]
LINKS = [("10 Gb/s", 10e9 / 8, 20e-6), ("100 Gb/s", 100e9 / 8, 3e-6)]
BUCKET = 4 << 20
BATCH = 128


def model_facts(args, name):
    r = subprocess.run([str(qtexp.tool(args, "src/cli/qbench")), "--model", name, "--batch", "2",
                        "--iters", "1", "--warmup", "0", "--threads", "1", "--json"],
                       capture_output=True, text=True, check=True)
    j = json.loads(r.stdout)
    return {"params": j["params"], "gflop_per_img": j["gflop_per_img"]}


def comm_seconds(nbytes, n, bandwidth, latency):
    buckets = math.ceil(nbytes / BUCKET)
    return 2 * (n - 1) / n * nbytes / bandwidth + 2 * (n - 1) * latency * buckets


def efficiency(compute, comm):
    return compute / (compute + comm)


def main():
    p = qtexp.parser("scaling_model", __doc__, seeds=False)
    p.add_argument("--speed", type=Path, default=qtexp.RESULTS / "mpi_speed" / "results.json",
                   help="mpi_speed.py's results.json (default experiments/results/mpi_speed)")
    a = qtexp.finish_args(p.parse_args(), "scaling_model")
    speed = json.loads(a.speed.read_text())
    one = speed["runs"]["1 proc x 1 thread"]
    two = speed["runs"]["2 procs x 1 thread"]
    t128 = sorted(x["step_seconds"] for x in one)[len(one) // 2]
    facts = {m: model_facts(a, m) for m in MODELS}
    ref = facts["resnet20"]["gflop_per_img"]
    rows = []
    for m in MODELS:
        f = facts[m]
        nbytes = 4 * f["params"]
        step = t128 * f["gflop_per_img"] / ref
        row = {"model": m, "params": f["params"], "grad_bytes": nbytes, "step_seconds_128": step,
               "strong": {}, "weak": {}}
        for link, bw, lat in LINKS:
            for n in NODES:
                c = comm_seconds(nbytes, n, bw, lat)
                row["strong"][f"{link} N={n}"] = efficiency(step / n, c)
                row["weak"][f"{link} N={n}"] = efficiency(step, c)
        rows.append(row)
    # the check against this machine: 2 processes over shared memory
    r20 = facts["resnet20"]
    traffic2 = 2 * (2 - 1) / 2 * 4 * r20["params"]
    cmin = min(x["comm_seconds_min"] for x in two)
    cmed = sorted(x["comm_seconds"] for x in two)[len(two) // 2]
    check = {"traffic_bytes": traffic2, "comm_seconds_min": cmin, "comm_seconds_median": cmed,
             "implied_bandwidth_bytes_per_s": traffic2 / cmin}
    (a.out / "scaling.json").write_text(json.dumps({"t128_resnet20": t128, "rows": rows,
                                                    "check": check}, indent=2) + "\n")
    cols = [f"{link} N={n}" for link, _, _ in LINKS for n in NODES]
    head = ["model", "weights", "gradient MB/step", "ring traffic MB/process (N=64)",
            "step s (batch 128, one core)"]
    def table(kind):
        out = ["| " + " | ".join(["model"] + cols) + " |", "|" + "---|" * (len(cols) + 1)]
        for r in rows:
            out.append("| " + " | ".join([r["model"]] + [f"{100 * r[kind][c]:.0f}%" for c in cols])
                       + " |")
        return "\n".join(out)
    lines = ["# Data-parallel scaling model (experiments/scaling_model.py)", "",
             f"Step time of ResNet-20, batch 128, 1 process x 1 thread, measured here: "
             f"{t128:.3f} s (median of {len(one)} rounds, {os.path.relpath(a.speed.resolve(), qtexp.REPO)}); other models scaled by "
             "their training FLOPs per image (qbench).", "",
             "| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in rows:
        lines.append(f"| {r['model']} | {r['params'] / 1e6:.3f} M | {r['grad_bytes'] / 1e6:.2f} | "
                     f"{2 * 63 / 64 * r['grad_bytes'] / 1e6:.2f} | {r['step_seconds_128']:.3f} |")
    lines += ["", "Predicted efficiency, global batch 128 (qtrain's train.batch_size):", "",
              table("strong"), "", "Predicted efficiency, 128 images per node (global batch "
              "128 N):", "", table("weak"), "",
              f"Check on this machine (2 processes, shared memory, ResNet-20): traffic "
              f"{traffic2 / 1e6:.2f} MB per process per step; comm_seconds min "
              f"{cmin * 1e3:.2f} ms (implied {traffic2 / cmin / 1e9:.2f} GB/s), median "
              f"{cmed * 1e3:.1f} ms (includes waiting for the slower process)."]
    (a.out / "scaling.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
