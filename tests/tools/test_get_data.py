#!/usr/bin/env python3
"""tools/get-data.sh offline: generated archives served by `python3 -m http.server` on
127.0.0.1 stand in for the official sites (QTRAIN_DATA_MIRROR), with their checksums given
through QTRAIN_DATA_CHECKSUMS. Checks that verified files are unpacked where qtrain looks,
that a file with the wrong checksum is refused, deleted and nothing unpacked, that an
unreachable host fails at once with a clear message, and that user-supplied Tiny-ImageNet
and ImageNet archives are checked and unpacked into the layouts qtrain reads.
Exits non-zero with the failed check.

Needs QTRAIN_SOURCE_ROOT and QTRAIN_BUILD_ROOT (meson test sets both)."""

import hashlib
import io
import os
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
import zipfile
from pathlib import Path

SRC = Path(os.environ["QTRAIN_SOURCE_ROOT"])
BUILD = Path(os.environ["QTRAIN_BUILD_ROOT"])
SCRIPT = SRC / "tools" / "get-data.sh"
MKDATA = BUILD / "tools" / "mkdata"


def check(cond, what):
    if not cond:
        sys.exit(f"FAILED: {what}")
    print(f"ok: {what}")


def md5(path):
    return hashlib.md5(Path(path).read_bytes()).hexdigest()


def mkdata(*args):
    subprocess.run([str(MKDATA), *map(str, args)], check=True, stdout=subprocess.DEVNULL)


def run(args, env_extra, cwd):
    env = dict(os.environ)
    env.pop("QTRAIN_DATA_MIRROR", None)
    env.pop("QTRAIN_DATA_CHECKSUMS", None)
    env.update(env_extra)
    t0 = time.time()
    r = subprocess.run(["bash", str(SCRIPT), *map(str, args)], capture_output=True, text=True,
                       env=env, cwd=cwd)
    print(f"$ get-data.sh {' '.join(map(str, args))} -> {r.returncode} in {time.time() - t0:.1f} s")
    print(r.stdout + r.stderr)
    return r, time.time() - t0


def serve(directory):
    """python3 -m http.server on a free port of 127.0.0.1; returns (process, base URL)."""
    p = subprocess.Popen([sys.executable, "-u", "-m", "http.server", "0", "--bind", "127.0.0.1",
                          "--directory", str(directory)], stdout=subprocess.PIPE,
                         stderr=subprocess.DEVNULL, text=True)
    line = p.stdout.readline()
    m = re.search(r"port (\d+)", line)
    check(m is not None, f"http.server started ({line.strip()})")
    return p, f"http://127.0.0.1:{m.group(1)}"


def tar_gz(path, folder):
    with tarfile.open(path, "w:gz") as t:
        t.add(folder, arcname=folder.name)


def write_sums(path, entries):
    path.write_text("".join(f"{s}  {n}\n" for n, s in entries.items()))


def test_downloads(tmp, mirror, www):
    """CIFAR-10 and MNIST from the mirror, checked and unpacked; CIFAR-100 tampered."""
    data = tmp / "datasets"
    sums = tmp / "sums.txt"
    write_sums(sums, {"cifar-10-binary.tar.gz": md5(www / "cifar-10-binary.tar.gz"),
                      "cifar-100-binary.tar.gz": md5(www / "cifar-100-binary.tar.gz"),
                      **{f: md5(www / f) for f in ("train-images-idx3-ubyte.gz",
                                                   "train-labels-idx1-ubyte.gz",
                                                   "t10k-images-idx3-ubyte.gz",
                                                   "t10k-labels-idx1-ubyte.gz")}})
    env = {"QTRAIN_DATA_MIRROR": mirror, "QTRAIN_DATA_CHECKSUMS": str(sums)}
    r, _ = run(["cifar10", data], env, tmp)
    check(r.returncode == 0, "cifar10 from the mirror succeeds")
    got = data / "cifar-10-batches-bin" / "data_batch_3.bin"
    check(got.read_bytes() == (tmp / "src" / "cifar-10-batches-bin" / "data_batch_3.bin").read_bytes(),
          "datasets/cifar-10-batches-bin/data_batch_3.bin is the served file's")
    check(not list(data.glob(".get-data*")), "no staging folder is left behind")
    r, _ = run(["cifar10", data], env, tmp)
    check(r.returncode == 0 and "already exists" in r.stdout, "a second run leaves it alone")

    r, _ = run(["mnist", data], env, tmp)
    check(r.returncode == 0, "mnist from the mirror succeeds")
    for f in ("train-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"):
        check(md5(data / "mnist" / f) == md5(www / f), f"datasets/mnist/{f} is the served file")

    # the served CIFAR-100 archive differs from the one the checksum describes
    tampered = www / "cifar-100-binary.tar.gz"
    tampered.write_bytes(tampered.read_bytes()[:-10] + b"0123456789")
    r, _ = run(["cifar100", data], env, tmp)
    check(r.returncode != 0, "a file with the wrong checksum is refused")
    check("cifar-100-binary.tar.gz: checksum mismatch" in r.stderr and "was deleted" in r.stderr,
          "the message names the file and the mismatch")
    check(not (data / "cifar-100-binary").exists(), "nothing is unpacked")
    check(not list(data.glob(".get-data*")) and not list(data.rglob("*.tar.gz*")),
          "the refused download is deleted")

    # without the override, the published checksums apply: the generated file fails them
    r, _ = run(["cifar10", tmp / "other"], {"QTRAIN_DATA_MIRROR": mirror}, tmp)
    check(r.returncode != 0 and "expected c32a1d4ab5d03f1284b67883e8d87530" in r.stderr,
          "the published CIFAR-10 checksum refuses a generated archive")


def test_offline(tmp):
    """A host that cannot be reached: a clear message, at once."""
    r, secs = run(["fashion_mnist", tmp / "offline"], {"QTRAIN_DATA_MIRROR": "http://127.0.0.1:9"},
                  tmp)
    check(r.returncode != 0, "an unreachable host fails")
    check("cannot reach http://127.0.0.1:9 (no internet connection?)" in r.stderr,
          "the message says the host cannot be reached")
    check(secs < 10, f"it fails at once ({secs:.1f} s)")
    check(not (tmp / "offline" / "fashion-mnist").exists(), "nothing is left in place")


def test_tiny_imagenet(tmp):
    """A user's Tiny-ImageNet zip: checked, unpacked into datasets/tiny-imagenet-200."""
    src = tmp / "tinysrc" / "tiny-imagenet-200"
    mkdata("tiny_imagenet", src, "--classes", 3, "--train", 2, "--test", 3)
    z = tmp / "tiny-imagenet-200.zip"
    with zipfile.ZipFile(z, "w") as f:
        for p in sorted(src.rglob("*")):
            f.write(p, p.relative_to(src.parent))
    data = tmp / "tiny"
    r, _ = run(["tiny_imagenet", data, "--archive", z], {}, tmp)
    check(r.returncode != 0 and "checksum mismatch" in r.stderr and
          "expected 90528d7ca1a48142e341f4ef8d21d0de" in r.stderr,
          "a zip that is not the published one is refused")
    check(z.exists(), "the user's own archive is not deleted")
    sums = tmp / "tinysums.txt"
    write_sums(sums, {"tiny-imagenet-200.zip": md5(z)})
    r, _ = run(["tiny_imagenet", data, "--archive", z], {"QTRAIN_DATA_CHECKSUMS": str(sums)}, tmp)
    check(r.returncode == 0, "a zip with the expected checksum is unpacked")
    root = data / "tiny-imagenet-200"
    check((root / "wnids.txt").read_text() == (src / "wnids.txt").read_text(), "wnids.txt in place")
    check(len(list((root / "val" / "images").glob("*.JPEG"))) == 3, "val/images holds 3 JPEGs")
    check((root / "val" / "val_annotations.txt").exists(), "val_annotations.txt in place")


def test_imagenet(tmp):
    """ILSVRC-2012 archives (train: one tar per class) and a LOC_val_solution.csv."""
    src = tmp / "inetsrc"
    mkdata("imagenet", src, "--classes", 3, "--train", 2, "--test", 4, "--val", "csv")
    train_tar, val_tar = tmp / "ILSVRC2012_img_train.tar", tmp / "ILSVRC2012_img_val.tar"
    with tarfile.open(train_tar, "w") as outer:
        for cls in sorted((src / "train").iterdir()):
            buf = io.BytesIO()
            with tarfile.open(fileobj=buf, mode="w") as inner:
                for img in sorted(cls.iterdir()):
                    inner.add(img, arcname=img.name)
            info = tarfile.TarInfo(cls.name + ".tar")
            info.size = buf.tell()
            buf.seek(0)
            outer.addfile(info, buf)
    with tarfile.open(val_tar, "w") as t:
        for img in sorted((src / "val").glob("*.JPEG")):
            t.add(img, arcname=img.name)
    sums = tmp / "inetsums.txt"
    write_sums(sums, {"ILSVRC2012_img_train.tar": md5(train_tar),
                      "ILSVRC2012_img_val.tar": md5(val_tar)})
    data = tmp / "inet"
    r, _ = run(["imagenet", data, "--train", train_tar, "--val", val_tar], {}, tmp)
    check(r.returncode != 0 and "expected 1d675b47d978889d74fa0da5fadfb00e" in r.stderr,
          "a train archive that is not the published one is refused")
    check(not (data / "imagenet" / "train").exists(), "nothing is unpacked")
    r, _ = run(["imagenet", data, "--train", train_tar, "--val", val_tar, "--labels",
                src / "LOC_val_solution.csv"], {"QTRAIN_DATA_CHECKSUMS": str(sums)}, tmp)
    check(r.returncode == 0, "archives with the expected checksums are unpacked")
    root = data / "imagenet"
    for cls in (src / "train").iterdir():
        names = sorted(p.name for p in (root / "train" / cls.name).iterdir())
        check(names == sorted(p.name for p in cls.iterdir()), f"train/{cls.name}/ holds its images")
    check(sorted(p.name for p in (root / "val").iterdir()) ==
          sorted(p.name for p in (src / "val").glob("*.JPEG")), "val/ holds the flat images")
    check((root / "LOC_val_solution.csv").read_bytes() == (src / "LOC_val_solution.csv").read_bytes(),
          "the label file is where qtrain looks for it")
    r, _ = run(["imagenet", data, "--val", val_tar], {"QTRAIN_DATA_CHECKSUMS": str(sums)}, tmp)
    check(r.returncode != 0 and "already exists" in r.stderr, "an existing val/ is not overwritten")


def main():
    with tempfile.TemporaryDirectory() as t:
        tmp = Path(t)
        www = tmp / "www"
        www.mkdir()
        mkdata("cifar10", tmp / "src" / "cifar-10-batches-bin", "--train", 10, "--test", 5)
        tar_gz(www / "cifar-10-binary.tar.gz", tmp / "src" / "cifar-10-batches-bin")
        mkdata("cifar100", tmp / "src" / "cifar-100-binary", "--train", 10, "--test", 5)
        tar_gz(www / "cifar-100-binary.tar.gz", tmp / "src" / "cifar-100-binary")
        mkdata("idx", tmp / "src" / "mnist", "--train", 10, "--test", 5, "--gzip")
        for f in (tmp / "src" / "mnist").iterdir():
            shutil.copy(f, www / f.name)
        server, mirror = serve(www)
        try:
            test_downloads(tmp, mirror, www)
            test_offline(tmp)
        finally:
            server.terminate()
            server.wait()
        test_tiny_imagenet(tmp)
        test_imagenet(tmp)
    print("all get-data.sh checks passed")


if __name__ == "__main__":
    main()
