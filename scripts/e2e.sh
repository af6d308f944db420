#!/usr/bin/env bash
# End-to-end test of quota-proxy with real clients against a real registry.
#
#   scripts/e2e.sh
#
# Starts docker-registry and the proxy jar on free loopback ports, then drives
# skopeo, podman, docker and curl through the proxy and checks that everything
# read back is byte-identical to what was pushed. The docker steps run a private
# dockerd (vfs storage, state in the temp dir); where dockerd is not installed
# they are skipped, unless REQUIRE_TEST_TOOLS=1 (as .ci/run sets).
#
# Environment:
#   E2E_DIRECT=1  no proxy: run every step straight against the registry
#                 (checks the test itself, e.g. before the jar exists)
#   KEEP_TMP=1    keep the temp dir with logs, layouts and podman storage
#   QP_JAR, JAVA_OPTS, QP_DOCKER, REQUIRE_TEST_TOOLS  see scripts/lib/common.sh
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source-path=SCRIPTDIR source=lib/common.sh
source "$HERE/lib/common.sh"

MANIFEST_ACCEPT='application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.v2+json'
TARGET_PORT="" TARGET_HOST="" TARGET_URL=""
LAYOUT="" SRC_A="" SRC_B=""
DOCKER_OK=0

# ---------------------------------------------------------------- reading back

# blob_sha256 REPO DIGEST: GET the blob and print the sha256 of what came back.
blob_sha256() {
  local sum
  sum=$(curl -sSf "$TARGET_URL/v2/$1/blobs/$2" | sha256sum) || return 1
  echo "sha256:${sum%% *}"
}

# ---------------------------------------------------------------- checks

# verify_remote REPO REF LAYOUT TAG [layers-only]: the manifest and every blob
# read back through the target equal those of LAYOUT:TAG. With layers-only the
# manifest itself may differ (a client may re-serialise it) but config and
# layer digests must not.
verify_remote() {
  local repo=$1 ref=$2 layout=$3 tag=$4 mode=${5:-exact}
  local want_digest want_manifest code got_digest
  want_digest=$(layout_digest "$layout" "$tag")
  want_manifest=$(layout_blob "$layout" "$want_digest")

  code=$(http GET "$TARGET_URL/v2/$repo/manifests/$ref" -H "Accept: $MANIFEST_ACCEPT")
  [[ "$code" == 200 ]] || { fail "GET manifest $repo:$ref: status $code"; return; }
  got_digest=$(sha256_of "$QP_TMP/http.body")
  if [[ "$mode" == exact ]]; then
    check_eq "$repo:$ref manifest digest read back" "$want_digest" "$got_digest"
  else
    log "$repo:$ref manifest digest $got_digest (source $want_digest)"
  fi
  cp "$QP_TMP/http.body" "$QP_TMP/remote-manifest.json"
  check_eq "$repo:$ref config+layer digests match the source" \
    "$(manifest_blobs "$want_manifest" | tr '\n' ' ')" \
    "$(manifest_blobs "$QP_TMP/remote-manifest.json" | tr '\n' ' ')"
  check_blobs_read_back "$repo" "$ref" "$QP_TMP/remote-manifest.json"
}

# check_blobs_read_back REPO REF MANIFEST_FILE: every blob of the manifest reads back
# through the target with its digest.
check_blobs_read_back() {
  local repo=$1 ref=$2 d bad=0
  while read -r d; do
    [[ "$(blob_sha256 "$repo" "$d")" == "$d" ]] || { bad=1; log "blob $d read back wrong"; }
  done < <(manifest_blobs "$3")
  if ((bad)); then fail "$repo:$ref blobs read back"; else pass "$repo:$ref every blob reads back with its digest"; fi
}

# verify_pulled_layout SRC_LAYOUT SRC_TAG DST_LAYOUT DST_TAG: a skopeo pull
# produced the same manifest digest and byte-identical blobs.
verify_pulled_layout() {
  local src=$1 stag=$2 dst=$3 dtag=$4 want d bad=0
  want=$(layout_digest "$src" "$stag")
  check_eq "pulled layout $dtag has the pushed manifest digest" "$want" "$(layout_digest "$dst" "$dtag")"
  while read -r d; do
    if ! cmp -s "$(layout_blob "$src" "$d")" "$(layout_blob "$dst" "$d")"; then
      bad=1
      log "blob $d differs or is missing in $dst"
    elif [[ "$(sha256_of "$(layout_blob "$dst" "$d")")" != "$d" ]]; then
      bad=1
      log "blob $d in $dst does not hash to its name"
    fi
  done < <(manifest_blobs "$(layout_blob "$src" "$want")")
  if ((bad)); then fail "pulled blobs of $dtag"; else pass "pulled blobs of $dtag are byte-identical to the pushed ones"; fi
}

# ---------------------------------------------------------------- steps

e2e_setup() {
  need curl jq skopeo podman umoci docker-registry sha256sum cmp gzip
  qp_init e2e
  step "start registry${E2E_DIRECT:+ (E2E_DIRECT=1: no proxy)}"
  start_registry
  if [[ "${E2E_DIRECT:-0}" == 1 ]]; then
    TARGET_PORT=$REGISTRY_PORT
  else
    step "start proxy"
    free_admin_port
    start_proxy proxy.log --admin.port "$ADMIN_PORT"
    TARGET_PORT=$PROXY_PORT
  fi
  TARGET_HOST=127.0.0.1:$TARGET_PORT
  TARGET_URL=http://$TARGET_HOST
  : >"$QP_TMP/locations"
  HTTP_LOCATIONS=$QP_TMP/locations
  log "target   $TARGET_URL"
  step "start a docker daemon"
  if start_dockerd; then DOCKER_OK=1; fi
}

e2e_build_images() {
  step "build test images (OCI layout, random layers)"
  LAYOUT=$QP_TMP/images
  SRC_A=$("$HERE/make-test-image.sh" "$LAYOUT" a 2 1024 | tail -n 1)
  # B = A plus one layer, so B shares A's layers (cross-repo mounts possible).
  SRC_B=$("$HERE/make-test-image.sh" "$LAYOUT" b 1 512 a | tail -n 1)
  log "image a $SRC_A"
  log "image b $SRC_B"
  [[ "$SRC_A" == sha256:* && "$SRC_B" == sha256:* ]] || die "make-test-image.sh failed"
}

skopeo_push_pull() {
  local repo=$1 tag=$2 raw_digest
  step "skopeo push oci:$tag -> $TARGET_HOST/$repo:v1"
  skopeo copy -q --dest-tls-verify=false "oci:$LAYOUT:$tag" "docker://$TARGET_HOST/$repo:v1" \
    || die "skopeo push of $tag to $repo:v1"
  pass "skopeo push $repo:v1"
  raw_digest=$(skopeo inspect --raw --tls-verify=false "docker://$TARGET_HOST/$repo:v1" | sha256sum) || true
  check_eq "skopeo inspect --raw $repo:v1 sha256" "$(layout_digest "$LAYOUT" "$tag")" "sha256:${raw_digest%% *}"
  verify_remote "$repo" v1 "$LAYOUT" "$tag"

  step "skopeo pull $TARGET_HOST/$repo:v1 -> fresh OCI layout"
  skopeo copy -q --src-tls-verify=false "docker://$TARGET_HOST/$repo:v1" "oci:$QP_TMP/pulled-$tag:v1" \
    || die "skopeo pull of $repo:v1"
  pass "skopeo pull $repo:v1"
  verify_pulled_layout "$LAYOUT" "$tag" "$QP_TMP/pulled-$tag" v1
}

podman_pull_push() {
  local mark
  step "podman pull $TARGET_HOST/e2e/a:v1, then push it to e2e/podman:v1"
  mkdir -p "$QP_TMP/podman"
  podman_ pull -q --tls-verify=false "$TARGET_HOST/e2e/a:v1" >"$QP_TMP/podman/pull.out" 2>&1 \
    || { cat "$QP_TMP/podman/pull.out"; die "podman pull e2e/a:v1"; }
  pass "podman pull e2e/a:v1"

  mark=$(log_mark)
  # --log-level=debug makes containers/image log each request (method and URL).
  podman_ --log-level=debug push --tls-verify=false "$TARGET_HOST/e2e/a:v1" \
    "docker://$TARGET_HOST/e2e/podman:v1" >"$QP_TMP/podman/push.out" 2>&1 \
    || { tail -n 30 "$QP_TMP/podman/push.out"; die "podman push to e2e/podman:v1"; }
  pass "podman push e2e/podman:v1"
  report_podman_requests "$mark"
  if [[ -n "$PROXY_PID" ]]; then
    check "podman tried cross-repo mounts (BLOB_MOUNT) through the proxy" \
      test "$(access_log_since "$mark" 'select(.op == "BLOB_MOUNT")' | wc -l)" -ge 1
  fi
  verify_remote e2e/podman v1 "$LAYOUT" a layers-only
}

# podman_push_upload: push under the name localhost:PORT instead of 127.0.0.1:PORT.
# containers/image keys its blob-info cache by registry name, so it knows no
# copy of the layers there, cannot mount, and must compress the layers from
# its storage and upload them: with unknown size, i.e. as a chunked PATCH.
podman_push_upload() {
  local mark digestfile=$QP_TMP/podman/upload.digest
  step "podman push to localhost:$TARGET_PORT/e2e/podman-upload:v1 (no mount possible: real layer uploads)"
  mark=$(log_mark)
  podman_ --log-level=debug push --tls-verify=false --digestfile "$digestfile" \
    "$TARGET_HOST/e2e/a:v1" "docker://localhost:$TARGET_PORT/e2e/podman-upload:v1" \
    >"$QP_TMP/podman/push.out" 2>&1 \
    || { tail -n 30 "$QP_TMP/podman/push.out"; die "podman push to e2e/podman-upload:v1"; }
  pass "podman push e2e/podman-upload:v1"
  report_podman_requests "$mark"
  verify_recompressed e2e/podman-upload v1 "$(cat "$digestfile")" "$LAYOUT" a
  if [[ -n "$PROXY_PID" ]]; then
    check "proxy logged layer-sized UPLOAD_CHUNKs for the podman upload" \
      test "$(access_log_since "$mark" 'select(.op == "UPLOAD_CHUNK" and .bytes_in > 1000000)' | wc -l)" -ge 2
  fi
}

# verify_recompressed REPO REF DIGEST LAYOUT TAG: an image a client recompressed
# on push: its layer digests are new, but the manifest must read back with the
# digest the client reported, the config (holding the uncompressed layer
# digests) must be the source's, and every blob must read back intact.
verify_recompressed() {
  local repo=$1 ref=$2 want=$3 layout=$4 tag=$5 src_manifest code
  src_manifest=$(layout_blob "$layout" "$(layout_digest "$layout" "$tag")")
  code=$(http GET "$TARGET_URL/v2/$repo/manifests/$ref" -H "Accept: $MANIFEST_ACCEPT")
  [[ "$code" == 200 ]] || { fail "GET manifest $repo:$ref: status $code"; return; }
  cp "$QP_TMP/http.body" "$QP_TMP/remote-manifest.json"
  check_eq "$repo:$ref manifest digest is the one podman reported" "$want" "$(sha256_of "$QP_TMP/remote-manifest.json")"
  check_eq "$repo:$ref config is the source's" \
    "$(jq -r '.config.digest' "$src_manifest")" "$(jq -r '.config.digest' "$QP_TMP/remote-manifest.json")"
  check_eq "$repo:$ref layer count" \
    "$(jq '.layers | length' "$src_manifest")" "$(jq '.layers | length' "$QP_TMP/remote-manifest.json")"
  check_blobs_read_back "$repo" "$ref" "$QP_TMP/remote-manifest.json"
}

# What podman sent, from its debug log and (with the proxy) the access log.
report_podman_requests() {
  log "podman push requests (from its debug log):"
  # Keep mount parameters, drop digests, upload ids and _state so requests group.
  grep -oE '(HEAD|GET|POST|PATCH|PUT) http://[^ "]+' "$QP_TMP/podman/push.out" \
    | sed -E 's#http://[^/]+##; s/[?].*(from=[^&]+).*/?mount=<digest>\&\1/; s/[?]_state=.*//' \
    | sed -E 's/%2F/\//g; s/sha256:[0-9a-f]+/<digest>/; s/uploads\/[0-9a-f-]{36}/uploads\/<id>/' \
    | sort | uniq -c | sed 's/^/      /' || true
  [[ -n "$PROXY_PID" ]] || return 0
  log "proxy access log during podman push (op method status bytes_in):"
  access_log_since "$1" '[.op, .method, .status, .bytes_in] | @tsv' -r \
    | sort | uniq -c | sed 's/^/      /'
}

# ---------------------------------------------------------------- docker

# report_requests WHAT MARK: what went through the proxy since MARK, in order, runs of the
# same request folded into one line (count op method status bytes_in).
report_requests() {
  [[ -n "$PROXY_PID" ]] || return 0
  log "proxy access log during $1 (count op method status bytes_in):"
  access_log_since "$2" '[.op, .method, .status, .bytes_in] | @tsv' -r | uniq -c | sed 's/^/      /'
}

# gunzip_sha256 REPO DIGEST: sha256 of the blob as read back, decompressed (a layer's diff id).
gunzip_sha256() {
  local sum
  sum=$(curl -sSf "$TARGET_URL/v2/$1/blobs/$2" | gzip -dc | sha256sum) || return 1
  echo "sha256:${sum%% *}"
}

# verify_docker_push REPO REF DIGEST CONFIG DIFF_IDS: what docker pushed, as the registry
# holds it: the manifest by tag has the digest docker printed and the same bytes through
# the target as straight from the registry, its config is the source image's, and its
# layers (docker compressed them itself) read back intact and decompress to the source's
# diff ids.
verify_docker_push() {
  local repo=$1 ref=$2 digest=$3 config=$4 diff_ids=$5 code d got=()
  code=$(http GET "$TARGET_URL/v2/$repo/manifests/$ref" -H "Accept: $MANIFEST_ACCEPT")
  [[ "$code" == 200 ]] || { fail "GET manifest $repo:$ref: status $code"; return; }
  cp "$QP_TMP/http.body" "$QP_TMP/docker-manifest.json"
  check_eq "$repo:$ref manifest digest = the one docker push printed" "$digest" "$(sha256_of "$QP_TMP/docker-manifest.json")"
  log "$repo:$ref manifest media type $(jq -r .mediaType "$QP_TMP/docker-manifest.json")"
  if [[ -n "$PROXY_PID" ]]; then
    curl -sSf -o "$QP_TMP/docker-manifest.direct" -H "Accept: $MANIFEST_ACCEPT" \
      "$REGISTRY_URL/v2/$repo/manifests/$ref" || true
    check "$repo:$ref manifest: the registry's answer direct and through the proxy agree" \
      cmp -s "$QP_TMP/docker-manifest.json" "$QP_TMP/docker-manifest.direct"
  fi
  check_eq "$repo:$ref config digest = the source image's" "$config" "$(jq -r .config.digest "$QP_TMP/docker-manifest.json")"
  check_blobs_read_back "$repo" "$ref" "$QP_TMP/docker-manifest.json"
  while read -r d; do
    got+=("$(gunzip_sha256 "$repo" "$d" 2>/dev/null || echo "unreadable:$d")")
  done < <(jq -r '.layers[].digest' "$QP_TMP/docker-manifest.json")
  check_eq "$repo:$ref layers decompress to the source's diff ids" "$diff_ids" \
    "$(printf '%s\n' "${got[@]}" | jq -Rsc 'split("\n") | map(select(. != ""))')"
}

# docker_push_pull: load image a into the daemon, docker push it through the target, push
# it again (every layer exists: HEADs only) and to a second repository (cross-repo
# mounts), remove it locally and docker pull it back.
docker_push_pull() {
  ((DOCKER_OK)) || return 0
  local repo=e2e/docker name=$TARGET_HOST/e2e/docker:v1 mounted=$TARGET_HOST/e2e/docker-mount:v1
  local out=$QP_TMP/dk/out src_manifest config diff_ids layers digest mark
  src_manifest=$(layout_blob "$LAYOUT" "$SRC_A")
  config=$(jq -r .config.digest "$src_manifest")
  diff_ids=$(jq -c .rootfs.diff_ids "$(layout_blob "$LAYOUT" "$config")")
  layers=$(jq '.layers | length' "$src_manifest")

  step "docker: load image a into the daemon (skopeo) as $name"
  skopeo_to_docker "oci:$LAYOUT:a" "$name" || die "skopeo copy of image a into the docker daemon"
  check_eq "docker image id = the source's config digest" "$config" "$(docker_ image inspect -f '{{.Id}}' "$name")"

  step "docker push $name"
  mark=$(log_mark)
  docker_ push "$name" >"$out" 2>&1 || { cat "$out"; die "docker push $name"; }
  pass "docker push $repo:v1"
  sed 's/^/      /' "$out"
  report_requests "docker push" "$mark"
  check_eq "docker pushed all $layers layers" "$layers" "$(grep -c ': Pushed$' "$out")"
  digest=$(grep -oE 'digest: sha256:[0-9a-f]{64}' "$out" | cut -d' ' -f2) || true
  [[ -n "$digest" ]] || { fail "docker push printed no manifest digest"; return 0; }
  verify_docker_push "$repo" v1 "$digest" "$config" "$diff_ids"

  step "docker push $name again (the layers exist: HEAD checks only)"
  mark=$(log_mark)
  docker_ push "$name" >"$out" 2>&1 || { cat "$out"; die "second docker push $name"; }
  pass "second docker push $repo:v1"
  report_requests "the second docker push" "$mark"
  check_eq "every layer: 'Layer already exists'" "$layers" "$(grep -c ': Layer already exists$' "$out")"
  check "the second push printed the same digest" grep -q "digest: $digest " "$out"
  if [[ -n "$PROXY_PID" ]]; then
    check_eq "no upload or mount went through the proxy" 0 \
      "$(access_log_since "$mark" 'select(.op | test("UPLOAD|MOUNT"))' | wc -l)"
    check "the layers were checked with HEADs through the proxy" \
      test "$(access_log_since "$mark" 'select(.op == "BLOB_HEAD" and .status == 200)' | wc -l)" -ge "$layers"
  fi

  step "docker push $mounted (the same layers, from e2e/docker: cross-repo mounts)"
  docker_ tag "$name" "$mounted"
  mark=$(log_mark)
  docker_ push "$mounted" >"$out" 2>&1 || { cat "$out"; die "docker push $mounted"; }
  pass "docker push e2e/docker-mount:v1"
  report_requests "docker push to e2e/docker-mount" "$mark"
  check_eq "every layer: 'Mounted from e2e/docker'" "$layers" "$(grep -c ': Mounted from e2e/docker$' "$out")"
  check "the same manifest digest as in e2e/docker" grep -q "digest: $digest " "$out"
  if [[ -n "$PROXY_PID" ]]; then
    check "the proxy logged BLOB_MOUNTs answered 201" \
      test "$(access_log_since "$mark" 'select(.op == "BLOB_MOUNT" and .status == 201)' | wc -l)" -ge "$layers"
  fi

  step "docker: remove the image locally, docker pull $name"
  docker_ rmi "$name" "$mounted" >/dev/null || die "docker rmi"
  if docker_ image inspect "$config" >/dev/null 2>&1; then
    fail "the image is still in the daemon after docker rmi"
  fi
  mark=$(log_mark)
  docker_ pull "$name" >"$out" 2>&1 || { cat "$out"; die "docker pull $name"; }
  pass "docker pull $repo:v1"
  report_requests "docker pull" "$mark"
  check_eq "docker pulled all $layers layers" "$layers" "$(grep -c ': Pull complete$' "$out")"
  check "docker pull printed the pushed digest" grep -q "^Digest: $digest$" "$out"
  check_eq "pulled image id = the source's config digest" "$config" "$(docker_ image inspect -f '{{.Id}}' "$name")"
  check_eq "pulled image diff ids = the source's" "$diff_ids" \
    "$(docker_ image inspect -f '{{json .RootFS.Layers}}' "$name" | jq -c .)"
  check "pulled image's RepoDigests has $repo@$digest" \
    grep -qF "\"$TARGET_HOST/$repo@$digest\"" <(docker_ image inspect -f '{{json .RepoDigests}}' "$name")
}

delete_steps() {
  local layer code
  step "DELETE manifest and blob through the target"
  code=$(http DELETE "$TARGET_URL/v2/e2e/b/manifests/$SRC_B")
  check_eq "DELETE manifest e2e/b@$SRC_B" 202 "$code"
  code=$(http GET "$TARGET_URL/v2/e2e/b/manifests/$SRC_B" -H "Accept: $MANIFEST_ACCEPT")
  check_eq "GET deleted manifest" 404 "$code"
  code=$(http HEAD "$TARGET_URL/v2/e2e/b/manifests/$SRC_B" -H "Accept: $MANIFEST_ACCEPT")
  check_eq "HEAD deleted manifest" 404 "$code"

  # B's top layer is only in e2e/b; A's layers must survive in e2e/a.
  layer=$(jq -r '.layers[-1].digest' "$(layout_blob "$LAYOUT" "$SRC_B")")
  code=$(http DELETE "$TARGET_URL/v2/e2e/b/blobs/$layer")
  check_eq "DELETE blob e2e/b@${layer:0:19}…" 202 "$code"
  code=$(http HEAD "$TARGET_URL/v2/e2e/b/blobs/$layer")
  check_eq "HEAD deleted blob" 404 "$code"
  layer=$(jq -r '.layers[0].digest' "$(layout_blob "$LAYOUT" "$SRC_A")")
  code=$(http HEAD "$TARGET_URL/v2/e2e/a/blobs/$layer")
  check_eq "HEAD shared base layer still in e2e/a" 200 "$code"
}

expect_continue() {
  local file=$QP_TMP/10m.bin digest code verbose=$QP_TMP/expect.verbose
  step "PUT 10 MiB with Expect: 100-continue"
  random_file "$file" $((10 * MIB))
  digest=$(sha256_of "$file")
  start_upload "$TARGET_URL" e2e/c || return 0
  # curl waits --expect100-timeout for the 100 before sending the body anyway
  # and then logs "Done waiting for 100-continue": that means nobody relayed it.
  code=$(http PUT "$(with_digest "$UPLOAD_URL" "$digest")" -v -T "$file" -H 'Expect: 100-continue' \
    --expect100-timeout 3 -H 'Content-Type: application/octet-stream' 2>"$verbose")
  check_eq "PUT with Expect: 100-continue" 201 "$code"
  check "curl sent Expect: 100-continue" grep -qi '^> Expect: 100-continue' "$verbose"
  check "server answered HTTP/1.1 100 Continue" grep -q '^< HTTP/1.1 100 Continue' "$verbose"
  if grep -q 'Done waiting for 100-continue' "$verbose"; then
    fail "curl gave up waiting for 100 Continue (the 100 was not relayed in time)"
  else
    pass "curl did not have to give up waiting for 100 Continue"
  fi
  check_eq "10 MiB blob read back" "$digest" "$(blob_sha256 e2e/c "$digest")"
}

chunked_patch() {
  local file=$QP_TMP/patch.bin digest loc code half=$((3 * 1024 * 1024))
  step "upload in two PATCHes (Content-Length, then chunked) and a final PUT"
  random_file "$file" $((2 * half))
  digest=$(sha256_of "$file")
  start_upload "$TARGET_URL" e2e/c || return 0
  loc=$UPLOAD_URL
  head -c "$half" "$file" >"$QP_TMP/part1"
  tail -c "+$((half + 1))" "$file" >"$QP_TMP/part2"
  code=$(http PATCH "$loc" -H 'Content-Type: application/octet-stream' \
    -H "Content-Range: 0-$((half - 1))" --data-binary "@$QP_TMP/part1")
  check_eq "PATCH with Content-Length" 202 "$code"
  loc=$(absolute_url "$TARGET_URL" "$(header Location)")
  # -T - reads stdin, so curl cannot know the size and sends it chunked.
  code=$(http PATCH "$loc" -H 'Content-Type: application/octet-stream' -T - <"$QP_TMP/part2")
  check_eq "PATCH with Transfer-Encoding: chunked" 202 "$code"
  loc=$(absolute_url "$TARGET_URL" "$(header Location)")
  code=$(http PUT "$(with_digest "$loc" "$digest")" -H 'Content-Length: 0')
  check_eq "PUT to complete the chunked upload" 201 "$code"
  check_eq "chunked-upload blob read back" "$digest" "$(blob_sha256 e2e/c "$digest")"
}

check_locations() {
  local loc bad=0 n=0 authority
  step "every Location header points at the target"
  while read -r loc; do
    [[ -n "$loc" ]] || continue
    n=$((n + 1))
    if [[ "$loc" =~ ^https?://([^/]+) ]]; then
      authority=${BASH_REMATCH[1]}
      [[ "$authority" == "$TARGET_HOST" ]] || { bad=1; log "bad Location: $loc"; }
    elif [[ "$loc" != /* ]]; then
      bad=1
      log "odd Location: $loc"
    fi
  done <"$QP_TMP/locations"
  ((n > 0)) || { fail "no Location headers were collected"; return; }
  if ((bad)); then
    fail "Location headers leak another authority than $TARGET_HOST"
  else
    pass "all $n Location headers are relative or point at $TARGET_HOST"
  fi
}

# Layers of 1 MiB or more pulled through the proxy (the test images' are just
# over) are spliced socket to socket; their digests were checked above.
check_zero_copy() {
  [[ -n "$PROXY_PID" ]] || return 0
  step "zero-copy pulls"
  local spliced big
  spliced=$(metric quota_proxy_spliced_bytes_total)
  big=$(access_log 'select(.op == "BLOB_GET" and .status == 200 and .bytes_out >= 1048576) | .bytes_out' -r | wc -l)
  log "spliced bytes: ${spliced:-none}, blob GETs of 1 MiB or more: $big"
  check "blob GETs of 1 MiB or more went through the proxy" test "$big" -gt 0
  check "their bodies were spliced (quota_proxy_spliced_bytes_total > 0)" test "${spliced:-0}" -gt 0
}

# check_proxy_log: the access log's ops and no 5xx (check_access_log), and the mount attempts.
check_proxy_log() {
  [[ -n "$PROXY_PID" ]] || { log "(E2E_DIRECT=1: no proxy access log to check)"; return 0; }
  local mounts
  check_access_log .op
  mounts=$(access_log 'select(.op == "BLOB_MOUNT") | .status' -r | tr '\n' ' ')
  log "BLOB_MOUNT statuses: ${mounts:-none}"
  check "access log shows at least one BLOB_MOUNT attempt" test -n "$mounts"
}

e2e_main() {
  e2e_setup
  e2e_build_images
  skopeo_push_pull e2e/a a
  podman_pull_push
  podman_push_upload
  docker_push_pull
  skopeo_push_pull e2e/b b
  delete_steps
  expect_continue
  chunked_patch
  check_locations
  check_zero_copy
  check_proxy_log
  summary e2e
}

e2e_main "$@"
