#!/usr/bin/env python3
"""Sizes of a binary (BinaryConnect) VGG-BC net's exports: the float32 safetensors against the
packed one (1 bit per weight plus one float scale per layer), and the ONNX model with int8
codes against the one with float initializers. The net is BinaryConnect's CIFAR-10 VGG
(3x32x32 input, 10 classes, 14,029,716 parameters), trained for one step on a tiny CIFAR-10-
format dataset that tools/mkdata writes (sizes do not depend on the weights' values).
Besides measuring, it checks each packed size against the size the tensor shapes imply.

Writes experiments/results/export_sizes/results.md and results.json. About 30 s of CPU time
(the one training step of the 14M-parameter net)."""

import json
import struct
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import qtexp  # noqa: E402

p = qtexp.parser("export_sizes", __doc__)
args = qtexp.finish_args(p.parse_args(), "export_sizes")
qtrain = qtexp.tool(args, "src/cli/qtrain")
mkdata = qtexp.tool(args, "tools/mkdata")


def header(path):
    data = path.read_bytes()
    (n,) = struct.unpack("<Q", data[:8])
    return 8 + n, json.loads(data[8:8 + n])


def prod(shape):
    n = 1
    for d in shape:
        n *= d
    return n


def run(cmd):
    qtexp.log("$ " + " ".join(str(c) for c in cmd))
    subprocess.run([str(c) for c in cmd], check=True, stdout=subprocess.DEVNULL)


with tempfile.TemporaryDirectory() as tmp:
    tmp = Path(tmp)
    run([mkdata, "cifar10", tmp / "cifar", "--train", "10", "--test", "2"])
    (tmp / "vgg_bc.ini").write_text(
        "[model]\nname = vgg_bc\n[data]\ndataset = cifar10\nroot = " + str(tmp / "cifar") +
        "\naugment = false\n[train]\nepochs = 1\nmax_steps = 1\nbatch_size = 2\neval_every = 0\n"
        f"threads = {args.threads}\n[quant]\nmode = bc\n")
    run([qtrain, "--config", tmp / "vgg_bc.ini", "--out", tmp / "run", "--quiet"])
    ck = tmp / "run" / "checkpoints" / "step-000000001.qtr"
    files = {
        "safetensors, float32": ("st_float.safetensors", []),
        "safetensors, --packed": ("st_packed.safetensors", ["--packed"]),
        "safetensors, --packed --float-buffer": ("st_buffer.safetensors",
                                                 ["--packed", "--float-buffer"]),
        "ONNX, int8 codes (DequantizeLinear)": ("codes.onnx", ["--format", "onnx"]),
        "ONNX, --onnx-float": ("float.onnx", ["--format", "onnx", "--onnx-float"]),
    }
    sizes = {}
    for label, (name, opts) in files.items():
        run([qtrain, "export", "--checkpoint", ck, "--out", tmp / name] + opts)
        sizes[label] = (tmp / name).stat().st_size

    # What the shapes imply for the packed file: 1 bit per quantized weight (rounded up to
    # whole bytes per tensor), 4 bytes per float scalar, plus the header.
    head, h = header(tmp / "st_packed.safetensors")
    meta = h.pop("__metadata__")
    quantized = json.loads(meta["quantized_tensors"])
    n_quant = sum(prod(e["shape"]) for e in quantized.values())
    expect = head + sum((prod(quantized[k]["shape"]) + 7) // 8 if k in quantized
                        else 4 * prod(e["shape"]) for k, e in h.items())
    if expect != sizes["safetensors, --packed"]:
        sys.exit(f"error: packed file is {sizes['safetensors, --packed']} bytes, its shapes "
                 f"imply {expect}")
    _, hf = header(tmp / "st_float.safetensors")
    hf.pop("__metadata__")
    params = sum(prod(e["shape"]) for k, e in hf.items()
                 if not k.endswith(("running_mean", "running_var")))

float_size = sizes["safetensors, float32"]
rows = [[label, f"{s:,}", f"{s / float_size:.4f}"] for label, s in sizes.items()]
md = ("# Export sizes of a binary VGG-BC net\n\n"
      "Written by `experiments/export_sizes.py`. BinaryConnect's CIFAR-10 VGG (`vgg_bc`, "
      f"3x32x32 input, 10 classes): {params:,} parameters, of which {n_quant:,} binary weights "
      "(every conv and linear layer; quant.mode = bc, deterministic sign). Sizes in bytes of "
      "the files `qtrain export` writes, and their ratio to the float32 safetensors file.\n\n"
      + qtexp.md_table(["file", "bytes", "ratio to float32"], rows)
      + f"\nThe packed size equals what its tensor shapes imply: one bit per binary weight, "
        "4 bytes per float (batchnorm parameters and statistics, one scale per layer) and the "
        "JSON header. `--float-buffer` adds BinaryConnect's float buffer (4 bytes per weight).\n")
(args.out / "results.md").write_text(md)
(args.out / "results.json").write_text(json.dumps(
    {"model": "vgg_bc", "params": params, "binary_weights": n_quant, "bytes": sizes},
    indent=2) + "\n")
qtexp.log(md)
