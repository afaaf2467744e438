#!/usr/bin/env bash
# Fetches a dataset, verifies it against its published checksum and unpacks it where qtrain
# looks by default (datasets/README.md).
#
#   tools/get-data.sh NAME [DIR] [options]      DIR: the datasets folder (default: datasets)
#
#   cifar10, cifar100, mnist, fashion_mnist   downloaded from their official locations
#   tiny_imagenet   downloaded from Stanford, or --archive tiny-imagenet-200.zip you have
#   imagenet        needs registration: --train ILSVRC2012_img_train.tar and/or
#                   --val ILSVRC2012_img_val.tar that you downloaded, and for the flat val/
#                   a label file (--labels LOC_val_solution.csv, or "file label" lines)
#
# A file whose checksum differs from the published one (listed in this script with its
# source) is deleted and nothing is unpacked.
# Nothing already in place is overwritten: an existing dataset folder is left alone.
#
# Environment (for mirrors and for the tests, which serve generated files locally):
#   QTRAIN_DATA_MIRROR=URL        fetch every file from URL/<file name> instead
#   QTRAIN_DATA_CHECKSUMS=FILE    "md5  file-name" lines that replace the table's entries
set -euo pipefail

PROG=get-data.sh
die() { echo "$PROG: error: $*" >&2; exit 1; }
note() { echo "$PROG: $*"; }

usage() {
    sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'
}

# ---- published checksums (MD5), with their source ----
declare -A MD5
# https://www.cs.toronto.edu/~kriz/cifar.html, the md5sum column of the download table
# ("binary version (suitable for C programs)").
MD5[cifar-10-binary.tar.gz]=c32a1d4ab5d03f1284b67883e8d87530
MD5[cifar-100-binary.tar.gz]=03b5dce01913d631647c71ecec9e9cb8
# MNIST: LeCun's page publishes no checksums; these are torchvision's
# (torchvision/datasets/mnist.py, MNIST.resources), which verify the same files.
MD5[train-images-idx3-ubyte.gz]=f68b3c2dcbeaaa9fbdd348bbdeb94873
MD5[train-labels-idx1-ubyte.gz]=d53e105ee54ea40749a09fcbcd1e9432
MD5[t10k-images-idx3-ubyte.gz]=9fb629c4189551a2d022fa330f9573f3
MD5[t10k-labels-idx1-ubyte.gz]=ec29112dd5afa0611ce80d1b7f02629c
# Fashion-MNIST: https://github.com/zalandoresearch/fashion-mnist README, "MD5 checksum"
# column (also torchvision's FashionMNIST.resources). The file names equal MNIST's, so they
# are kept under a prefix here.
MD5[fashion/train-images-idx3-ubyte.gz]=8d4fb7e6c68d591d4c3dfef9ec88bf0d
MD5[fashion/train-labels-idx1-ubyte.gz]=25c81989df183df01b3e8a0aad5dffbe
MD5[fashion/t10k-images-idx3-ubyte.gz]=bef4ecab320f06d8554ea6380940ec79
MD5[fashion/t10k-labels-idx1-ubyte.gz]=bb300cfdad3c16e7a12a480ee83cd310
# Tiny-ImageNet: Stanford publishes no checksum; this is the MD5 dataset loaders check the
# zip against (e.g. Avalanche, avalanche/benchmarks/datasets/tiny_imagenet).
MD5[tiny-imagenet-200.zip]=90528d7ca1a48142e341f4ef8d21d0de
# ILSVRC-2012: torchvision/datasets/imagenet.py, ARCHIVE_META (the archives image-net.org
# hands registered users).
MD5[ILSVRC2012_img_train.tar]=1d675b47d978889d74fa0da5fadfb00e
MD5[ILSVRC2012_img_val.tar]=29b22e2961454d5413ddabcf34fc5622

# ---- official locations ----
CIFAR_URL=https://www.cs.toronto.edu/~kriz
MNIST_URLS="http://yann.lecun.com/exdb/mnist https://ossci-datasets.s3.amazonaws.com/mnist"
FASHION_URL=http://fashion-mnist.s3-website.eu-central-1.amazonaws.com
TINY_URL=http://cs231n.stanford.edu
IDX_FILES="train-images-idx3-ubyte.gz train-labels-idx1-ubyte.gz t10k-images-idx3-ubyte.gz
           t10k-labels-idx1-ubyte.gz"

if [ -n "${QTRAIN_DATA_CHECKSUMS:-}" ]; then
    [ -r "$QTRAIN_DATA_CHECKSUMS" ] || die "QTRAIN_DATA_CHECKSUMS: cannot read $QTRAIN_DATA_CHECKSUMS"
    while read -r sum name; do
        [ -n "$sum" ] && MD5[$name]=$sum
    done <"$QTRAIN_DATA_CHECKSUMS"
fi

# Downloads URL to OUT with progress (and an ETA) on stderr; exits 2 when the host cannot be
# reached at all, 1 on any other failure.
fetch() {
    python3 - "$1" "$2" <<'EOF'
import socket, sys, time, urllib.error, urllib.request
url, out = sys.argv[1], sys.argv[2]
name = url.rsplit("/", 1)[-1]
try:
    with urllib.request.urlopen(url, timeout=20) as r, open(out, "wb") as f:
        total = int(r.headers.get("Content-Length") or 0)
        done, t0, shown = 0, time.time(), 0.0
        while True:
            block = r.read(1 << 20)
            if not block:
                break
            f.write(block)
            done += len(block)
            now = time.time()
            if now - shown >= 2 or (total and done == total):
                shown = now
                rate = done / max(now - t0, 1e-9)
                eta = f", ETA {(total - done) / rate:.0f} s" if total and rate > 0 else ""
                of = f" of {total / 1e6:.1f}" if total else ""
                print(f"  {name}: {done / 1e6:.1f}{of} MB, {rate / 1e6:.1f} MB/s{eta}",
                      file=sys.stderr, flush=True)
except urllib.error.HTTPError as e:
    sys.exit(f"{url}: HTTP {e.code} {e.reason}")
except (urllib.error.URLError, socket.timeout, ConnectionError, OSError) as e:
    reason = getattr(e, "reason", e)
    print(f"{url}: {reason}", file=sys.stderr)
    sys.exit(2)
EOF
}

# Checks FILE against the table entry KEY; deletes it on a mismatch.
verify() {
    local file=$1 key=$2 want=${MD5[$2]:-}
    [ -n "$want" ] || die "no checksum known for $key"
    local size
    size=$(stat -c %s "$file")
    [ "$size" -lt 1000000000 ] || note "checking the MD5 of $(basename "$file") ($((size / 1000000000)) GB), this takes a while"
    local got
    got=$(md5sum "$file" | cut -d' ' -f1)
    if [ "$got" != "$want" ]; then
        rm -f "$file"
        die "$key: checksum mismatch: MD5 $got, expected $want; the file was deleted and nothing was unpacked"
    fi
}

# Downloads file KEY (table key; the file name is its last part) into STAGE, trying each
# base URL in turn (QTRAIN_DATA_MIRROR alone when set), then verifies it.
download() {
    local key=$1 stage=$2 bases=$3 name out rc=0
    name=${key##*/}
    out="$stage/$name"
    [ -n "${QTRAIN_DATA_MIRROR:-}" ] && bases=$QTRAIN_DATA_MIRROR
    note "downloading $name"
    local errors="" base
    for base in $bases; do
        rc=0
        fetch "$base/$name" "$out.part" || rc=$?
        if [ "$rc" -eq 0 ]; then
            mv "$out.part" "$out"
            verify "$out" "$key"
            return 0
        fi
        errors="$errors $base"
    done
    rm -f "$out.part"
    if [ "$rc" -eq 2 ]; then
        die "cannot reach$errors (no internet connection?). Download $name on a machine that has one and unpack it as datasets/README.md describes"
    fi
    die "cannot download $name from$errors"
}

# Makes a staging folder inside DIR (so the final move is a rename), removed on exit.
STAGE=""
cleanup() { [ -z "$STAGE" ] || rm -rf "$STAGE"; }
trap cleanup EXIT
make_stage() {
    mkdir -p "$1"
    STAGE=$(mktemp -d "$1/.get-data.XXXXXX")
}

# Exits successfully when the dataset folder is already there.
already_there() {
    if [ -e "$1" ]; then
        note "$1 already exists; leaving it as it is (remove it to fetch again)"
        exit 0
    fi
}

get_cifar() {
    local archive=$1 folder=$2 dir=$3
    already_there "$dir/$folder"
    make_stage "$dir"
    download "$archive" "$STAGE" "$CIFAR_URL"
    note "unpacking $archive"
    tar -xzf "$STAGE/$archive" -C "$STAGE"
    [ -d "$STAGE/$folder" ] || die "$archive holds no $folder/ folder"
    mv "$STAGE/$folder" "$dir/$folder"
    note "done: $dir/$folder"
}

get_idx() {
    local prefix=$1 folder=$2 dir=$3 bases=$4 f
    already_there "$dir/$folder"
    make_stage "$dir"
    mkdir "$STAGE/$folder"
    for f in $IDX_FILES; do
        download "$prefix$f" "$STAGE" "$bases"
        mv "$STAGE/$f" "$STAGE/$folder/$f"
    done
    mv "$STAGE/$folder" "$dir/$folder"
    note "done: $dir/$folder (qtrain reads the .gz files as they are)"
}

unzip_to() {
    python3 - "$1" "$2" <<'EOF'
import sys, zipfile
zipfile.ZipFile(sys.argv[1]).extractall(sys.argv[2])
EOF
}

get_tiny() {
    local dir=$1 archive=$2
    already_there "$dir/tiny-imagenet-200"
    make_stage "$dir"
    if [ -n "$archive" ]; then
        [ -r "$archive" ] || die "$archive: cannot read"
        note "checking $archive"
        verify_user "$archive" tiny-imagenet-200.zip
    else
        download tiny-imagenet-200.zip "$STAGE" "$TINY_URL"
        archive=$STAGE/tiny-imagenet-200.zip
    fi
    note "unpacking $archive"
    unzip_to "$archive" "$STAGE"
    [ -f "$STAGE/tiny-imagenet-200/wnids.txt" ] || die "the zip holds no tiny-imagenet-200/wnids.txt"
    mv "$STAGE/tiny-imagenet-200" "$dir/tiny-imagenet-200"
    note "done: $dir/tiny-imagenet-200"
}

# ILSVRC2012_img_train.tar holds one tar per class (n01440764.tar, ...): each becomes
# train/<wnid>/, in one pass over the archive, with progress and an ETA.
unpack_imagenet_train() {
    python3 - "$1" "$2" <<'EOF'
import os, sys, tarfile, time
archive, out = sys.argv[1], sys.argv[2]
total, t0, shown = os.path.getsize(archive), time.time(), 0.0
with open(archive, "rb") as raw, tarfile.open(fileobj=raw, mode="r|") as outer:
    for member in outer:
        if not member.isfile() or not member.name.endswith(".tar"):
            continue
        wnid = os.path.basename(member.name)[:-4]
        dest = os.path.join(out, wnid)
        os.makedirs(dest, exist_ok=True)
        with tarfile.open(fileobj=outer.extractfile(member), mode="r|") as inner:
            for m in inner:
                if m.isfile() and "/" not in m.name and not m.name.startswith("."):
                    with open(os.path.join(dest, m.name), "wb") as f:
                        f.write(inner.extractfile(m).read())
        now = time.time()
        if now - shown >= 5:
            shown, done = now, raw.tell()
            eta = (total - done) / (done / (now - t0)) if done else 0
            print(f"  train: {done / 1e9:.1f} of {total / 1e9:.1f} GB, ETA {eta / 60:.0f} min",
                  flush=True)
EOF
}

get_imagenet() {
    local dir=$1 train=$2 val=$3 labels=$4 root=$1/imagenet
    [ -n "$train$val" ] || die "imagenet needs --train ILSVRC2012_img_train.tar and/or --val ILSVRC2012_img_val.tar (downloaded after registering at https://image-net.org)"
    [ -z "$train" ] || [ ! -e "$root/train" ] || die "$root/train already exists; remove it to unpack again"
    [ -z "$val" ] || [ ! -e "$root/val" ] || die "$root/val already exists; remove it to unpack again"
    local f
    for f in "$train" "$val" "$labels"; do
        [ -z "$f" ] || [ -r "$f" ] || die "$f: cannot read"
    done
    [ -z "$train" ] || { note "checking $train"; verify_user "$train" ILSVRC2012_img_train.tar; }
    [ -z "$val" ] || { note "checking $val"; verify_user "$val" ILSVRC2012_img_val.tar; }
    mkdir -p "$root"
    make_stage "$root"
    if [ -n "$train" ]; then
        note "unpacking $train into $root/train"
        mkdir "$STAGE/train"
        unpack_imagenet_train "$train" "$STAGE/train"
        mv "$STAGE/train" "$root/train"
    fi
    if [ -n "$val" ]; then
        note "unpacking $val into $root/val"
        mkdir "$STAGE/val"
        tar -xf "$val" -C "$STAGE/val"
        mv "$STAGE/val" "$root/val"
    fi
    if [ -n "$labels" ]; then
        local name=val_labels.txt
        head -c 9 "$labels" | grep -q '^ImageId,' && name=LOC_val_solution.csv
        cp "$labels" "$root/$name"
        note "val labels: $root/$name"
    elif [ -n "$val" ]; then
        note "val/ is flat: give it labels (--labels LOC_val_solution.csv, or \"file label\" lines) before testing on it"
    fi
    note "done: $root"
}

# The user's own archive is checked where it lies (ImageNet's are too large to copy); a
# mismatch is reported without deleting the user's file.
verify_user() {
    local want=${MD5[$2]:-} got
    got=$(md5sum "$1" | cut -d' ' -f1)
    [ "$got" = "$want" ] || die "$1: checksum mismatch: MD5 $got, expected $want for $2; nothing was unpacked"
}

[ $# -ge 1 ] || { usage >&2; exit 2; }
name=$1
shift
dir=datasets
if [ $# -gt 0 ] && [ "${1#--}" = "$1" ]; then
    dir=$1
    shift
fi
archive="" train="" val="" labels=""
while [ $# -gt 0 ]; do
    case $1 in
        --archive|--train|--val|--labels)
            [ $# -ge 2 ] || die "$1 needs a file"
            case $1 in
                --archive) archive=$2 ;;
                --train) train=$2 ;;
                --val) val=$2 ;;
                --labels) labels=$2 ;;
            esac
            shift 2 ;;
        -h|--help) usage; exit 0 ;;
        *) die "unknown option '$1' (see $PROG --help)" ;;
    esac
done
case $name in
    -h|--help) usage; exit 0 ;;
    cifar10) get_cifar cifar-10-binary.tar.gz cifar-10-batches-bin "$dir" ;;
    cifar100) get_cifar cifar-100-binary.tar.gz cifar-100-binary "$dir" ;;
    mnist) get_idx "" mnist "$dir" "$MNIST_URLS" ;;
    fashion_mnist) get_idx fashion/ fashion-mnist "$dir" "$FASHION_URL" ;;
    tiny_imagenet) get_tiny "$dir" "$archive" ;;
    imagenet) get_imagenet "$dir" "$train" "$val" "$labels" ;;
    *) die "unknown dataset '$name' (cifar10, cifar100, mnist, fashion_mnist, tiny_imagenet or imagenet)" ;;
esac
