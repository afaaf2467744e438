#!/usr/bin/env python3
"""Product quantization with and without codeword finetuning, over seeds.

The net is the small Fashion-MNIST convnet of ptqexp.convnets (one per seed), trained for one
epoch (reduced to fit an hour of a shared 2-core machine); conv1 stays
float (the paper's choice), conv2 gets blocks of d = 9 (small) or 18 (large) with k = 256,
the linear layers d = 4 with k = FC_K = 256 (clamped per layer). The paper's k = 2048 for
linear layers is cut to 256 to fit the machine: fc1's EM with 2048 centroids took 5.5 of
the 7 minutes of one quantization on the shared 2-core machine. "EM only" runs no finetuning;
"finetuned" runs qquant's defaults: 100 distillation steps on each layer's codewords and 300
global steps, batch 128, drawn from 10000 training images (the reference: 2500 and 90000
steps on ImageNet). Writes <out>/results.md and <out>/runs.csv (one row per quantization);
runs and summaries go to <out>/runs.
"""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
import ptqexp  # noqa: E402
from ptqexp import qtexp  # noqa: E402

CELLS = [("small", 9, "EM only"), ("small", 9, "finetuned"), ("large", 18, "finetuned")]
NO_FINETUNE = ["--finetune-steps", 0, "--global-finetune-steps", 0]
FC_K = 256


def main():
    ap = qtexp.parser("pq", __doc__.splitlines()[0])
    args = qtexp.finish_args(ap.parse_args(), "ptq/pq")
    runs = args.out / "runs"
    nets = ptqexp.convnets(args)
    res = {}
    for blocks, d, stage in CELLS:
        res[blocks, stage] = [
            ptqexp.quantize(args, f"q/{blocks}-{stage.replace(' ', '-')}_s{s}",
                            ptqexp.checkpoint(net),
                            ["--method", "pq", "--block-size", d, "--centroids", 256,
                             "--fc-block-size", 4, "--fc-centroids", FC_K, "--seed", s]
                            + (NO_FINETUNE if stage == "EM only" else []), runs)
            for s, net in zip(args.seeds, nets)]
    qtexp.dispatch(args)  # runs the quantizations (--jobs, or --emit-commands)
    floats = [n.summary["test_acc"] for n in nets]
    seeds = ",".join(str(s) for s in args.seeds)
    lines = ["# Product quantization of a Fashion-MNIST convnet (experiments/ptq/pq/run.py)", "",
             f"Seeds {seeds}, float test accuracy {qtexp.pct(100 * sum(floats) / len(floats))}% "
             "(mean). Test accuracy in %, mean ± sample std over the seeds.", "",
             "| blocks | stage | test acc | size (MB) | ratio | finetuning steps (layer, global), images |",
             "|---|---|---|---|---|---|"]
    for blocks, d, stage in CELLS:
        r = res[blocks, stage]
        p = r[0]["pq"]
        lines.append(f"| {blocks} (d={d}) | {stage} | {ptqexp.acc_cell(r)} | "
                     f"{r[0]['size']['total_mb']:.4f} | {r[0]['size']['ratio']:.1f} | "
                     f"{p['finetune_steps']}, {p['global_finetune_steps']}, "
                     f"{p['finetune_images']} |")
    lines += ["", "Orderings (Welch's t-test on test error over the seeds, p < 0.05):", "",
              "- " + ptqexp.compare("finetuned", res["small", "finetuned"], "EM only",
                                    res["small", "EM only"]),
              "- " + ptqexp.compare("small blocks", res["small", "finetuned"], "large blocks",
                                    res["large", "finetuned"])]
    rows = [[blocks, d, stage, seed, s["quant_acc"], s["size"]["total_mb"], s["size"]["ratio"],
             s["bits_per_weight"], s["seconds"]]
            for blocks, d, stage in CELLS for seed, s in zip(args.seeds, res[blocks, stage])]
    ptqexp.write(args, lines, ["blocks", "d", "stage", "seed", "test_acc", "size_mb", "ratio",
                               "index_bits_per_weight", "seconds"], rows)


if __name__ == "__main__":
    main()
