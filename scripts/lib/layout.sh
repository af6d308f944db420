# shellcheck shell=bash
# Helpers for the OCI image layouts that make-test-image.sh writes (the test images the
# scripts push). Sourced by lib/common.sh and by make-test-image.sh; needs only jq.
# Each takes the layout's directory: e2e.sh compares two layouts (pushed and pulled).

# layout_digest LAYOUT TAG: the manifest digest of TAG in the OCI layout LAYOUT.
layout_digest() {
  jq -r --arg t "$2" \
    '.manifests[] | select(.annotations["org.opencontainers.image.ref.name"] == $t) | .digest' \
    "$1/index.json"
}

# layout_blob LAYOUT DIGEST: path of a blob in an OCI layout.
layout_blob() { echo "$1/blobs/${2%%:*}/${2#*:}"; }

# manifest_blobs MANIFEST_FILE: config digest, then layer digests, one a line.
manifest_blobs() { jq -r '.config.digest, .layers[].digest' "$1"; }

# image_size LAYOUT TAG: bytes of the manifest, its config and its layers, as stored in
# the layout (the sizes of the files, not the sizes the manifest claims).
image_size() {
  local manifest d total
  manifest=$(layout_blob "$1" "$(layout_digest "$1" "$2")")
  total=$(stat -c %s "$manifest")
  while read -r d; do
    total=$((total + $(stat -c %s "$(layout_blob "$1" "$d")")))
  done < <(manifest_blobs "$manifest")
  echo "$total"
}
