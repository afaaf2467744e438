#!/usr/bin/env python3
"""Checks of the rule-overhead summary (experiments/rule_overhead.py), without measuring: the
one-sided sign test's p-values against hand-computed binomial tails, and --from-runs on
made-up runs, where a rule below the target in every one of 5 rounds is reported as a
significant shortfall and one below in 3 of 5 rounds (median below) is not.
Needs QTRAIN_SOURCE_ROOT (meson test sets it)."""

import csv
import os
import subprocess
import sys
import tempfile
from pathlib import Path

SRC = Path(os.environ["QTRAIN_SOURCE_ROOT"])
sys.path.insert(0, str(SRC / "experiments"))
import rule_overhead  # noqa: E402


def check(cond, what):
    if not cond:
        sys.exit(f"FAILED: {what}")
    print(f"ok: {what}")


def sign_test():
    p = rule_overhead.sign_test_below
    check(abs(p([0.9] * 5) - 1 / 32) < 1e-12, "5 of 5 rounds below: p = 1/32")
    check(abs(p([0.9, 0.9, 0.9, 1.0, 1.0]) - 16 / 32) < 1e-12, "3 of 5 below: p = 16/32")
    check(abs(p([0.9] * 3) - 1 / 8) < 1e-12, "3 of 3 below: p = 1/8, never significant")
    check(p([1.0] * 4) == 1.0, "none below: p = 1")


def from_runs():
    # fp 100 img/s every round; bc at 90 in all 5 rounds; sr at 90 in 3 of 5; r at 100
    rates = {"fp": [100] * 5, "bc": [90] * 5, "sr": [90, 90, 90, 100, 100], "r": [100] * 5}
    with tempfile.TemporaryDirectory() as tmp:
        runs = Path(tmp) / "runs.csv"
        with open(runs, "w", newline="") as f:
            w = csv.writer(f)
            w.writerow(["round", "model", "rule", "img_per_s", "load_before", "load_after"])
            for k in range(5):
                for rule in rule_overhead.RULES:
                    w.writerow([k + 1, "mlp", rule, rates[rule][k], 0.1, 0.2])
        out = Path(tmp) / "out"
        cmd = [sys.executable, str(SRC / "experiments/rule_overhead.py"), "--from-runs",
               str(runs), "--out", str(out)]
        r = subprocess.run(cmd, capture_output=True, text=True)
        check(r.returncode != 0 and "--commit" in r.stderr, "--from-runs without --commit refused")
        r = subprocess.run(cmd + ["--commit", "abc1234"], capture_output=True, text=True)
        check(r.returncode == 0, f"--from-runs summarised ({r.stderr.strip()})")
        md = (out / "results.md").read_text()
        check("qtrain abc1234, 5 interleaved rounds" in md, "the given commit and the rounds")
        check("**0.90 (0.90-0.90)**, p 0.03" in md, "bc: median 0.90 in bold with p 0.03")
        check("**0.90 (0.90-1.00)**, p 0.50" in md, "sr: median 0.90 in bold with p 0.50")
        check("Median below the target: mlp bc, mlp sr; of these significantly (p < 0.05): "
              "mlp bc." in md, "only bc's shortfall is significant")


if __name__ == "__main__":
    sign_test()
    from_runs()
