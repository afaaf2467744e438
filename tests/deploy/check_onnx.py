#!/usr/bin/python3
"""The ONNX checker (Debian's python3-onnx: onnx.checker.check_model(m, full_check=True),
which also runs strict shape inference) accepts every zoo model's ONNX export: quantized
(int8 codes through DequantizeLinear), float (--onnx-float) and with batchnorm folded
(--onnx-fold-bn), for FP and BC quantizers (the two big nets, vgg_bc and resnet18, BC only), ResNets with option-A and option-B shortcuts and a
net with CP-factorised layers (depthwise grouped conv). It also checks what the files say:
opset 13, a dynamic batch dimension, the metadata_props keys of docs/export-format.md, codes
stored as int8 and the shape inference's logits shape (N, 10).

Untrained nets built by tests/deploy/deploy_fixture on Fashion-MNIST (1x28x28, 10 classes).
Exits 77 (skipped) when python3-onnx or the dataset is missing."""

import tempfile
from pathlib import Path

from fixture import check, finish, make, need_dataset, skip

try:
    import onnx
    from onnx import checker, shape_inference
except ImportError:
    skip("python3-onnx is not installed (apt-get install python3-onnx)")
need_dataset()

# (label, model, extra fixture arguments): every zoo family, each shortcut kind, CP parts.
NETS = [
    ("mlp", "mlp", ["--set", "model.widths=64,32", "--set", "model.dropout=0.2"]),
    ("convnet", "convnet", []),
    ("gpfq_cnn", "gpfq_cnn", ["--set", "model.dropout=0.5"]),
    ("vgg9", "vgg9", []),
    ("vgg_bc", "vgg_bc", []),
    ("resnet20_A", "resnet20", ["--set", "model.shortcut=A"]),
    ("resnet20_B", "resnet20", ["--set", "model.shortcut=B"]),
    ("wrn8_2", "wrn8_2", []),
    ("resnet18", "resnet18", []),
]
KEYS = {"format", "format_version", "model", "quant_mode", "architecture", "quantization",
        "data", "input_normalization", "class_names"}


def check_file(path, label, quantized):
    m = onnx.load(str(path))
    try:
        checker.check_model(m, full_check=True)
    except Exception as e:  # the checker raises ValidationError / InferenceError
        check(False, f"{path.name}: checker: {e}")
        return
    check(m.opset_import[0].version == 13, f"{path.name}: opset 13")
    dims = m.graph.input[0].type.tensor_type.shape.dim
    check(dims[0].dim_param == "N" and [d.dim_value for d in dims[1:]] == [1, 28, 28],
          f"{path.name}: input (N, 1, 28, 28)")
    check(KEYS <= {p.key for p in m.metadata_props}, f"{path.name}: metadata_props keys")
    ops = {n.op_type for n in m.graph.node}
    check(("DequantizeLinear" in ops) == quantized, f"{path.name}: DequantizeLinear iff codes")
    check("Dropout" not in ops, f"{path.name}: no Dropout")
    codes = [t for t in m.graph.initializer if t.name.endswith(".codes")]
    check(all(t.data_type == onnx.TensorProto.INT8 for t in codes), f"{path.name}: int8 codes")
    inferred = shape_inference.infer_shapes(m, strict_mode=True)
    out = inferred.graph.output[0].type.tensor_type.shape.dim
    check(out[0].dim_param == "N" and out[1].dim_value == 10, f"{path.name}: logits (N, 10)")
    print(f"ok: {label}: {path.name} ({path.stat().st_size} bytes, {len(m.graph.node)} nodes)")


# The two big nets (14M and 11M parameters) only with BC: its --onnx-float file covers their
# float graph, and skipping FP saves writing and checking 250 MB.
BIG = {"vgg_bc", "resnet18"}

with tempfile.TemporaryDirectory() as tmp:
    runs = [(f"{label}_{mode}", model, args + ["--set", f"quant.mode={mode}"], mode != "fp")
            for label, model, args in NETS for mode in ("fp", "bc")
            if not (mode == "fp" and label in BIG)]
    runs.append(("convnet_cp", "convnet", ["--cp", "conv2=8", "--cp", "fc1=16"], False))
    runs.append(("convnet_sr_ternary", "convnet",
                 ["--set", "quant.mode=sr", "--set", "quant.grid=ternary", "--set",
                  "quant.bits=2"], True))
    for label, model, args, quantized in runs:
        prefix = Path(tmp) / label
        if not make(prefix, model, ["--onnx-only", "--images", "1"] + args):
            continue
        check_file(prefix.with_suffix(".onnx"), label, quantized)
        if quantized:  # otherwise the same file as .onnx
            check_file(prefix.with_suffix(".float.onnx"), label, False)
        check_file(prefix.with_suffix(".fold.onnx"), label, quantized)
        for f in Path(tmp).glob(label + ".*"):
            f.unlink()

finish("all ONNX exports pass the checker")
