#!/usr/bin/env bash
# Installs ONNX Runtime for node (onnxruntime-node from npm, CPU binaries included) where the
# test tests/deploy/ort_test.js looks for it: $QTRAIN_ORT_DIR, else ~/.cache/qtrain/onnxruntime.
# Not part of the repository (about 300 MB). Installs Debian's nodejs and npm when node is
# missing. --ignore-scripts: the package's install script only fetches optional GPU parts.
# Takes about 30 s the first time; does nothing when the pinned version is there.
set -euo pipefail
version=1.31.1
dir="${QTRAIN_ORT_DIR:-${XDG_CACHE_HOME:-$(cd ~ && pwd)/.cache}/qtrain/onnxruntime}"
if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
    sudo=""
    [ "$(id -u)" -eq 0 ] || sudo="sudo"
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y --no-install-recommends nodejs npm
fi
installed="$dir/node_modules/onnxruntime-node/package.json"
if [ -f "$installed" ] && grep -q "\"version\": \"$version\"" "$installed"; then
    exit 0
fi
mkdir -p "$dir"
npm install --prefix "$dir" --ignore-scripts --no-audit --no-fund --no-save \
    "onnxruntime-node@$version" >/dev/null
echo "onnxruntime-node $version installed in $dir"
