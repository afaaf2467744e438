"""Data-parallel speed on this machine (issue 19): ResNet-20, global batch 128, CIFAR-10-format
images written by mkdata, trained by qtrain as 1 process x 1 thread, 2 processes x 1 thread
(mpirun) and 1 process x 2 threads. Rounds interleave the three setups so that the load of a
shared machine falls on all of them alike; each run's speed is the images/s between its
first logged step after the warm-up and its last (train.csv's seconds column), and the
tables give the median over rounds with every round's figure. comm_seconds (train.csv) is
the time per step in MPI collectives: its median includes waiting for the slower process,
its minimum over a run's steps comes closest to the transfer alone (docs/scaling.md uses
it). Writes results.json and results.md."""

import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import qtexp  # noqa: E402

SETUPS = [  # (label, processes, threads per process)
    ("1 proc x 1 thread", 1, 1),
    ("2 procs x 1 thread", 2, 1),
    ("1 proc x 2 threads", 1, 2),
]
WARMUP = 3      # steps left out of the rate (first-touch allocation, pools starting)


def mpirun_prefix(procs):
    cmd = ["mpirun", "--oversubscribe", "-np", str(procs)]
    if os.geteuid() == 0:
        cmd.insert(1, "--allow-run-as-root")
    return cmd


def one_run(build, data, out, procs, threads, steps):
    qtrain = str(build / "src" / "cli" / "qtrain")
    args = [qtrain, "--config", str(qtexp.REPO / "configs" / "resnet20_fp.ini"), "--out", str(out),
            "--overwrite", "--quiet", "--threads", str(threads),
            "--set", f"data.root={data}", "--set", f"train.max_steps={steps}",
            "--set", "log.every=1", "--set", "log.checkpoint_every=0"]
    cmd = (mpirun_prefix(procs) if procs > 1 else []) + args
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
    rows = qtexp.read_csv(out / "train.csv")
    first, last = rows[WARMUP - 1], rows[-1]
    images = 128 * (int(last["step"]) - int(first["step"]))
    seconds = float(last["seconds"]) - float(first["seconds"])
    comm = [float(r["comm_seconds"]) for r in rows[WARMUP:]]
    return {"images_per_s": images / seconds,
            "step_seconds": seconds / (int(last["step"]) - int(first["step"])),
            "comm_seconds": statistics.median(comm), "comm_seconds_min": min(comm)}


def main():
    p = qtexp.parser("mpi_speed", __doc__, seeds=False)
    p.add_argument("--rounds", type=int, default=3, help="interleaved rounds (default 3)")
    p.add_argument("--steps", type=int, default=20, help="steps per run (default 20)")
    a = qtexp.finish_args(p.parse_args(), "mpi_speed")
    build, out = a.build, a.out
    rounds, steps = (1, WARMUP + 2) if a.smoke else (a.rounds, a.steps)
    work = Path(tempfile.mkdtemp(prefix="mpi_speed."))
    try:
        data = work / "cifar"
        subprocess.run([str(build / "tools" / "mkdata"), "cifar10", str(data), "--train",
                        str(128 * (steps + 1)), "--test", "128"], check=True,
                       stdout=subprocess.DEVNULL)
        runs = {label: [] for label, _, _ in SETUPS}
        for r in range(rounds):
            for label, procs, threads in SETUPS:
                res = one_run(build, data, work / "run", procs, threads, steps)
                runs[label].append(res)
                print(f"round {r + 1}: {label}: {res['images_per_s']:.1f} img/s, "
                      f"comm {res['comm_seconds'] * 1e3:.1f} ms/step", flush=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    med = {k: statistics.median(x["images_per_s"] for x in v) for k, v in runs.items()}
    base, two_procs, two_threads = (med[s[0]] for s in SETUPS)
    summary = {"model": "resnet20", "batch": 128, "steps": steps, "warmup_steps": WARMUP,
               "rounds": rounds, "load_average_at_end": os.getloadavg(), "runs": runs,
               "median_images_per_s": med,
               "speedup_2procs_vs_1proc_1thread": two_procs / base,
               "ratio_2procs_vs_1proc_2threads": two_procs / two_threads}
    (out / "results.json").write_text(json.dumps(summary, indent=2) + "\n")
    lines = ["# Data-parallel speed: ResNet-20, batch 128 (experiments/mpi_speed.py)", "",
             f"{rounds} interleaved rounds of {steps} steps (the first {WARMUP} left out); "
             f"load average at the end {os.getloadavg()[0]:.2f} on 2 cores (shared machine).",
             "", "| setup | median images/s | per round | step (s) | comm_seconds per step "
             "(median; min) |", "|---|---|---|---|---|"]
    for label, _, _ in SETUPS:
        v = runs[label]
        lines.append(f"| {label} | {med[label]:.1f} | "
                     + ", ".join(f"{x['images_per_s']:.1f}" for x in v)
                     + f" | {statistics.median(x['step_seconds'] for x in v):.3f} | "
                     + f"{statistics.median(x['comm_seconds'] for x in v) * 1e3:.1f} ms; "
                     + f"{min(x['comm_seconds_min'] for x in v) * 1e3:.2f} ms |")
    lines += ["", f"2 procs x 1 thread / 1 proc x 1 thread: **{two_procs / base:.2f}x**; "
              f"2 procs x 1 thread / 1 proc x 2 threads: **{two_procs / two_threads:.2f}**."]
    (out / "results.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
