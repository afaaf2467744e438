#!/usr/bin/env python3
"""What a weight rule costs: BC, SR and R training speed against FP on every zoo model and on
the Quick start net, interleaved.

Issue 16's target: every rule within 5 % of FP's images/s on every zoo model and on the Quick
start net. Each round runs, per model, qbench with fp, bc, sr and r back to back (batch 128,
2 threads, SGD with momentum, random data), so the four share the machine's state, each
round starting one rule later than the last; a rule's figure is the median over the rounds
of its per-round ratio to that round's fp run, with the range beside it. The Quick start net is timed as a user runs it: `qtrain --config
configs/fmnist_<rule>.ini` (Adam, Fashion-MNIST, 1 x 28 x 28) for one epoch on a fraction of
the data, its images/s the median of train.csv's per-step figures after the first 10 steps.

A cell whose median is below the target is tested: a one-sided sign test of "this rule's
ratio falls below the target more often than not" gives p, the chance of at least that many
rounds below it if each round were equally likely to fall on either side (the rounds' noise
on these VMs is not normal, so no t-test). With 3 rounds p is at least 0.125, so only runs
of 5 or more rounds can show a significant shortfall (p < 0.05).

Writes <out>/runs.csv (every run) and results.md; the load average around the runs is
recorded, and figures taken on a busy machine (speed.py's rule) are marked provisional.
--from-runs rewrites results.md from an earlier run's runs.csv (the loads from its rows,
the commit it measured from --commit).

Usage: rule_overhead.py [--out DIR] [--build DIR] [--rounds N] [--models a,b,...]
       rule_overhead.py --from-runs CSV --commit REV [--out DIR]
"""
import argparse
import csv
import math
import os
import statistics
import subprocess
import sys
import tempfile

import speed

PROG = "rule_overhead.py"
RULES = ["fp", "bc", "sr", "r"]
TARGET = 0.95
SIGNIFICANT = 0.05
# model, timed steps, warm-up steps (odd step counts: qbench takes the middle time)
MODELS = [("mlp", 301, 30), ("convnet", 101, 10), ("gpfq_cnn", 51, 5), ("resnet20", 9, 2),
          ("resnet56", 5, 1), ("vgg9", 5, 1), ("vgg_bc", 3, 1), ("wrn56_2", 3, 1),
          ("resnet18", 3, 1)]
QUICKSTART = "quickstart"


def qbench(args, model, iters, warmup, rule):
    cmd = [args.qbench, "--model", model, "--quant", rule, "--iters", str(iters),
           "--warmup", str(warmup), "--threads", "2", "--json"]
    if model in ("convnet", "gpfq_cnn"):
        cmd += ["--image-size", "28"]
    return speed.run_json(cmd)["img_per_s"]


def quickstart(args, rule, workdir):
    """Median images/s of qtrain's own steps on configs/fmnist_<rule>.ini, one short epoch."""
    out = os.path.join(workdir, f"qs_{rule}")
    cmd = [args.qtrain, "--config", os.path.join(speed.ROOT, "configs", f"fmnist_{rule}.ini"),
           "--set", "train.epochs=1", "--set", f"data.fraction={args.fraction}",
           "--set", "train.threads=2", "--out", out, "--overwrite"]
    r = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    if r.returncode != 0:
        speed.fail(f"{' '.join(cmd)}: {r.stderr.strip()}")
    with open(os.path.join(out, "train.csv")) as f:
        rates = [float(row["images_per_s"]) for row in csv.DictReader(f)][10:]
    if not rates:
        speed.fail(f"{out}/train.csv: fewer than 11 steps (raise --fraction)")
    return statistics.median(rates)


def rotated(rules, k):
    """The rules in the order round k + 1 runs them: each round starts one rule later, so no
    rule always runs first (right after another model) or last."""
    k %= len(rules)
    return rules[k:] + rules[:k]


def measure(args, rnd, model, rule, workdir, runs, loads):
    before = speed.load1()
    if model == QUICKSTART:
        rate = quickstart(args, rule, workdir)
    else:
        iters, warmup = next((i, w) for m, i, w in MODELS if m == model)
        rate = qbench(args, model, iters, warmup, rule)
    after = speed.load1()
    loads["max"] = max(loads["max"], before, after)
    runs.append({"round": rnd, "model": model, "rule": rule, "img_per_s": round(rate, 2),
                 "load_before": round(before, 2), "load_after": round(after, 2)})
    print(f"round {rnd} {model:<11} {rule:<2}: {rate:9.1f} img/s (load {after:.2f})", flush=True)


def sign_test_below(ratios):
    """One-sided sign test: the chance of at least this many of the ratios below TARGET if
    each fell below or above it with probability 1/2."""
    n, k = len(ratios), sum(r < TARGET for r in ratios)
    return sum(math.comb(n, i) for i in range(k, n + 1)) / 2 ** n


def summarize(runs, models, rounds):
    rows = []
    for model in models:
        def rate(rule, rnd):
            return next(r["img_per_s"] for r in runs
                        if r["model"] == model and r["rule"] == rule and r["round"] == rnd)
        fp = statistics.median(rate("fp", k) for k in range(1, rounds + 1))
        row = {"model": model, "fp_img_per_s": fp}
        for rule in RULES[1:]:
            ratios = [rate(rule, k) / rate("fp", k) for k in range(1, rounds + 1)]
            row[rule] = (statistics.median(ratios), min(ratios), max(ratios),
                         sign_test_below(ratios))
        rows.append(row)
    return rows


def markdown(args, rows, loads):
    provisional = speed.busy(loads, 2)
    when = (f"Measured {speed.datetime.datetime.utcnow():%Y-%m-%d %H:%M} UTC"
            if not args.from_runs else f"Summarised from {args.from_runs}")
    lines = [
        f"{when} on {speed.cpu_model()}, qtrain {args.commit or speed.git_commit()}, "
        f"{args.rounds} interleaved rounds, batch 128, 2 threads "
        f"(`experiments/rule_overhead.py`).",
        f"Load average (1 min): {loads['start']:.2f} at the start, {loads['max']:.2f} at most"
        f"{' (not idle: provisional figures)' if provisional else ''}.",
        "",
        "Each cell: the rule's images/s as a fraction of FP's, median of the per-round ratios "
        f"(range); **bold** below the target {TARGET:.2f}, with p of a one-sided sign test "
        f"(significant below {SIGNIFICANT:g}; 3 rounds cannot reach it). Zoo models: qbench (SGD with "
        "momentum, random data); quickstart: `qtrain --config configs/fmnist_<rule>.ini` "
        f"(Adam, Fashion-MNIST), one epoch on {args.fraction:g} of the data.",
        "",
        "| model | fp img/s | bc / fp | sr / fp | r / fp |",
        "|---|---|---|---|---|",
    ]
    for row in rows:
        cells = []
        for rule in RULES[1:]:
            med, lo, hi, p = row[rule]
            text = f"{med:.2f} ({lo:.2f}-{hi:.2f})"
            cells.append(f"**{text}**, p {p:.2f}" if med < TARGET else text)
        lines.append(f"| {row['model']} | {row['fp_img_per_s']:.1f} | " + " | ".join(cells) + " |")
    below = [(f"{row['model']} {rule}", row[rule][3]) for row in rows for rule in RULES[1:]
             if row[rule][0] < TARGET]
    significant = [name for name, p in below if p < SIGNIFICANT]
    lines += ["", "Median below the target: " + (", ".join(n for n, _ in below) or "none") +
              "; of these significantly (p < " + f"{SIGNIFICANT:g}): " +
              (", ".join(significant) or "none") + "."]
    return "\n".join(lines) + "\n"


def parse_args(argv):
    ap = argparse.ArgumentParser(prog=PROG, description=__doc__.splitlines()[0])
    ap.add_argument("--out", default=os.path.join(speed.ROOT, "experiments/results/rule_overhead"))
    ap.add_argument("--build", default=os.path.join(speed.ROOT, "build"))
    ap.add_argument("--rounds", type=int, default=3, help="interleaved rounds (at least 3)")
    ap.add_argument("--models", default="",
                    help="comma-separated models (default all: "
                         + ", ".join([m for m, _, _ in MODELS] + [QUICKSTART]) + ")")
    ap.add_argument("--fraction", type=float, default=0.25,
                    help="share of Fashion-MNIST's training images the quickstart epoch uses")
    ap.add_argument("--from-runs", default="",
                    help="summarize this earlier runs.csv instead of measuring")
    ap.add_argument("--commit", default="",
                    help="with --from-runs: the qtrain commit those runs measured")
    args = ap.parse_args(argv)
    if args.from_runs:
        if not args.commit:
            ap.error("--from-runs needs --commit (the commit the runs measured)")
        return args
    if args.rounds < 3:
        ap.error("--rounds must be at least 3 (a median of paired ratios needs rounds)")
    known = [m for m, _, _ in MODELS] + [QUICKSTART]
    args.models = [m for m in args.models.split(",") if m] or known
    unknown = [m for m in args.models if m not in known]
    if unknown:
        ap.error(f"unknown model {unknown[0]} (models: {', '.join(known)})")
    args.qbench = os.path.join(args.build, "src/cli/qbench")
    args.qtrain = os.path.join(args.build, "src/cli/qtrain")
    for exe in (args.qbench, args.qtrain):
        if not os.access(exe, os.X_OK):
            ap.error(f"{exe} not found: build first (meson setup build && ninja -C build)")
    return args


def read_runs(path):
    """An earlier run's rows (runs.csv), typed as measure() makes them."""
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f))
    if not rows:
        sys.exit(f"{PROG}: {path}: no runs")
    return [{"round": int(r["round"]), "model": r["model"], "rule": r["rule"],
             "img_per_s": float(r["img_per_s"]), "load_before": float(r["load_before"]),
             "load_after": float(r["load_after"])} for r in rows]


def write_results(args, runs, loads):
    os.makedirs(args.out, exist_ok=True)
    speed.write_csv(os.path.join(args.out, "runs.csv"), list(runs[0]), runs)
    md = markdown(args, summarize(runs, args.models, args.rounds), loads)
    with open(os.path.join(args.out, "results.md"), "w") as f:
        f.write(md)
    print(md, end="")


def main(argv=None):
    args = parse_args(argv)
    if args.from_runs:
        runs = read_runs(args.from_runs)
        args.rounds = max(r["round"] for r in runs)
        args.models = list(dict.fromkeys(r["model"] for r in runs))
        loads = {"start": runs[0]["load_before"],
                 "max": max(max(r["load_before"], r["load_after"]) for r in runs)}
        write_results(args, runs, loads)
        return
    loads = {"start": speed.load1(), "max": 0.0}
    if loads["start"] > speed.IDLE_LOAD:
        print(f"{PROG}: warning: load average {loads['start']:.2f} > {speed.IDLE_LOAD}: "
              "the machine is busy; figures will be provisional", file=sys.stderr)
    runs = []
    with tempfile.TemporaryDirectory(prefix="rule_overhead.") as workdir:
        for rnd in range(1, args.rounds + 1):
            for model in args.models:
                for rule in rotated(RULES, rnd - 1):
                    measure(args, rnd, model, rule, workdir, runs, loads)
    write_results(args, runs, loads)


if __name__ == "__main__":
    main()
