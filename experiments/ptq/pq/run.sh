#!/usr/bin/env bash
# Product quantization ("And the Bit Goes Down", Stock et al. 2020) of two Fashion-MNIST nets
# trained by qtrain: the VGG-style gpfq_cnn and resnet20, each trained for a few epochs, then
# quantized by `qquant --method pq` with small (d = 9) and large (d = 18) blocks for the 3x3
# convs (fc: d = 4, k = 2048; k = 256 elsewhere, both clamped per layer), without and with
# centroid finetuning. Writes results.csv and results/<net>-<blocks>-<em|finetuned>.json here;
# the trained nets, quantized models and logs go to $RUNS.
#
#   experiments/ptq/pq/run.sh                 # everything (about an hour on 2 busy cores)
#   RUNS=/tmp/x EPOCHS=1 NETS=gpfq_cnn BLOCKS=9 experiments/ptq/pq/run.sh
set -euo pipefail
cd "$(dirname "$0")/../../.."
BUILD=${BUILD:-build}
RUNS=${RUNS:-/tmp/pq-runs}
EPOCHS=${EPOCHS:-3}
THREADS=${THREADS:-1}
NETS=${NETS:-"gpfq_cnn resnet20"}
BLOCKS=${BLOCKS:-"9 18"}
OUT=experiments/ptq/pq
# Finetuning scaled down from the paper's 2,500 steps per layer and 90,000 global steps
FINETUNE=(--finetune-steps 25 --global-finetune-steps 400 --finetune-batch 64)

ninja -C "$BUILD" src/cli/qtrain src/cli/qquant
mkdir -p "$RUNS/pq" "$OUT/results"
for net in $NETS; do
    if ! ls "$RUNS/$net"/checkpoints/step-*.qtr > /dev/null 2>&1; then
        "$BUILD/src/cli/qtrain" --config configs/fmnist_fp.ini --set model.name="$net" \
            --set train.epochs="$EPOCHS" --threads "$THREADS" --quiet --out "$RUNS/$net"
    fi
    ckpt=$(ls "$RUNS/$net"/checkpoints/step-*.qtr | tail -n 1)
    for d in $BLOCKS; do
        blocks=$([ "$d" = 9 ] && echo small || echo large)
        for stage in em finetuned; do
            name="$net-$blocks-$stage"
            extra=()
            [ "$stage" = finetuned ] && extra=("${FINETUNE[@]}")
            "$BUILD/src/cli/qquant" --checkpoint "$ckpt" --method pq --block-size "$d" \
                --centroids 256 --fc-block-size 4 --fc-centroids 2048 "${extra[@]}" \
                --threads "$THREADS" --out "$RUNS/pq/$name" | tee "$RUNS/pq/$name.log"
            cp "$RUNS/pq/$name/summary.json" "$OUT/results/$name.json"
            "$BUILD/src/cli/qtrain" eval --checkpoint "$RUNS/pq/$name/model.qtr" \
                --threads "$THREADS" --quiet | tee -a "$RUNS/pq/$name.log"
        done
    done
done

python3 - "$OUT" <<'PY'
import csv, glob, json, os, sys
out = sys.argv[1]
cols = ["net", "blocks", "stage", "float_acc", "quant_acc", "acc_before_global_finetune",
        "total_mb", "index_mb", "centroid_mb", "other_mb", "float_mb", "ratio",
        "index_bits_per_weight", "file_bytes", "seconds"]
rows = []
for path in sorted(glob.glob(os.path.join(out, "results", "*.json"))):
    s = json.load(open(path))
    net, blocks, stage = os.path.basename(path)[:-5].rsplit("-", 2)
    z, mb = s["size"], 1 << 20
    rows.append([net, blocks, stage, s["float_acc"], s["quant_acc"],
                 s["acc_before_global_finetune"], z["total_mb"], z["index_bytes"] / mb,
                 z["centroid_bytes"] / mb, z["other_bytes"] / mb, z["float_mb"], z["ratio"],
                 s["bits_per_weight"], s["file_bytes"], s["seconds"]])
with open(os.path.join(out, "results.csv"), "w", newline="") as f:
    w = csv.writer(f)
    w.writerow(cols)
    for r in rows:
        w.writerow([("%.6g" % v) if isinstance(v, float) else v for v in r])
PY
echo "wrote $OUT/results.csv"
