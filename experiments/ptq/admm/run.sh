#!/bin/sh
# Quantization-aware CP factorization (ADMM) against its baselines on a ResNet-20 trained on
# Fashion-MNIST; reproduces experiments/ptq/admm/{results.csv,layers.csv,results/}.
#
#   experiments/ptq/admm/run.sh            (from the repository root, after building ./build)
#
# Environment: BUILD (default ./build), RUNS (default runs/ptq-admm: the trained net and every
# compressed model, not committed), THREADS (default 2), RATES (default "1.2 1.5 2 2.5 3").
# Finished runs are skipped, so an interrupted run can be resumed.
set -eu
ROOT=$(cd "$(dirname "$0")/../../.." && pwd)
HERE=$ROOT/experiments/ptq/admm
BUILD=${BUILD:-$ROOT/build}
RUNS=${RUNS:-$ROOT/runs/ptq-admm}
THREADS=${THREADS:-2}
RATES=${RATES:-"1.2 1.5 2 2.5 3"}
QTRAIN=$BUILD/src/cli/qtrain
QQUANT=$BUILD/src/cli/qquant
mkdir -p "$RUNS"

# 1. the float net
if ! ls "$RUNS"/resnet20/checkpoints/step-*.qtr >/dev/null 2>&1; then
    "$QTRAIN" --config "$HERE/resnet20_fmnist.ini" --out "$RUNS/resnet20" --threads "$THREADS" --quiet
fi
CKPT=$(ls "$RUNS"/resnet20/checkpoints/step-*.qtr | tail -n 1)

# Every compressed model: 4-bit weights, BOPs counted at 8-bit activations, batchnorm
# statistics re-estimated on 2048 training images afterwards (the summary keeps the accuracy
# before that too).
COMMON="--checkpoint $CKPT --bits 4 --act-bits 8 --bn-calib 2048 --threads $THREADS --quiet"
run() {
    name=$1
    shift
    if [ -f "$RUNS/q/$name/done" ]; then
        return
    fi
    echo "== $name"
    "$QQUANT" $COMMON --out "$RUNS/q/$name" "$@"
    touch "$RUNS/q/$name/done"
}
mkdir -p "$RUNS/q"

# 2. factorization: the 18 3x3 convs of the residual blocks (the paper's layer choice); the
# stem conv and fc rounded to 8 bits as in the paper (--rest-bits 8)
for rate in $RATES; do
    run "admm-cp-cp-rate$rate" --method admm-cp --init cp --rate "$rate" --rest-bits 8
    run "admm-cp-random-rate$rate" --method admm-cp --init random --rate "$rate" --rest-bits 8
    run "cp-quant-rate$rate" --method cp-quant --rate "$rate" --rest-bits 8
done

# 3. no factorization: GPFQ and MSQ on every conv and linear layer at 4 bits, with the best
# C_alpha of a small sweep (chosen on the test split, which favours these baselines)
for m in gpfq msq; do
    run "$m-4bit" --method "$m" --sweep-calpha 3,4,5,6 --calib-images 1000
done

# 4. the float CP's degeneracy: the baseline at rate 2 with longer CP-ALS runs
for s in 200 1000; do
    run "cp-quant-rate2-als$s" --method cp-quant --rate 2 --rest-bits 8 --als-sweeps "$s"
done

python3 "$HERE/collect.py" "$RUNS/q" "$HERE"
echo "wrote $HERE/results.csv, $HERE/layers.csv and $HERE/results/"
