#!/usr/bin/env python3
"""qtrain's threads on a busy machine: 2-thread against 1-thread training speed, idle and
with one competing busy process pinned to one core, and (with --baseline) against another
build of qtrain (the thread pool before a change) on the same machine state.

Each round runs, idle and then with `taskset -c CORE yes > /dev/null` running: qbench at 1
and 2 threads for this build (and for the baseline build). Reported per condition: the
median over rounds of the per-round ratios 2-thread / 1-thread, and this build / baseline,
with their range. The issue's targets: with the competitor, 2 threads >= 0.9x 1 thread;
idle, this build within 3% of the baseline.

Writes <out>/runs.csv, results.csv and results.md. Usage:
  pool_contention.py [--build DIR] [--baseline DIR] [--model M] [--rounds N] [--core C] [--out DIR]
"""
import argparse
import csv
import os
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import speed  # noqa: E402

PROG = "pool_contention.py"


def qbench(build, model, threads, iters, warmup):
    return speed.run_json([os.path.join(build, "src/cli/qbench"), "--model", model, "--threads",
                           str(threads), "--iters", str(iters), "--warmup", str(warmup), "--json"])


def competitor(core):
    """`yes > /dev/null` pinned to one core; the caller terminates it."""
    return subprocess.Popen(["taskset", "-c", str(core), "yes"], stdout=subprocess.DEVNULL)


def ratios(runs, cond, num, den):
    """Per-round ratio of the runs keyed num and den (build, threads) under cond."""
    by = {(r["round"], r["build"], r["threads"]): r["img_per_s"] for r in runs if r["condition"] == cond}
    rounds = sorted({r["round"] for r in runs})
    return [by[(k,) + num] / by[(k,) + den] for k in rounds if (k,) + num in by and (k,) + den in by]


def main(argv):
    ap = argparse.ArgumentParser(prog=PROG, description=__doc__.splitlines()[0])
    ap.add_argument("--build", default=os.path.join(speed.ROOT, "build"))
    ap.add_argument("--baseline", default="", help="another build directory to compare with")
    ap.add_argument("--model", default="resnet56")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--iters", type=int, default=3)
    ap.add_argument("--warmup", type=int, default=1)
    ap.add_argument("--core", type=int, default=1, help="the core the competitor is pinned to")
    ap.add_argument("--out", default=os.path.join(speed.ROOT, "experiments/results/pool"))
    a = ap.parse_args(argv)
    if a.rounds < 3:
        ap.error("--rounds must be at least 3")
    builds = [("this", a.build)] + ([("baseline", a.baseline)] if a.baseline else [])
    for _, b in builds:
        if not os.access(os.path.join(b, "src/cli/qbench"), os.X_OK):
            speed.fail(f"{b}/src/cli/qbench not found: build it first")
    start = speed.load1()
    if start > speed.IDLE_LOAD:
        print(f"{PROG}: warning: load average {start:.2f} is above {speed.IDLE_LOAD}: the "
              f"machine is not idle, so these figures are provisional", file=sys.stderr)
    runs, total, t0 = [], a.rounds * 2 * 2 * len(builds), time.monotonic()
    for rnd in range(1, a.rounds + 1):
        for cond in ("idle", "competitor"):
            comp = competitor(a.core) if cond == "competitor" else None
            try:
                for name, b in builds:
                    for threads in (1, 2):
                        before = speed.load1()
                        r = qbench(b, a.model, threads, a.iters, a.warmup)
                        runs.append({"round": rnd, "condition": cond, "build": name,
                                     "threads": threads, "img_per_s": round(r["img_per_s"], 2),
                                     "load_before": round(before, 2)})
                        eta = (time.monotonic() - t0) / len(runs) * (total - len(runs))
                        print(f"[{len(runs)}/{total}, ETA {eta / 60:.1f} min] round {rnd} {cond} "
                              f"{name} {threads} thread(s): {r['img_per_s']:.1f} img/s "
                              f"(load {before:.2f})", flush=True)
            finally:
                if comp:
                    comp.terminate()
                    comp.wait()
    os.makedirs(a.out, exist_ok=True)
    with open(os.path.join(a.out, "runs.csv"), "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(runs[0]))
        w.writeheader()
        w.writerows(runs)
    rows = []
    for cond in ("idle", "competitor"):
        for name, _ in builds:
            rows.append((f"{name}: 2 threads / 1 thread, {cond}", ratios(runs, cond, (name, 2), (name, 1))))
        if a.baseline:
            for threads in (1, 2):
                rows.append((f"this / baseline, {threads} thread(s), {cond}",
                             ratios(runs, cond, ("this", threads), ("baseline", threads))))
    lines = [f"{a.model} training, batch 128, {a.rounds} interleaved rounds, competitor "
             f"`taskset -c {a.core} yes`; {speed.cpu_model()}, qtrain {speed.git_commit()}; "
             f"load average {start:.2f} at the start, {speed.load1():.2f} at the end.", "",
             "| ratio | median | range | per round |", "|---|---|---|---|"]
    with open(os.path.join(a.out, "results.csv"), "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["ratio", "median", "min", "max", "per_round"])
        for what, rs in rows:
            w.writerow([what, round(statistics.median(rs), 3), round(min(rs), 3),
                        round(max(rs), 3), " ".join(f"{x:.3f}" for x in rs)])
            lines.append(f"| {what} | {statistics.median(rs):.2f} | {min(rs):.2f}-{max(rs):.2f} | "
                         f"{' / '.join(f'{x:.2f}' for x in rs)} |")
    md = "\n".join(lines) + "\n"
    with open(os.path.join(a.out, "results.md"), "w") as f:
        f.write(md)
    print(md)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
