#!/usr/bin/python3
"""PyTorch counterpart of qtrain's `qbench`: the same models, batch, threads and measurement.

Usage (mirrors qbench):

    /usr/bin/python3 tools/bench_pytorch.py --model resnet56 --batch 128 --threads 2 \\
        --mode train --iters 10 --warmup 3 [--json]

Models: resnet56 resnet20 vgg9 vgg_bc wrn56_2 resnet18 mlp, built with the same layer
structure as qtrain's (ResNet option A shortcuts, BN after every conv and hidden linear).
A training step is forward, softmax cross-entropy, backward and an SGD step with momentum
0.9 on one batch of random data; inference is model.eval() under torch.no_grad().
It prints median and best images/s over the timed steps and peak resident memory.

Run it with Debian's python (/usr/bin/python3, which has python3-torch), and compare with
qbench side by side in one session: this machine kind has 15-30% run-to-run noise
(experiments/speed.py interleaves the two and reports the median of paired ratios).

Preload tcmalloc-minimal (Debian package libtcmalloc-minimal4) for PyTorch's best figure:

    LD_PRELOAD=/usr/lib/x86_64-linux-gnu/libtcmalloc_minimal.so.4 /usr/bin/python3 \
        tools/bench_pytorch.py --expect-preload /usr/lib/x86_64-linux-gnu/libtcmalloc_minimal.so.4 ...

Why: PyTorch frees every activation at the end of a step and allocates it again in the next.
glibc hands large blocks back to the kernel (mmap/munmap), so each step touches fresh pages,
and first-touch page faults are slow on these VMs (4 to 10 us per 4 KB page, depending on
the host): with glibc's allocator a step costs from 10% more up to 3x as much, which
measures the page faults rather than the arithmetic. tcmalloc keeps freed memory mapped and
reuses it. A preload that names a missing file is silently ignored by the loader, so the
allocator is read from this process's own memory map (/proc/self/maps), not from
LD_PRELOAD, and --expect-preload makes a missing one an error.

PyTorch's documented CPU setup (the Performance Tuning Guide and the channels-last
tutorial), as applied here: torch.set_num_threads(--threads) (OpenMP's threads; interop
threads are unused by one eager model), oneDNN on (torch.backends.mkldnn, the default),
convolutions without bias before batchnorm, optimizer.zero_grad(set_to_none=True), no
anomaly detection / profiler / gradcheck, torch.no_grad() for inference, a tcmalloc
preload, and the conv nets in either memory format (--memory-format; experiments/speed.py
times both every round and counts the faster: channels-last, which oneDNN prefers, measured
faster here on one thread).
The JSON records each of these as the process saw them.
"""

import argparse
import json
import os
import resource
import sys
import time

PROG = "bench_pytorch"

MODELS = ("resnet56", "resnet20", "vgg9", "vgg_bc", "wrn56_2", "resnet18", "mlp")

# (input channels, image size, classes) per model when not given on the command line.
INPUT_DEFAULTS = {
    "mlp": (1, 28, 10),
    "vgg9": (3, 32, 10),
    "vgg_bc": (3, 32, 10),
    "resnet20": (3, 32, 10),
    "resnet56": (3, 32, 10),
    "wrn56_2": (3, 32, 10),
    "resnet18": (3, 64, 1000),
}


def fail(msg):
    print(f"{PROG}: error: {msg}", file=sys.stderr)
    sys.exit(1)


try:
    import torch
    import torch.nn as nn
    import torch.nn.functional as F
except ImportError as e:
    fail(f"cannot import torch ({e}); run with /usr/bin/python3 (Debian's python3-torch)")


def conv3x3(cin, cout, stride=1):
    return nn.Conv2d(cin, cout, 3, stride=stride, padding=1, bias=False)


def conv_bn_relu(cin, cout):
    return [conv3x3(cin, cout), nn.BatchNorm2d(cout), nn.ReLU(inplace=True)]


def linear_bn_relu(fin, fout):
    """A linear layer followed by BN has no bias (BN's beta takes its place), as in qtrain."""
    return [nn.Linear(fin, fout, bias=False), nn.BatchNorm1d(fout), nn.ReLU(inplace=True)]


def make_mlp(channels, size, classes):
    return nn.Sequential(
        nn.Flatten(),
        *linear_bn_relu(channels * size * size, 500),
        *linear_bn_relu(500, 300),
        nn.Linear(300, classes),
    )


def make_vgg9(channels, size, classes):
    layers, cin = [], channels
    for v in (64, 64, "M", 128, 128, "M", 256, 256, 256, "M"):
        if v == "M":
            layers.append(nn.MaxPool2d(2))
        else:
            layers += conv_bn_relu(cin, v)
            cin = v
    side = size // 8
    return nn.Sequential(
        *layers, nn.Flatten(),
        *linear_bn_relu(256 * side * side, 256),
        nn.Linear(256, classes),
    )


def make_vgg_bc(channels, size, classes):
    """BinaryConnect's CIFAR net: 2x128C3-MP-2x256C3-MP-2x512C3-MP-FC1024-FC1024-classes,
    BN after every layer including the last linear (which has no ReLU)."""
    layers, cin = [], channels
    for v in (128, 128, "M", 256, 256, "M", 512, 512, "M"):
        if v == "M":
            layers.append(nn.MaxPool2d(2))
        else:
            layers += conv_bn_relu(cin, v)
            cin = v
    side = size // 8
    return nn.Sequential(
        *layers, nn.Flatten(),
        *linear_bn_relu(512 * side * side, 1024),
        *linear_bn_relu(1024, 1024),
        nn.Linear(1024, classes, bias=False), nn.BatchNorm1d(classes),
    )


class ShortcutA(nn.Module):
    """Option A: parameter-free; subsample by the stride and zero-pad the new channels
    (split evenly before and after, as in He et al.'s CIFAR code)."""

    def __init__(self, cin, cout, stride):
        super().__init__()
        self.stride = stride
        self.pad_lo = (cout - cin) // 2
        self.pad_hi = cout - cin - self.pad_lo

    def forward(self, x):
        x = x[:, :, ::self.stride, ::self.stride]
        return F.pad(x, (0, 0, 0, 0, self.pad_lo, self.pad_hi))


def shortcut_b(cin, cout, stride):
    return nn.Sequential(nn.Conv2d(cin, cout, 1, stride=stride, bias=False),
                         nn.BatchNorm2d(cout))


class BasicBlock(nn.Module):
    def __init__(self, cin, cout, stride, make_shortcut):
        super().__init__()
        self.conv1 = conv3x3(cin, cout, stride)
        self.bn1 = nn.BatchNorm2d(cout)
        self.conv2 = conv3x3(cout, cout)
        self.bn2 = nn.BatchNorm2d(cout)
        self.shortcut = (make_shortcut(cin, cout, stride)
                         if stride != 1 or cin != cout else nn.Identity())

    def forward(self, x):
        out = F.relu(self.bn1(self.conv1(x)), inplace=True)
        out = self.bn2(self.conv2(out))
        return F.relu(out + self.shortcut(x), inplace=True)


def make_stages(cin, widths, blocks_per_stage, first_stride, make_shortcut):
    layers = []
    for i, w in enumerate(widths):
        for j in range(blocks_per_stage):
            stride = (first_stride if i == 0 else 2) if j == 0 else 1
            layers.append(BasicBlock(cin, w, stride, make_shortcut))
            cin = w
    return layers


def make_cifar_resnet(depth, width_mult, channels, classes):
    """He et al. 2016 CIFAR ResNet, depth 6n+2, option A shortcuts; widths x width_mult."""
    n = (depth - 2) // 6
    widths = [16 * width_mult, 32 * width_mult, 64 * width_mult]
    return nn.Sequential(
        conv3x3(channels, widths[0]), nn.BatchNorm2d(widths[0]), nn.ReLU(inplace=True),
        *make_stages(widths[0], widths, n, 1, ShortcutA),
        nn.AdaptiveAvgPool2d(1), nn.Flatten(),
        nn.Linear(widths[-1], classes),
    )


def make_resnet18(channels, classes):
    """torchvision-style ImageNet ResNet-18: 7x7/2 stem + max pool, option B downsampling."""
    return nn.Sequential(
        nn.Conv2d(channels, 64, 7, stride=2, padding=3, bias=False),
        nn.BatchNorm2d(64), nn.ReLU(inplace=True),
        nn.MaxPool2d(3, stride=2, padding=1),
        *make_stages(64, [64, 128, 256, 512], 2, 1, shortcut_b),
        nn.AdaptiveAvgPool2d(1), nn.Flatten(),
        nn.Linear(512, classes),
    )


def build_model(name, channels, size, classes):
    if name == "mlp":
        model = make_mlp(channels, size, classes)
    elif name == "vgg9":
        model = make_vgg9(channels, size, classes)
    elif name == "vgg_bc":
        model = make_vgg_bc(channels, size, classes)
    elif name == "resnet20":
        model = make_cifar_resnet(20, 1, channels, classes)
    elif name == "resnet56":
        model = make_cifar_resnet(56, 1, channels, classes)
    elif name == "wrn56_2":
        model = make_cifar_resnet(56, 2, channels, classes)
    else:
        model = make_resnet18(channels, classes)
    he_init(model)
    return model


def he_init(model):
    """He initialisation for conv and linear weights, as qtrain does; BN keeps gamma 1, beta 0."""
    for m in model.modules():
        if isinstance(m, (nn.Conv2d, nn.Linear)):
            nn.init.kaiming_normal_(m.weight, nonlinearity="relu")
            if m.bias is not None:
                nn.init.zeros_(m.bias)


def make_step(model, mode, x, y):
    """Returns a function that runs one timed step on the fixed batch (x, y)."""
    if mode == "infer":
        model.eval()

        def infer_step():
            with torch.no_grad():
                model(x)
        return infer_step

    model.train()
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)

    def train_step():
        opt.zero_grad(set_to_none=True)
        loss = F.cross_entropy(model(x), y)
        loss.backward()
        opt.step()
    return train_step


def parse_args(argv):
    p = argparse.ArgumentParser(prog=PROG, description=__doc__.split("\n\n")[0])
    p.add_argument("--model", required=True, choices=MODELS)
    p.add_argument("--batch", type=int, default=128)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--mode", choices=("train", "infer"), default="train")
    p.add_argument("--iters", type=int, default=10, help="timed steps")
    p.add_argument("--warmup", type=int, default=3, help="untimed steps before timing")
    p.add_argument("--image-size", type=int, default=None,
                   help="input height and width (default: 28 mlp, 64 resnet18, 32 others)")
    p.add_argument("--classes", type=int, default=None,
                   help="output classes (default: 1000 resnet18, 10 others)")
    p.add_argument("--memory-format", choices=("contiguous", "channels_last"),
                   default="contiguous",
                   help="layout of the conv nets' weights and input (NCHW or NHWC)")
    p.add_argument("--expect-preload", metavar="LIB", default=None,
                   help="fail unless this shared library is mapped into the process "
                        "(the allocator LD_PRELOAD was asked to load)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--json", action="store_true", help="print one JSON object")
    a = p.parse_args(argv)
    for name in ("batch", "threads", "iters"):
        if getattr(a, name) < 1:
            p.error(f"--{name} must be at least 1")
    if a.warmup < 0:
        p.error("--warmup must be at least 0")
    if a.image_size is not None and a.image_size < 8:
        p.error("--image-size must be at least 8")
    if a.classes is not None and a.classes < 1:
        p.error("--classes must be at least 1")
    if a.mode == "train" and a.batch < 2:
        p.error("--mode train needs --batch of at least 2 (batch norm statistics)")
    return a


def mapped_libraries():
    """Paths of the shared objects mapped into this process, from /proc/self/maps."""
    libs = set()
    with open("/proc/self/maps") as f:
        for line in f:
            parts = line.split(None, 5)
            if len(parts) == 6 and ".so" in parts[5]:
                libs.add(parts[5].strip())
    return libs


def allocator(libs):
    """The malloc in use: the first mapped tcmalloc or jemalloc library, else glibc's."""
    for lib in sorted(libs):
        name = os.path.basename(lib)
        if name.startswith(("libtcmalloc", "libjemalloc")):
            return name.split(".so")[0][3:], lib
    return "glibc", ""


def cpu_capability():
    """ATen's vector level ("CPU capability usage: AVX2" in torch's build summary)."""
    for line in torch.__config__.show().splitlines():
        if "CPU capability usage" in line:
            return line.split(":", 1)[1].strip()
    return "unknown"


def environment():
    """What the timed process actually ran with, for the results file."""
    libs = mapped_libraries()
    name, path = allocator(libs)
    return {
        "allocator": name,
        "allocator_path": path,
        "torch_threads": torch.get_num_threads(),
        "torch_interop_threads": torch.get_num_interop_threads(),
        "mkldnn_available": torch.backends.mkldnn.is_available(),
        "mkldnn_enabled": bool(torch.backends.mkldnn.enabled),
        "cpu_capability": cpu_capability(),
        "anomaly_detection": torch.is_anomaly_enabled(),
        "python": sys.executable,
        "python_version": sys.version.split()[0],
        "torch_version": torch.__version__,
        "omp_num_threads_env": os.environ.get("OMP_NUM_THREADS", ""),
    }


def check_preload(expected):
    libs = mapped_libraries()
    real = os.path.realpath(expected)
    if expected not in libs and real not in libs:
        fail(f"{expected} is not mapped into this process (LD_PRELOAD="
             f"'{os.environ.get('LD_PRELOAD', '')}'); install it (tcmalloc-minimal: Debian "
             f"package libtcmalloc-minimal4) or fix the preload path")


def main(argv):
    a = parse_args(argv)
    if a.expect_preload:
        check_preload(a.expect_preload)
    torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)

    channels, size, classes = INPUT_DEFAULTS[a.model]
    size = a.image_size or size
    classes = a.classes or classes
    model = build_model(a.model, channels, size, classes)
    x = torch.randn(a.batch, channels, size, size)
    if a.memory_format == "channels_last":
        model = model.to(memory_format=torch.channels_last)
        x = x.to(memory_format=torch.channels_last)
    y = torch.randint(0, classes, (a.batch,))
    step = make_step(model, a.mode, x, y)

    for _ in range(a.warmup):
        step()
    times = []
    for _ in range(a.iters):
        t0 = time.perf_counter()
        step()
        times.append(time.perf_counter() - t0)

    times.sort()
    median = times[len(times) // 2]  # as qbench: the upper middle for an even count
    result = {
        "model": a.model,
        "mode": a.mode,
        "quant": "fp",
        "batch": a.batch,
        "threads": a.threads,
        "img_per_s": a.batch / median,
        "img_per_s_best": a.batch / times[0],
        # ru_maxrss is in KiB on Linux.
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0,
        "params": sum(p.numel() for p in model.parameters()),
        "framework": "pytorch",
        "memory_format": a.memory_format,
        **environment(),
    }
    if a.json:
        print(json.dumps(result))
    else:
        print(f"pytorch {result['torch_version']} ({result['allocator']} allocator, "
              f"{result['torch_threads']} threads, oneDNN "
              f"{'on' if result['mkldnn_enabled'] else 'off'}, {a.memory_format}): "
              f"{a.model} {a.mode} fp, batch {a.batch}, "
              f"{result['params']} params, input {channels}x{size}x{size}")
        print(f"  {a.iters} steps after {a.warmup} warm-up: "
              f"median {result['img_per_s']:.1f} img/s, best {result['img_per_s_best']:.1f} img/s")
        print(f"  peak RSS {result['peak_rss_mb']:.1f} MB")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
