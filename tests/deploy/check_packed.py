#!/usr/bin/python3
"""An independent reader of qtrain's packed safetensors (docs/export-format.md), in Python
with numpy only: it parses the header, decodes every quantized tensor from its packing
(bits1, int2, int4, int8) and scale, and compares every tensor with the float32 export of the
same net exactly (bit for bit). Covers the binary grid (BC, 1 bit), ternary (SR, 2 bits),
uniform 3- and 4-bit (R, 4 bits), uniform 8-bit and unbounded (R, int8), each on a net with
quantized convs and linears. For BC it also checks the float buffer: its deterministic sign
(0 -> +1) times the scale is the exported weight. And the packed file of the binary net is
smaller than 1/20 of the float one's quantized part plus its float part.

Untrained nets built by tests/deploy/deploy_fixture on Fashion-MNIST.
Exits 77 (skipped) when numpy or the dataset is missing."""

import json
import struct
import tempfile
from pathlib import Path

from fixture import check, finish, make, need_dataset, skip

try:
    import numpy as np
except ImportError:
    skip("numpy is not installed (apt-get install python3-numpy)")
need_dataset()

DTYPES = {"F32": np.float32, "U8": np.uint8, "I8": np.int8}


def read_safetensors(path):
    """{name: numpy array}, metadata."""
    data = path.read_bytes()
    (n,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8:8 + n])
    meta = header.pop("__metadata__", {})
    body = data[8 + n:]
    out = {}
    for name, e in header.items():
        lo, hi = e["data_offsets"]
        a = np.frombuffer(body[lo:hi], dtype=DTYPES[e["dtype"]])
        out[name] = a.reshape(e["shape"])
    return out, meta


def unpack(packed, packing, n):
    """Codes (int8) from a packed byte array: code i at bit i*b of the stream, LSB first."""
    if packing == "int8":
        return packed.reshape(-1).astype(np.int8)[:n]
    bits = {"bits1": 1, "int2": 2, "int4": 4}[packing]
    stream = np.unpackbits(packed.reshape(-1), bitorder="little")[: n * bits]
    fields = (stream.reshape(n, bits) * (1 << np.arange(bits))).sum(axis=1)
    if packing == "bits1":
        return (2 * fields - 1).astype(np.int8)
    return np.where(fields >= 1 << (bits - 1), fields - (1 << bits), fields).astype(np.int8)


def decode(path):
    tensors, meta = read_safetensors(path)
    info = json.loads(meta["quantized_tensors"])
    out = {}
    for name, a in tensors.items():
        if name.endswith(".scale") and name[: -len(".scale")] in info:
            continue
        if name in info:
            e = info[name]
            shape = e["shape"]
            codes = unpack(a, e["packing"], int(np.prod(shape)))
            check(codes.min() >= e["code_min"] and codes.max() <= e["code_max"],
                  f"{path.name}: {name}: codes within [{e['code_min']}, {e['code_max']}]")
            scale = tensors[e["scale"]]
            check(scale.shape == () and scale.dtype == np.float32, f"{name}: one F32 scale")
            out[name] = codes.astype(np.float32).reshape(shape) * scale
            out[name + ".codes"] = codes.reshape(shape)
            out[name + ".scale"] = scale
        else:
            out[name] = a
    return out, info, meta


CASES = [
    ("bc_binary", "convnet", ["quant.mode=bc"], "bits1"),
    ("sr_ternary", "convnet", ["quant.mode=sr", "quant.grid=ternary", "quant.bits=2"], "int2"),
    ("r_uniform3", "convnet", ["quant.mode=r", "quant.grid=uniform", "quant.bits=3"], "int4"),
    ("r_uniform4", "convnet", ["quant.mode=r", "quant.grid=uniform", "quant.bits=4"], "int4"),
    ("r_uniform8", "mlp", ["quant.mode=r", "quant.grid=uniform", "quant.bits=8"], "int8"),
    ("sr_unbounded", "mlp", ["quant.mode=sr", "quant.grid=unbounded", "quant.bits=8",
                             "quant.scale_value=0.05"], "int8"),
]

with tempfile.TemporaryDirectory() as tmp:
    for label, model, sets, packing in CASES:
        prefix = Path(tmp) / label
        if not make(prefix, model, ["--images", "1"] + [a for s in sets for a in ("--set", s)]):
            continue
        packed_path = Path(str(prefix) + ".packed.safetensors")
        float_path = Path(str(prefix) + ".safetensors")
        floats, fmeta = read_safetensors(float_path)
        decoded, info, meta = decode(packed_path)
        check(len(info) > 0 and all(e["packing"] == packing for e in info.values()),
              f"{label}: every quantized tensor packed as {packing}")
        finfo = json.loads(fmeta["quantized_tensors"])
        check(set(finfo) == set(info), f"{label}: same quantized tensors in both files")
        for name, want in floats.items():
            got = decoded.get(name)
            if not check(got is not None and got.shape == want.shape, f"{label}: {name} shape"):
                continue
            check(np.array_equal(got.view(np.uint32), want.view(np.uint32)),
                  f"{label}: {name} equals the float export bit for bit")
            if name in finfo:
                check(np.float32(finfo[name]["scale_value"]) == decoded[name + ".scale"],
                      f"{label}: {name}: scale_value of the float export = packed scale")
        for name, e in info.items():
            if "float_buffer" in e:
                fb = decoded[e["float_buffer"]]
                signs = np.where(fb >= 0, 1, -1).astype(np.int8)
                check(np.array_equal(signs, decoded[name + ".codes"]),
                      f"{label}: {name}: sign of the float buffer = the codes")
        for k in ("architecture", "quantization", "data", "input_normalization", "class_names"):
            json.loads(meta[k])  # each is JSON
        check(json.loads(meta["architecture"])["model"]["name"] == model,
              f"{label}: architecture names {model}")
        quantized_bytes = sum(floats[n].nbytes for n in info)
        float_bytes = float_path.stat().st_size - quantized_bytes
        size = packed_path.stat().st_size
        extra = sum(decoded[e["float_buffer"]].nbytes for e in info.values() if "float_buffer" in e)
        if packing == "bits1":
            check(size - extra < quantized_bytes / 20 + float_bytes,
                  f"{label}: packed {size - extra} bytes < 1/20 of {quantized_bytes} + {float_bytes}")
        print(f"ok: {label}: {len(floats)} tensors decoded exactly; float export "
              f"{float_path.stat().st_size} bytes, packed {size} bytes"
              + (f" ({extra} of them the float buffer)" if extra else ""))

finish("every packed tensor decodes to the float export")
