#!/bin/sh
# Quantization-aware CP factorization (ADMM) against its baselines on a ResNet-20 trained on
# Fashion-MNIST; reproduces experiments/ptq/admm/{results.csv,layers.csv,results/}.
#
#   experiments/ptq/admm/run.sh            (from the repository root, after building ./build)
#
# Environment: BUILD (default ./build), RUNS (default runs/ptq-admm: the trained net and every
# compressed model, not committed), THREADS (default 2), RATES (default "1.2 1.5 2 2.5 3"),
# RANDOM_RATES (rates for ADMM from random factors, default "1.2 2 3").
# Finished runs are skipped, so an interrupted run can be resumed.
set -eu
ROOT=$(cd "$(dirname "$0")/../../.." && pwd)
HERE=$ROOT/experiments/ptq/admm
BUILD=${BUILD:-$ROOT/build}
RUNS=${RUNS:-$ROOT/runs/ptq-admm}
THREADS=${THREADS:-2}
RATES=${RATES:-"1.2 1.5 2 2.5 3"}
RANDOM_RATES=${RANDOM_RATES:-"1.2 2 3"}
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
# (Evaluation batches of 100: a factorised net's activations are several times the float
# net's, and smaller batches keep the arena small; results do not depend on it.)
COMMON="--checkpoint $CKPT --bits 4 --act-bits 8 --bn-calib 2048 --threads $THREADS --quiet
        --set data.eval_batch_size=100"
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
    run "cp-quant-rate$rate" --method cp-quant --rate "$rate" --rest-bits 8
done
for rate in $RANDOM_RATES; do
    run "admm-cp-random-rate$rate" --method admm-cp --init random --rate "$rate" --rest-bits 8
done

# 3. no factorization: GPFQ and MSQ on every conv and linear layer at 4 bits (GPFQ from the
# same 2048 training images), with the best C_alpha of a small sweep (chosen on the test
# split, which favours these baselines)
for m in gpfq msq; do
    run "$m-4bit" --method "$m" --sweep-calpha 3,4,5 --calib-images 2048
done

# 4. the float CP's degeneracy: the baseline at rate 2 with longer CP-ALS runs
for s in 200 1000; do
    run "cp-quant-rate2-als$s" --method cp-quant --rate 2 --rest-bits 8 --als-sweeps "$s"
done

# 5. factorization alone: the baseline with 8-bit factors (nearly float CP-ALS)
for rate in 1.2 2 3; do
    run "cp-quant-8bit-rate$rate" --method cp-quant --rate "$rate" --rest-bits 8 --bits 8
done

# 6. seed spread (factor initialisation and the batchnorm calibration images) where the
# accuracy is least stable
for rate in 2.5 3; do
    for seed in 2 3; do
        run "admm-cp-cp-rate$rate-seed$seed" --method admm-cp --init cp --rate "$rate" --rest-bits 8 --seed "$seed"
        run "cp-quant-rate$rate-seed$seed" --method cp-quant --rate "$rate" --rest-bits 8 --seed "$seed"
    done
done

# 7. what the same CP-ALS leaves of Gaussian noise tensors of the same shapes
cc -O2 -std=c11 -D_GNU_SOURCE -I"$ROOT/include" "$HERE/gaussian_cp.c" "$BUILD/libqtrain.a" \
    $(pkg-config --libs openblas libpng zlib) -lm -lpthread -o "$RUNS/gaussian_cp"
OPENBLAS_NUM_THREADS=$THREADS "$RUNS/gaussian_cp" > "$HERE/gaussian.csv"

python3 "$HERE/collect.py" "$RUNS/q" "$HERE"
echo "wrote $HERE/results.csv, $HERE/layers.csv, $HERE/gaussian.csv and $HERE/results/"
