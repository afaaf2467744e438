#!/usr/bin/env python3
"""ADMM, ADMM-EPC and float-CP-then-quantize at the same reduction rates, w4/a8, over seeds;
AdaRound w4/a8 without factorization as the baseline.

The net is the small Fashion-MNIST convnet of ptqexp.convnets (one per seed), trained for one
epoch: a reduced setup, to fit an hour of a shared 2-core machine. The factorised
layer is conv2 (the paper's choice: every k x k conv but the first); conv1, fc1 and the
classifier are rounded to 8 bits (--rest-bits 8), every quantized layer's input takes 8 bits
(--act-bits 8, mse range on 500 images), batchnorm statistics are re-estimated on 2048
training images, as in the paper. ADMM runs qquant's defaults (at most 100 sweeps of 30
inner iterations, divergence window 5, the best sweep kept); ADMM-EPC's EPC 50 sweeps.
AdaRound: 4-bit alphabet on every layer, C_alpha chosen among 3,4,5 on VAL held-out training
images. Writes <out>/results.md and <out>/runs.csv (one row per quantization); runs and
summaries go to <out>/runs.
"""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
import ptqexp  # noqa: E402
from ptqexp import qtexp, seedstats  # noqa: E402

RATES = [1.5, 2, 3]
CP_METHODS = ["admm-cp", "admm-epc", "cp-quant"]
VAL = 2000
COMMON = ["--bits", 4, "--act-bits", 8, "--bn-calib", 2048]


def main():
    ap = qtexp.parser("admm", __doc__.splitlines()[0])
    args = qtexp.finish_args(ap.parse_args(), "ptq/admm")
    runs = args.out / "runs"
    nets = ptqexp.convnets(args)
    val = 300 if args.smoke else VAL
    ck = {seed: ptqexp.checkpoint(net) for seed, net in zip(args.seeds, nets)}
    res = {}
    for rate in RATES:
        for m in CP_METHODS:
            res[rate, m] = [ptqexp.quantize(args, f"q/{m}-rate{rate}_s{s}", ck[s],
                                            COMMON + ["--method", m, "--rate", rate,
                                                      "--rest-bits", 8, "--seed", s], runs)
                            for s in args.seeds]
    ada = [ptqexp.quantize(args, f"q/adaround-w4a8_s{s}", ck[s],
                           COMMON + ["--method", "adaround", "--sweep-calpha", "3,4,5",
                                     "--val-images", val, "--calib-images", 2048,
                                     "--adaround-iters", 200, "--adaround-batch", 64,
                                     "--seed", s], runs)
           for s in args.seeds]
    qtexp.dispatch(args)  # runs the quantizations (--jobs, or --emit-commands)
    floats = [n.summary["test_acc"] for n in nets]
    seeds = ",".join(str(s) for s in args.seeds)
    lines = ["# ADMM, ADMM-EPC and float CP then quantize, w4/a8 (experiments/ptq/admm/run.py)",
             "", f"Fashion-MNIST convnet, seeds {seeds}, float test accuracy "
             f"{qtexp.pct(100 * sum(floats) / len(floats))}% (mean). Test accuracy in %, mean ± "
             "sample std over the seeds; BOPs in % of the FP32 net (every seed the same).", "",
             "| rate | BOPs % | " + " | ".join(CP_METHODS) + " |",
             "|---|---|" + "---|" * len(CP_METHODS)]
    for rate in RATES:
        bops = res[rate, "admm-cp"][0]["bops_percent"]
        lines.append(f"| {rate} | {bops:.2f} | " +
                     " | ".join(ptqexp.acc_cell(res[rate, m]) for m in CP_METHODS) + " |")
    lines += ["", "The same before batchnorm calibration (test accuracy in %):", "",
              "| rate | " + " | ".join(CP_METHODS) + " |", "|---|" + "---|" * len(CP_METHODS)]
    for rate in RATES:
        lines.append(f"| {rate} | " + " | ".join(
            ptqexp.acc_cell(res[rate, m], "quant_acc_before_bn_calib") for m in CP_METHODS) + " |")
    lines += ["", f"AdaRound w4/a8, no factorization: {ptqexp.acc_cell(ada)} at "
              f"{ada[0]['bops_percent']:.2f}% BOPs (C_alpha per seed: "
              f"{','.join('%g' % s['calpha'] for s in ada)}).", "",
              "Reconstruction error e_quant of conv2 (||W - W^|| / ||W|| of the quantized "
              "factors), mean ± std over the seeds:", "",
              "| rate | " + " | ".join(CP_METHODS) + " |", "|---|" + "---|" * len(CP_METHODS)]
    for rate in RATES:
        lines.append(f"| {rate} | " + " | ".join(
            seedstats.mean_std_text([conv2(s)["rel_error"] for s in res[rate, m]], 4)
            for m in CP_METHODS) + " |")
    pairs = (("admm-epc", "admm-cp"), ("admm-cp", "cp-quant"), ("admm-epc", "cp-quant"))
    lines += ptqexp.orderings(res, RATES, pairs, lambda r: f"rate {r}")
    before = (lambda ss: ptqexp.errors(ss, "quant_acc_before_bn_calib"),
              "test error before batchnorm calibration", "%", 2)
    lines += ptqexp.orderings(res, RATES, pairs, lambda r: f"rate {r}", before)
    e_quant = (lambda ss: [conv2(s)["rel_error"] for s in ss], "conv2's e_quant", "relative", 4)
    lines += ptqexp.orderings(res, RATES, pairs, lambda r: f"rate {r}", e_quant)
    rows = [[m, rate, seed, s["quant_acc"], s["quant_acc_before_bn_calib"], s["bops_percent"],
             conv2(s)["rank"], conv2(s)["float_error"], conv2(s)["rel_error"], conv2(s)["sweeps"],
             ""] for rate in RATES for m in CP_METHODS for seed, s in zip(args.seeds, res[rate, m])]
    rows += [["adaround", "", seed, s["quant_acc"], s["quant_acc_before_bn_calib"],
              s["bops_percent"], "", "", "", "", s["calpha"]] for seed, s in zip(args.seeds, ada)]
    ptqexp.write(args, lines, ["method", "rate", "seed", "test_acc", "test_acc_before_bn_calib",
                               "bops_percent", "conv2_rank", "conv2_float_cp_error",
                               "conv2_e_quant", "conv2_sweeps", "calpha"], rows)


def conv2(summary):
    """The factorised layer's entry of a CP summary (the only one with a rank)."""
    return next(l for l in summary["cp_layers"] if l["rank"] > 0)


if __name__ == "__main__":
    main()
