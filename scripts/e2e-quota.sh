#!/usr/bin/env bash
# End-to-end test of quota enforcement with real clients, a real registry and a
# real Redis.
#
#   scripts/e2e-quota.sh
#
# Starts docker-registry, a private redis-server (so the checks can read the
# proxy's usage counters with redis-cli) and the proxy with scope limits from a
# YAML file, then drives skopeo, podman, docker and curl through the proxy:
#
#   q   storage-hard a bit above one small test image (measured at run time)
#   dk  the same, for the docker pushes (a private dockerd, vfs storage, state in
#       the temp dir; skipped where dockerd is not installed, unless
#       REQUIRE_TEST_TOOLS=1, as .ci/run sets)
#   eg  egress 1 MiB per 1 h window
#   cnt repositories-hard 2 (a count limit: the third repository is refused)
#
# and checks what was charged (Redis), what the clients saw (status, message),
# what the registry received (its storage directory) and what the proxy logged.
# A local webhook receiver (scripts/lib/webhook-receiver.py, answering its first
# request 503) takes scope q's quota events: the refused skopeo push must reach
# it as a QUOTA_EXCEEDED with a valid signature, retried once, and show in the
# admin API's delivery log.
#
# Environment:
#   KEEP_TMP=1         keep the temp dir with logs, layouts and podman storage
#   QP_JAR, JAVA_OPTS, QP_DOCKER, REQUIRE_TEST_TOOLS  see scripts/lib/common.sh
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source-path=SCRIPTDIR source=lib/common.sh
source "$HERE/lib/common.sh"

LAYOUT=""
SMALL="" SMALL_SIZE=0 LIMIT=0 LIMIT_TEXT=""
EGRESS_LIMIT=$MIB
DOCKER_OK=0
HOOK_LOG="" HOOK_SECRET=e2e-quota-webhook-secret-0123456789
ADMIN_TOKEN=e2e-quota-admin-token-0123456789

# ---------------------------------------------------------------- helpers

# wait_reserved_zero NAMESPACE: give a release issued after the response up to 5 s.
wait_reserved_zero() {
  local i
  for ((i = 0; i < 50; i++)); do
    [[ "$(reserved_total "$1")" == 0 ]] && return 0
    sleep 0.1
  done
  return 1
}

# jq_quiet JQ_ARGS...: jq -e without its output, for check.
jq_quiet() { jq -e "$@" >/dev/null; }

# body_matches JQ_EXPR: true if the last response body satisfies JQ_EXPR.
body_matches() { [[ -s "$QP_TMP/http.body" ]] && jq -e "$1" "$QP_TMP/http.body" >/dev/null 2>&1; }

# upload_bytes REPO: bytes the registry holds in REPO's unfinished upload sessions.
upload_bytes() {
  local dir=$REGISTRY_DATA/docker/registry/v2/repositories/$1/_uploads
  [[ -d "$dir" ]] || { echo 0; return; }
  find "$dir" -name data -type f -printf '%s\n' | awk '{ s += $1 } END { print s + 0 }'
}

# registry_has_blob REPO DIGEST: HEAD straight on the registry, not through the proxy.
registry_has_blob() {
  [[ "$(curl -s -o /dev/null -w '%{http_code}' --head "$REGISTRY_URL/v2/$1/blobs/$2")" == 200 ]]
}

# registry_layers REPO: digests of the blobs linked into REPO in the registry's storage
# (what a HEAD on the registry finds there), one a line.
registry_layers() {
  local dir=$REGISTRY_DATA/docker/registry/v2/repositories/$1/_layers/sha256
  [[ -d "$dir" ]] || return 0
  find "$dir" -name link -type f -exec cat {} \; -exec echo \;
}

# registry_blob_file DIGEST: where the registry stores the blob's bytes.
registry_blob_file() {
  local hex=${1#sha256:}
  echo "$REGISTRY_DATA/docker/registry/v2/blobs/sha256/${hex:0:2}/$hex/data"
}

# mib BYTES: the way the proxy prints sizes between 1 MiB and 1 GiB ("1.5 MiB").
mib() { awk -v b="$1" 'BEGIN { printf "%.1f MiB", b / 1048576 }'; }

# ---------------------------------------------------------------- steps

e2e_quota_setup() {
  need curl jq skopeo podman umoci docker-registry redis-server redis-cli find gzip python3
  qp_init e2e-quota
  step "build test images (OCI layout, random layers)"
  LAYOUT=$QP_TMP/images
  SMALL=$("$HERE/make-test-image.sh" "$LAYOUT" small 2 384 | tail -n 1)
  "$HERE/make-test-image.sh" "$LAYOUT" big 1 2048 >/dev/null
  "$HERE/make-test-image.sh" "$LAYOUT" pod 1 3072 >/dev/null
  SMALL_SIZE=$(image_size "$LAYOUT" small)
  # A bit above one small image, in whole 512 KiB so the proxy prints it exactly.
  LIMIT=$(((SMALL_SIZE + 512 * KIB + 512 * KIB - 1) / (512 * KIB) * (512 * KIB)))
  LIMIT_TEXT=$(mib "$LIMIT")
  log "image small $SMALL: $SMALL_SIZE bytes (manifest + config + 2 layers)"
  log "image big: $(image_size "$LAYOUT" big) bytes, image pod: $(image_size "$LAYOUT" pod) bytes"
  log "limit of scope q: $LIMIT bytes ($LIMIT_TEXT)"

  free_port
  HOOK_PORT=$FREE_PORT
  HOOK_LOG=$QP_TMP/webhooks.jsonl
  cat >"$QP_TMP/quota.yml" <<YAML
quota:
  # Small increments, so the chunked upload below is cut off after several of them.
  chunk-reservation: 256KiB
  scopes:
    q: {storage-hard: $LIMIT}
    dk: {storage-hard: $LIMIT}
    eg: {egress: $EGRESS_LIMIT, egress-window: 1h}
    cnt: {repositories-hard: 2}
events:
  # Short waits, so that the receiver's first 503 is retried within the run.
  poll-interval: 200ms
  retry-first: 500ms
  webhooks:
    receiver: {scope-prefix: q, url: "http://127.0.0.1:$HOOK_PORT/quota-events", secret: $HOOK_SECRET, events: QUOTA_EXCEEDED}
YAML

  step "start registry, redis, a webhook receiver and proxy (limits from $QP_TMP/quota.yml)"
  start_registry
  start_redis
  python3 "$HERE/lib/webhook-receiver.py" serve "$HOOK_PORT" "$HOOK_LOG" 1 &
  QP_PIDS+=("$!")
  log "webhook receiver http://127.0.0.1:$HOOK_PORT (pid $!, log $HOOK_LOG, answers its first request 503)"
  free_admin_port
  start_proxy proxy.log --config "$QP_TMP/quota.yml" --redis.url "$REDIS_URL" --admin.port "$ADMIN_PORT" \
    --admin.token "$ADMIN_TOKEN"
  check_eq "the proxy wrote q's hard limit to Redis" "$LIMIT" "$(rcli HGET 'qp:{q}:limits' 'q|hard')"
  step "start a docker daemon"
  if start_dockerd; then DOCKER_OK=1; fi
}

push_under_limit() {
  local dest=127.0.0.1:$PROXY_PORT/q/app
  step "skopeo push small -> q/app:v1 (under the limit)"
  skopeo copy -q --dest-tls-verify=false "oci:$LAYOUT:small" "docker://$dest:v1" \
    || die "skopeo push of small to q/app:v1"
  pass "skopeo push q/app:v1"
  check_eq "usage of q/app = manifest + config + layers of the image" "$SMALL_SIZE" "$(used q/app)"
  check_eq "usage of q = the same" "$SMALL_SIZE" "$(used q)"
  check "nothing left reserved in q" wait_reserved_zero q

  step "push the same image again to q/app:v1 and as q/app:v2"
  skopeo copy -q --dest-tls-verify=false "oci:$LAYOUT:small" "docker://$dest:v1" \
    || die "second skopeo push to q/app:v1"
  skopeo copy -q --dest-tls-verify=false "oci:$LAYOUT:small" "docker://$dest:v2" \
    || die "skopeo push to q/app:v2"
  pass "skopeo pushes q/app:v1 again and q/app:v2"
  check_eq "usage of q/app unchanged" "$SMALL_SIZE" "$(used q/app)"
  check_eq "usage of q unchanged" "$SMALL_SIZE" "$(used q)"
}

push_over_limit() {
  local out=$QP_TMP/skopeo-big.out layer headroom before uploaded
  layer=$(jq -r '.layers[0].digest' "$(layout_blob "$LAYOUT" "$(layout_digest "$LAYOUT" big)")")
  before=$(used q)
  headroom=$((LIMIT - before))
  step "skopeo push big -> q/app:big (its 2 MiB layer is over the $headroom bytes left)"
  if skopeo copy --dest-tls-verify=false "oci:$LAYOUT:big" \
    "docker://127.0.0.1:$PROXY_PORT/q/app:big" >"$out" 2>&1; then
    fail "skopeo push over the limit succeeded"
  else
    pass "skopeo push over the limit failed"
  fi
  log "skopeo: $(grep -o 'denied: [^"]*' "$out" | head -n 1)"
  check "skopeo output says denied" grep -q 'denied' "$out"
  check "skopeo output names the scope and the limit ('to q would raise ... over its $LIMIT_TEXT limit')" \
    grep -q "quota exceeded: pushing .* to q would raise its storage to .*, over its $LIMIT_TEXT limit" "$out"
  uploaded=$(upload_bytes q/app)
  log "bytes in the registry's unfinished q/app uploads: $uploaded"
  check "the registry received no more of the rejected layer than the $headroom bytes left" \
    test "$uploaded" -le "$headroom"
  if registry_has_blob q/app "$layer"; then
    fail "the rejected layer ${layer:0:19}… is in the registry"
  else
    pass "the rejected layer is not in the registry (HEAD on the registry: 404)"
  fi
  check "usage of q ($(used q)) stays within its limit ($LIMIT)" test "$(used q)" -le "$LIMIT"
  check_eq "usage of q unchanged by the refused push" "$before" "$(used q)"
  check "nothing left reserved in q" wait_reserved_zero q
}

# webhook_for_refused_push: the skopeo push refused above reaches the local receiver as a
# QUOTA_EXCEEDED about q, signed with the endpoint's secret, after one 503 and a retry; the
# admin API's delivery log shows it delivered.
webhook_for_refused_push() {
  local body="" i log
  step "webhook: the refused push reaches the local receiver as QUOTA_EXCEEDED"
  for ((i = 0; i < 150; i++)); do
    body=$(python3 "$HERE/lib/webhook-receiver.py" check "$HOOK_LOG" "$HOOK_SECRET" QUOTA_EXCEEDED q) && break
    body=""
    sleep 0.1
  done
  check "the receiver got a QUOTA_EXCEEDED about q with a valid X-Quota-Signature" test -n "$body"
  [[ -n "$body" ]] || { [[ -f "$HOOK_LOG" ]] && sed 's/^/      /' "$HOOK_LOG"; return 0; }
  log "body: $body"
  check "its data names the repository, the limit and the bytes refused" jq_quiet \
    ".data.repository == \"q/app\" and .data.limit == $LIMIT and .data.requested > 0 and .data.resource == \"storage_bytes\"" \
    <<<"$body"
  check_eq "the receiver's first request was answered 503 (then retried)" 503 "$(head -n 1 "$HOOK_LOG" | jq -r .answered)"
  log=$(admin_api GET "/webhooks/deliveries?type=QUOTA_EXCEEDED&scope=q&state=delivered")
  log "delivery log: $(jq -c '.deliveries[0] | {event_id, endpoint, state, attempts, attempt_log: [.attempt_log[] | {status, error}]}' <<<"$log")"
  # shellcheck disable=SC2016  # $id is jq's, not the shell's
  check "the admin API's delivery log has it delivered to endpoint receiver" jq_quiet \
    --arg id "$(jq -r .id <<<"$body")" \
    '[.deliveries[] | select(.event_id == $id and .endpoint == "receiver" and .state == "delivered")] | length == 1' <<<"$log"
}

podman_chunked_over_limit() {
  local out=$QP_TMP/podman/push.out mark before headroom uploaded refused
  before=$(used q)
  headroom=$((LIMIT - before))
  step "podman push pod -> localhost:$PROXY_PORT/q/podman:v1 (chunked 3 MiB layer, $headroom bytes left)"
  mkdir -p "$QP_TMP/podman"
  skopeo_to_podman "oci:$LAYOUT:pod" localhost/qtest/pod:v1 || die "skopeo copy of pod into podman's storage"
  mark=$(log_mark)
  # The name localhost:PORT is one podman has never pulled from, so it cannot
  # mount and must upload the layer, recompressed, with unknown length (chunked PATCH).
  if podman_ --log-level=debug push --tls-verify=false localhost/qtest/pod:v1 \
    "docker://localhost:$PROXY_PORT/q/podman:v1" >"$out" 2>&1; then
    fail "podman push over the limit succeeded"
  else
    pass "podman push over the limit failed"
  fi
  log "podman: $(grep -o 'denied: [^"]*' "$out" | tail -n 1)"
  check "podman output says denied" grep -q 'denied' "$out"
  check "podman output names the scope, the limit and how much of the upload had arrived" \
    grep -q "q is at its $LIMIT_TEXT storage limit; this upload was cut off after" "$out"
  log "proxy access log during the push (op status bytes_in outcome):"
  access_log_since "$mark" '[.op, .status, .bytes_in, .outcome] | @tsv' -r | sed 's/^/      /'
  refused=$(access_log_since "$mark" 'select(.op == "UPLOAD_CHUNK" and .status == 403) | .bytes_in' -r | tail -n 1)
  check "access log shows the UPLOAD_CHUNK cut off with 403" test -n "$refused"
  # Bytes came in before the 403: the body streamed (chunked), it was not
  # refused up front for its Content-Length.
  check "the refused UPLOAD_CHUNK streamed part of its body first (bytes_in ${refused:-none})" \
    test "${refused:-0}" -gt 0
  uploaded=$(upload_bytes q/podman)
  log "bytes in the registry's unfinished q/podman uploads: $uploaded"
  check "the registry received no more than the $headroom bytes left" test "$uploaded" -le "$headroom"
  check "usage of q ($(used q)) stays within its limit ($LIMIT)" test "$(used q)" -le "$LIMIT"
  check "reserved bytes of q return to 0" wait_reserved_zero q
}

# docker_over_limit: docker push of image big (one 2 MiB layer) to dk/app, whose limit is
# a bit above image small: refused. Docker compresses the layer itself and sends it in
# one chunked PATCH, so the proxy cuts the stream off once an increment does not fit.
docker_over_limit() {
  ((DOCKER_OK)) || return 0
  local name=127.0.0.1:$PROXY_PORT/dk/app:big out=$QP_TMP/dk/push-big.out mark before headroom
  local diff_id refused uploaded d line bad=0 start secs
  diff_id=$(jq -r '.rootfs.diff_ids[0]' \
    "$(layout_blob "$LAYOUT" "$(jq -r .config.digest "$(layout_blob "$LAYOUT" "$(layout_digest "$LAYOUT" big)")")")")
  before=$(used dk)
  headroom=$((LIMIT - before))
  step "docker push big -> dk/app:big (a 2 MiB layer, $headroom bytes left in dk)"
  skopeo_to_docker "oci:$LAYOUT:big" "$name" || die "skopeo copy of big into the docker daemon"
  mark=$(log_mark)
  start=$SECONDS
  if docker_ push "$name" >"$out" 2>&1; then
    fail "docker push over the limit succeeded"
  else
    pass "docker push over the limit failed"
  fi
  secs=$((SECONDS - start))
  log "docker push output ($secs s):"
  sed 's/^/      /' "$out"
  log "proxy access log during the push (op method status bytes_in outcome):"
  access_log_since "$mark" '[.op, .method, .status, .bytes_in, .outcome] | @tsv' -r | sed 's/^/      /'
  line=$(grep -m 1 'denied' "$out") || line=""
  check "docker output says denied" test -n "$line"
  check "docker's denied line says quota exceeded" grep -q 'quota exceeded' <<<"$line"
  check "docker's denied line names the scope dk" grep -qw 'dk' <<<"$line"
  # DENIED is an error docker does not retry (it would wait 5 s, 10 s, ... between tries).
  check "docker gave up at once, without retrying ($secs s)" test "$secs" -lt 5
  refused=$(access_log_since "$mark" 'select(.op == "UPLOAD_CHUNK" and .status == 403)' | wc -l)
  check_eq "access log: one UPLOAD_CHUNK refused with 403" 1 "$refused"
  uploaded=$(upload_bytes dk/app)
  log "bytes in the registry's unfinished dk/app uploads: $uploaded"
  check "the registry received no more of the refused layer than the $headroom bytes left" \
    test "$uploaded" -le "$headroom"
  # Docker compressed the layer itself, so its digest is unknown: look for any blob linked
  # into dk/app that decompresses to the layer's diff id.
  while read -r d; do
    [[ -n "$d" ]] || continue
    if [[ "$(gzip -dc <"$(registry_blob_file "$d")" 2>/dev/null | sha256sum | cut -d' ' -f1)" == "${diff_id#sha256:}" ]]; then
      bad=1
      log "dk/app holds $d, the refused layer"
    fi
  done < <(registry_layers dk/app)
  if ((bad)); then fail "the refused layer is in the registry"; else pass "the refused layer is not in the registry (no blob linked into dk/app has its diff id)"; fi
  check "usage of dk ($(used dk)) stays within its limit ($LIMIT)" test "$(used dk)" -le "$LIMIT"
  check_eq "usage of dk unchanged by the refused push" "$before" "$(used dk)"
  check "nothing left reserved in dk" wait_reserved_zero dk
}

# docker_under_limit: docker push of image small to dk/app fits; dk is charged what the
# registry now holds for it (docker's own compression of the layers).
docker_under_limit() {
  ((DOCKER_OK)) || return 0
  local name=127.0.0.1:$PROXY_PORT/dk/app:small out=$QP_TMP/dk/push-small.out before size
  before=$(used dk/app)
  step "docker push small -> dk/app:small (fits)"
  skopeo_to_docker "oci:$LAYOUT:small" "$name" || die "skopeo copy of small into the docker daemon"
  docker_ push "$name" >"$out" 2>&1 || { cat "$out"; die "docker push of small to dk/app"; }
  pass "docker push dk/app:small"
  # The manifest's bytes plus the sizes it gives for config and layers, read straight
  # from the registry.
  curl -sSf -o "$QP_TMP/dk/small.manifest" \
    -H 'Accept: application/vnd.docker.distribution.manifest.v2+json' "$REGISTRY_URL/v2/dk/app/manifests/small" \
    || die "GET dk/app:small from the registry"
  size=$(($(stat -c %s "$QP_TMP/dk/small.manifest") + $(jq '.config.size + ([.layers[].size] | add)' "$QP_TMP/dk/small.manifest")))
  log "dk/app:small as docker pushed it: $size bytes (the OCI layout's: $SMALL_SIZE)"
  check_eq "usage of dk/app grew by the image docker pushed" "$size" "$(($(used dk/app) - before))"
  check "usage of dk ($(used dk)) stays within its limit ($LIMIT)" test "$(used dk)" -le "$LIMIT"
  check "nothing left reserved in dk" wait_reserved_zero dk
}

expect_continue_over_limit() {
  local file=$QP_TMP/2m.bin verbose=$QP_TMP/expect.verbose digest mark out code sent
  step "PUT 2 MiB with Expect: 100-continue over the limit"
  random_file "$file" $((2 * MIB))
  digest=$(sha256_of "$file")
  start_upload "$PROXY_URL" q/app || return 0
  mark=$(log_mark)
  # With no answer to the Expect within --expect100-timeout, curl sends the body anyway.
  out=$(curl -v -sS -T "$file" -H 'Expect: 100-continue' --expect100-timeout 5 \
    -H 'Content-Type: application/octet-stream' -o "$QP_TMP/http.body" \
    -w '%{http_code} %{size_upload}' "$(with_digest "$UPLOAD_URL" "$digest")" 2>"$verbose") || true
  read -r code sent <<<"$out"
  check_eq "PUT over the limit with Expect: 100-continue" 403 "$code"
  check "curl sent Expect: 100-continue" grep -qi '^> Expect: 100-continue' "$verbose"
  if grep -q '^< HTTP/1.1 100 Continue' "$verbose"; then
    fail "the proxy answered 100 Continue to a PUT it refuses"
  else
    pass "no 100 Continue in curl -v"
  fi
  check_eq "curl uploaded no body bytes" 0 "$sent"
  # The access log is written asynchronously, a moment after the answer: wait for its line.
  local logged="" i
  for ((i = 0; i < 50; i++)); do
    logged=$(access_log_since "$mark" 'select(.op == "UPLOAD_COMPLETE") | "\(.status) \(.bytes_in)"' -r | tail -n 1)
    [[ -n "$logged" ]] && break
    sleep 0.1
  done
  check_eq "access log: UPLOAD_COMPLETE status and bytes_in" "403 0" "$logged"
  check "the 403 body is DENIED for scope q, with its limit" \
    body_matches ".errors[0].code == \"DENIED\" and .errors[0].detail.scope == \"q\" and .errors[0].detail.limit == $LIMIT"
  check_eq "q/app holds no bytes of the refused upload in the registry" 0 "$(upload_bytes q/app)"
}

delete_frees_usage() {
  local code before_repo before_ns
  step "DELETE q/app@$SMALL (manifest by digest) through the proxy"
  before_repo=$(used q/app)
  before_ns=$(used q)
  code=$(http DELETE "$PROXY_URL/v2/q/app/manifests/$SMALL")
  check_eq "DELETE manifest q/app@${SMALL:0:19}…" 202 "$code"
  check_eq "usage of q/app dropped by the image's own blobs ($SMALL_SIZE)" \
    "$SMALL_SIZE" "$((before_repo - $(used q/app)))"
  check_eq "usage of q dropped by the same" "$SMALL_SIZE" "$((before_ns - $(used q)))"
}

egress_limit() {
  local file=$QP_TMP/egress.bin digest code retry egress
  step "egress: scope eg may pull $(mib "$EGRESS_LIMIT") per 1h window"
  random_file "$file" $((768 * KIB))
  digest=$(sha256_of "$file")
  start_upload "$PROXY_URL" eg/x || return 0
  code=$(http PUT "$(with_digest "$UPLOAD_URL" "$digest")" -H 'Content-Type: application/octet-stream' \
    --data-binary "@$file")
  check_eq "push a 768 KiB blob to eg/x" 201 "$code"
  code=$(http GET "$PROXY_URL/v2/eg/x/blobs/$digest")
  check_eq "pull 1 of the 768 KiB blob" 200 "$code"
  egress=$(rcli HGET 'qp:{eg}:egress:eg' bytes)
  log "egress of eg in this window: ${egress:-0} bytes"
  check_eq "the pull was counted against eg's window before it moved" $((768 * KIB)) "${egress:-0}"
  # 768 KiB more would pass the 1 MiB limit: refused before a byte moves, not counted after.
  code=$(http GET "$PROXY_URL/v2/eg/x/blobs/$digest")
  check_eq "pull 2, which would pass the limit, is refused" 429 "$code"
  retry=$(header Retry-After) || retry=""
  check "the 429 has a Retry-After in seconds ('$retry')" test -n "$retry" -a "${retry//[0-9]/}" = ""
  log "message: $(jq -r '.errors[0].message' "$QP_TMP/http.body" 2>/dev/null)"
  check "the 429 body is TOOMANYREQUESTS for scope eg" body_matches \
    '.errors[0].code == "TOOMANYREQUESTS" and (.errors[0].message | startswith("egress quota exceeded: eg "))'
}

# repository_count_limit: scope cnt may hold 2 repositories; skopeo pushes into 2 new ones, and a
# push into a third is refused before any byte moves, with a message naming the count and the limit.
repository_count_limit() {
  local out=$QP_TMP/skopeo-cnt.out repo usage
  step "count limit: cnt may hold 2 repositories"
  for repo in cnt/a cnt/b; do
    skopeo copy -q --dest-tls-verify=false "oci:$LAYOUT:small" "docker://127.0.0.1:$PROXY_PORT/$repo:v1" \
      || die "skopeo push of small to $repo:v1"
  done
  pass "skopeo pushes cnt/a:v1 and cnt/b:v1"
  check_eq "Redis counts 2 repositories in cnt" 2 "$(rcli HGET 'qp:{cnt}:counts' 'cnt|repositories')"
  step "skopeo push small -> cnt/c:v1 (a third repository)"
  if skopeo copy --dest-tls-verify=false "oci:$LAYOUT:small" "docker://127.0.0.1:$PROXY_PORT/cnt/c:v1" >"$out" 2>&1; then
    fail "skopeo push into a third repository succeeded"
  else
    pass "skopeo push into a third repository failed"
  fi
  log "skopeo: $(grep -o 'denied: [^"]*' "$out" | head -n 1)"
  check "skopeo output names the count and the limit" \
    grep -q "quota exceeded: cnt holds 2 repositories, at its limit of 2; the new repository cnt/c would make 3" "$out"
  check "the registry holds no blob of cnt/c" test -z "$(registry_layers cnt/c)"
  check_eq "Redis still counts 2 repositories in cnt" 2 "$(rcli HGET 'qp:{cnt}:counts' 'cnt|repositories')"
  check "no repository slot is left held in cnt" test -z "$(rcli HGET 'qp:{cnt}:slots' 'cnt|repositories')"
  usage=$(admin_api GET "/usage?scope=cnt")
  log "usage API: $(jq -c .usage.repositories <<<"$usage")"
  check "the usage API shows 2 repositories of a limit of 2" jq_quiet \
    '.usage.repositories.usage == 2 and .usage.repositories.limit == 2' <<<"$usage"
}

e2e_quota_main() {
  e2e_quota_setup
  push_under_limit
  push_over_limit
  webhook_for_refused_push
  podman_chunked_over_limit
  docker_over_limit
  docker_under_limit
  expect_continue_over_limit
  delete_frees_usage
  egress_limit
  repository_count_limit
  check_access_log '"\(.op) \(.status)"'
  summary e2e-quota
}

e2e_quota_main "$@"
