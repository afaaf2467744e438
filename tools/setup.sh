#!/usr/bin/env bash
# Installs qtrain's Debian packages (when any is missing) and builds into ./build.
# Run as root on Debian 12 (or with sudo available). Safe to run again: it only does what is missing.
set -euo pipefail
cd "$(dirname "$0")/.."

packages=(gcc libc6-dev meson ninja-build pkg-config libopenblas-dev libpng-dev zlib1g-dev
          libjpeg62-turbo-dev libcmocka-dev dataset-fashion-mnist python3 libprotobuf-c-dev
          protobuf-c-compiler python3-onnx python3-numpy libtcmalloc-minimal4
          libopenmpi-dev openmpi-bin)
missing=()
for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
    sudo=""
    [ "$(id -u)" -eq 0 ] || sudo="sudo"
    export DEBIAN_FRONTEND=noninteractive
    $sudo apt-get update
    $sudo apt-get install -y --no-install-recommends "${missing[@]}"
fi

[ -f build/build.ninja ] || meson setup build
ninja -C build
