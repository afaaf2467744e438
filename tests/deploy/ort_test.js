// ONNX Runtime (onnxruntime-node from npm) runs qtrain's ONNX exports and agrees with qtrain.
//
// 1. Untrained nets from tests/deploy/deploy_fixture (random batchnorm statistics so every
//    layer matters): convnet FP and BC, resnet20 FP and BC (option-A shortcuts), resnet20
//    option B, and a convnet with CP-factorised layers. Each export (int8 codes through
//    DequantizeLinear, --onnx-float, --onnx-fold-bn) runs on 64 Fashion-MNIST test images;
//    every logit must be within 1e-4 of qtrain's, relative to the largest |logit| of its row,
//    and the predicted classes identical.
// 2. A convnet trained briefly with BC (`qtrain`), exported with `qtrain export --format onnx`,
//    runs on the whole test set (10000 images, normalized here from the IDX file with the
//    mean/std of the model's metadata_props): the logits and predicted classes are compared
//    with qtrain's for every image, and ONNX Runtime's test accuracy is printed beside
//    `qtrain eval`'s; they must be equal.
//
// onnxruntime-node is looked up in $QTRAIN_ORT_DIR, else ~/.cache/qtrain/onnxruntime
// (tools/install-onnxruntime.sh puts it there; .ci/run runs that). Exits 77 (skipped) when it
// or the dataset is missing. Needs QTRAIN_BUILD_ROOT (meson test sets it).
'use strict';
const fs = require('fs');
const os = require('os');
const path = require('path');
const zlib = require('zlib');
const { execFileSync } = require('child_process');

const ORT_DIR = process.env.QTRAIN_ORT_DIR ||
    path.join(process.env.XDG_CACHE_HOME || path.join(os.homedir(), '.cache'), 'qtrain', 'onnxruntime');
let ort;
try {
    ort = require(path.join(ORT_DIR, 'node_modules', 'onnxruntime-node'));
} catch (e) {
    console.log(`SKIP: onnxruntime-node is not installed in ${ORT_DIR} (run tools/install-onnxruntime.sh)`);
    process.exit(77);
}
const FMNIST = '/usr/share/datasets/fashion-mnist';
if (!fs.existsSync(`${FMNIST}/t10k-images-idx3-ubyte.gz`)) {
    console.log('SKIP: Fashion-MNIST is not installed (apt-get install dataset-fashion-mnist)');
    process.exit(77);
}
const BUILD = process.env.QTRAIN_BUILD_ROOT;
const FIXTURE = path.join(BUILD, 'tests', 'deploy', 'deploy_fixture');
const QTRAIN = path.join(BUILD, 'src', 'cli', 'qtrain');
const TOL = 1e-4;
let failures = 0;

function check(cond, what) {
    if (!cond) {
        failures++;
        console.log(`FAILED: ${what}`);
    }
    return cond;
}

function floats(file) {
    const b = fs.readFileSync(file);
    return new Float32Array(b.buffer, b.byteOffset, b.length / 4);
}

function argmax(a, off, k) {
    let best = off;
    for (let j = off + 1; j < off + k; j++) if (a[j] > a[best]) best = j;
    return best - off;
}

// Largest |ort - qtrain| / max|qtrain row| over the rows, and how many predictions differ.
function compare(got, want, k) {
    let worst = 0, differ = 0;
    for (let off = 0; off < want.length; off += k) {
        let scale = 0;
        for (let j = off; j < off + k; j++) scale = Math.max(scale, Math.abs(want[j]));
        for (let j = off; j < off + k; j++)
            worst = Math.max(worst, Math.abs(got[j] - want[j]) / Math.max(scale, 1e-30));
        if (argmax(got, off, k) !== argmax(want, off, k)) differ++;
    }
    return { worst, differ };
}

async function run(file, input, n, shape) {
    const session = await ort.InferenceSession.create(file);
    const parts = [];
    const per = shape[0] * shape[1] * shape[2], batch = 1000;
    for (let i = 0; i < n; i += batch) {
        const m = Math.min(batch, n - i);
        const x = new ort.Tensor('float32', input.subarray(i * per, (i + m) * per), [m, ...shape]);
        const r = await session.run({ input: x });
        parts.push(r.logits.data);
    }
    const all = new Float32Array(parts.reduce((s, p) => s + p.length, 0));
    let at = 0;
    for (const p of parts) {
        all.set(p, at);
        at += p.length;
    }
    return { logits: all };
}

function idx(file) {
    return zlib.gunzipSync(fs.readFileSync(file));
}

// The first n test images normalized with the model's own metadata_props.
function normalizedImages(meta, n) {
    const norm = JSON.parse(meta.input_normalization);
    const raw = idx(`${FMNIST}/t10k-images-idx3-ubyte.gz`);
    const x = new Float32Array(n * 784);
    for (let i = 0; i < n * 784; i++) x[i] = (raw[16 + i] / 255 - norm.mean[0]) / norm.std[0];
    return x;
}

// onnxruntime-node does not expose metadata_props, so they are read from the file:
// metadata_props (ModelProto field 14: StringStringEntryProto {1: key, 2: value}) from the
// serialized model, decoded with a minimal protobuf walker so the test needs no other package.
function metadataProps(file) {
    const b = fs.readFileSync(file);
    const props = {};
    let p = 0;
    const varint = () => {
        let v = 0, s = 1;
        for (;;) {
            const c = b[p++];
            v += (c & 0x7f) * s;
            if (c < 0x80) return v;
            s *= 128;
        }
    };
    const field = (end, visit) => {
        while (p < end) {
            const tag = varint(), num = Math.floor(tag / 8), wire = tag & 7;
            if (wire === 0) varint();
            else if (wire === 1) p += 8;
            else if (wire === 5) p += 4;
            else if (wire === 2) {
                const len = varint(), start = p;
                visit(num, start, start + len);
                p = start + len;
            } else throw new Error(`wire type ${wire}`);
        }
    };
    field(b.length, (num, s, e) => {
        if (num !== 14) return;
        const kv = {};
        field(e, (n2, s2, e2) => { kv[n2] = b.toString('utf8', s2, e2); });
        props[kv[1]] = kv[2];
    });
    return props;
}

async function untrained(tmp) {
    const cases = [
        ['convnet_fp', 'convnet', ['--set', 'quant.mode=fp']],
        ['convnet_bc', 'convnet', ['--set', 'quant.mode=bc']],
        ['resnet20_fp', 'resnet20', ['--set', 'quant.mode=fp']],
        ['resnet20_bc', 'resnet20', ['--set', 'quant.mode=bc']],
        ['resnet20_B_bc', 'resnet20', ['--set', 'quant.mode=bc', '--set', 'model.shortcut=B']],
        ['convnet_cp', 'convnet', ['--cp', 'conv2=8', '--cp', 'fc1=16']],
    ];
    const n = 64;
    for (const [label, model, args] of cases) {
        const prefix = path.join(tmp, label);
        execFileSync(FIXTURE, [prefix, '--model', model, '--onnx-only', '--images', `${n}`, ...args]);
        const input = floats(`${prefix}.input.f32`), want = floats(`${prefix}.logits.f32`);
        const meta = metadataProps(`${prefix}.onnx`);
        const mine = normalizedImages(meta, n);
        let dx = 0;
        for (let i = 0; i < input.length; i++) dx = Math.max(dx, Math.abs(mine[i] - input[i]));
        check(dx <= 1e-6, `${label}: metadata normalization reproduces qtrain's input (max diff ${dx})`);
        for (const suffix of ['.onnx', '.float.onnx', '.fold.onnx']) {
            const { logits } = await run(`${prefix}${suffix}`, input, n, [1, 28, 28]);
            const { worst, differ } = compare(logits, want, 10);
            check(worst <= TOL, `${label}${suffix}: max relative logit difference ${worst.toExponential(2)} <= ${TOL}`);
            check(differ === 0, `${label}${suffix}: ${differ} of ${n} predicted classes differ`);
            console.log(`ok: ${label}${suffix}: ${n} images, max relative logit difference ` +
                        `${worst.toExponential(2)}, predicted classes identical: ${differ === 0}`);
        }
    }
}

async function trained(tmp) {
    const ini = path.join(tmp, 'convnet_bc.ini');
    fs.writeFileSync(ini, '[model]\nname = convnet\n[data]\naugment = false\ntrain_limit = 3000\n' +
        '[train]\nepochs = 1\nmax_steps = 60\nbatch_size = 50\nlr = 0.003\neval_every = 0\n' +
        'threads = 1\n[quant]\nmode = bc\n');
    const run_dir = path.join(tmp, 'run');
    execFileSync(QTRAIN, ['--config', ini, '--out', run_dir, '--quiet']);
    const ck = path.join(run_dir, 'checkpoints', 'step-000000060.qtr');
    const evalOut = execFileSync(QTRAIN, ['eval', '--checkpoint', ck]).toString();
    const qtrainAcc = parseFloat(/test_acc (\S+)/.exec(evalOut)[1]);
    const model = path.join(tmp, 'convnet_bc.onnx');
    execFileSync(QTRAIN, ['export', '--checkpoint', ck, '--format', 'onnx', '--out', model]);
    const prefix = path.join(tmp, 'trained');
    execFileSync(FIXTURE, [prefix, '--checkpoint', ck, '--onnx-only', '--images', '10000']);
    const meta = metadataProps(model);
    const n = 10000;
    const x = normalizedImages(meta, n);
    const { logits } = await run(model, x, n, [1, 28, 28]);
    const { worst, differ } = compare(logits, floats(`${prefix}.logits.f32`), 10);
    const labels = idx(`${FMNIST}/t10k-labels-idx1-ubyte.gz`);
    let correct = 0;
    for (let i = 0; i < n; i++) if (argmax(logits, i * 10, 10) === labels[8 + i]) correct++;
    const ortAcc = correct / n;
    console.log(`trained BC convnet (60 steps): test accuracy qtrain eval ${qtrainAcc.toFixed(4)}, ` +
                `ONNX Runtime ${ortAcc.toFixed(4)} (${correct}/${n}); max relative logit ` +
                `difference ${worst.toExponential(2)}, predicted classes differing ${differ}`);
    check(worst <= TOL, `trained: max relative logit difference ${worst.toExponential(2)} <= ${TOL}`);
    check(differ === 0, `trained: ${differ} of ${n} predicted classes differ`);
    check(ortAcc.toFixed(4) === qtrainAcc.toFixed(4), 'trained: ONNX Runtime accuracy = qtrain eval accuracy');
    check(JSON.parse(meta.class_names).length === 10 && meta.model === 'convnet',
          'trained: metadata_props hold the class names and model');
}

(async () => {
    const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'qtrain-ort-'));
    try {
        console.log(`onnxruntime-node ${require(path.join(ORT_DIR, 'node_modules', 'onnxruntime-node', 'package.json')).version}`);
        await untrained(tmp);
        await trained(tmp);
    } finally {
        fs.rmSync(tmp, { recursive: true, force: true });
    }
    console.log(failures ? `${failures} failed` : 'ONNX Runtime agrees with qtrain');
    process.exit(failures ? 1 : 0);
})().catch((e) => {
    console.log(`FAILED: ${e.stack || e}`);
    process.exit(1);
});
