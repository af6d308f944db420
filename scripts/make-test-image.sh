#!/usr/bin/env bash
# Build a throw-away OCI image without a container daemon.
#
#   make-test-image.sh OUT_DIR TAG [LAYERS] [LAYER_KIB] [FROM_TAG]
#
# OUT_DIR   OCI image layout (created if missing; several tags may share it)
# TAG       tag to create in OUT_DIR
# LAYERS    number of layers to add (default 2)
# LAYER_KIB size of the random file in each layer, in KiB (default 1024)
# FROM_TAG  optional tag in OUT_DIR to start from: TAG then shares all of
#           FROM_TAG's layers and adds LAYERS more on top
#
# Every layer holds a file of /dev/urandom content, so each run yields fresh
# layer, config and manifest digests. Prints the new manifest digest.
set -euo pipefail

# shellcheck source-path=SCRIPTDIR source=lib/layout.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/layout.sh"

usage() { sed -n '2,15s/^# \{0,1\}//p' "$0" >&2; exit 2; }

(($# >= 2 && $# <= 5)) || usage
out=$1 tag=$2 layers=${3:-2} kib=${4:-1024} from=${5:-}
[[ "$layers" =~ ^[0-9]+$ && "$kib" =~ ^[0-9]+$ ]] || usage
command -v umoci >/dev/null || { echo "umoci not found" >&2; exit 1; }

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

if [[ ! -f "$out/index.json" ]]; then
  [[ -z "$from" ]] || { echo "no OCI layout at $out to take $from from" >&2; exit 1; }
  umoci init --layout "$out"
fi

# With FROM_TAG the first insert reads FROM_TAG and writes TAG; later inserts
# (and the no-FROM_TAG case, after 'umoci new') modify TAG in place.
if [[ -n "$from" ]]; then
  src=$from
else
  umoci new --image "$out:$tag"
  src=$tag
fi

for ((i = 1; i <= layers; i++)); do
  file=$work/$tag-layer-$i.bin
  head -c "$((kib * 1024))" /dev/urandom >"$file"
  umoci insert --image "$out:$src" --tag "$tag" \
    --history.created_by "make-test-image.sh layer $i" \
    "$file" "/$tag-layer-$i-$RANDOM.bin"
  rm -f "$file"
  src=$tag
done

# Drop the intermediate manifests and configs left by the inserts above.
umoci gc --layout "$out"

# A tag with no layers at all (LAYERS=0 and no FROM_TAG) is still valid OCI.
layout_digest "$out" "$tag"
