#!/usr/bin/env python3
"""Gathers the qquant summaries of run.sh into results.csv (one row per run) and
layers.csv (one row per layer and run), and copies each summary.json into results/.

usage: collect.py RUNS_DIR OUT_DIR
RUNS_DIR holds one directory per run (NAME/summary.json, or NAME/calpha-C/summary.json for a
C_alpha sweep, where the best C_alpha by quantized accuracy is kept and marked)."""
import csv
import json
import os
import shutil
import sys


def load(path):
    with open(path) as f:
        return json.load(f)


def mean(xs):
    return sum(xs) / len(xs) if xs else float("nan")


def row(name, s):
    # mean weight error over the factorised layers (CP methods) or the quantized ones
    if "cp_layers" in s:
        errors = [c["rel_error"] for c in s["cp_layers"] if c["rank"] > 0]
    else:
        errors = [w["rel_error"] for w in s.get("weights", []) if w["rel_error"] > 0]
    return {
        "run": name,
        "method": s["method"] + ("-" + s["init"] if s["method"] == "admm-cp" else ""),
        "rate": s.get("rate", 1.0),
        "bits": s["bits"],
        "act_bits": s["act_bits"],
        "rest_bits": s.get("rest_bits", ""),
        "calpha": s["calpha"] if s["method"] in ("gpfq", "msq") else "",
        "seed": s.get("seed", 1),
        "float_acc": s["float_acc"],
        "acc_before_bn_calib": s.get("quant_acc_before_bn_calib", ""),
        "acc": s["quant_acc"],
        "bops_percent": round(s["bops_percent"], 4),
        "params": s["params"],
        "fp32_params": s["fp32_params"],
        "model_bytes": s["model_bytes"],
        "mean_weight_error": round(mean(errors), 4),
        "seconds": round(s["seconds"], 1),
    }


def main():
    runs, out = sys.argv[1], sys.argv[2]
    os.makedirs(os.path.join(out, "results"), exist_ok=True)
    rows, layers = [], []
    for name in sorted(os.listdir(runs)):
        d = os.path.join(runs, name)
        path = os.path.join(d, "summary.json")
        if not os.path.isfile(path):
            sweep = [os.path.join(d, c, "summary.json") for c in sorted(os.listdir(d))
                     if c.startswith("calpha-")] if os.path.isdir(d) else []
            sweep = [p for p in sweep if os.path.isfile(p)]
            if not sweep:
                continue
            for p in sweep:
                shutil.copy(p, os.path.join(out, "results", name + "-" + p.split("/")[-2] + ".json"))
            path = max(sweep, key=lambda p: load(p)["quant_acc"])
        s = load(path)
        shutil.copy(path, os.path.join(out, "results", name + ".json"))
        rows.append(row(name, s))
        for w in s.get("weights", []):
            cp = {c["name"]: c for c in s.get("cp_layers", [])}.get(w["name"], {})
            layers.append({"run": name, "layer": w["name"], "rank": cp.get("rank", ""),
                           "rel_error": round(w["rel_error"], 5),
                           "float_cp_error": round(cp["float_error"], 5) if cp.get("float_error", -1) >= 0 else "",
                           "bits": w["bits"], "params": w["params"], "fp32_params": w["fp32_params"],
                           "sweeps": cp.get("sweeps", "")})
    for fname, data in (("results.csv", rows), ("layers.csv", layers)):
        with open(os.path.join(out, fname), "w", newline="") as f:
            wr = csv.DictWriter(f, fieldnames=list(data[0].keys()))
            wr.writeheader()
            wr.writerows(data)


if __name__ == "__main__":
    main()
