#!/usr/bin/env bash
# Throughput and memory benchmark of quota-proxy against a local registry.
#
#   scripts/bench.sh
#
# 1. Pushes (POST + monolithic PUT ?digest=) and pulls one random blob straight
#    to the registry and through the proxy, alternating, BENCH_ROUNDS times each
#    after one untimed warm-up round (the proxy is a long-running JVM server).
#    Pulls are measured twice: raw (GET to /dev/null) and verified (GET piped
#    through `openssl dgst -sha256` and compared, as every registry client
#    hashes what it pulls). Prints the median MB/s (10^6 bytes/s) of each path
#    and the ratio proxy/direct.
#    The same rounds also run through a second proxy with --proxy.zero-copy
#    false (bodies copied through the JVM instead of spliced), and, when haproxy
#    is installed, through HAProxy in HTTP mode, copying and with
#    `option splice-response`, as a reference for what a mature C proxy
#    achieves on this box.
# 2. Restarts the proxy with a small heap, pushes and pulls a bigger blob
#    through it, and prints the proxy's peak RSS and whether the digest read
#    back matches.
#
# Environment (defaults in brackets):
#   BENCH_ROUNDS [3]          rounds per path
#   BENCH_SIZE_MIB [1024]     blob size for the throughput rounds
#   BENCH_BIG_MIB [2048]      blob size for the memory run
#   BENCH_HEAP_OPTS [-Xmx128m] JAVA_OPTS of the proxy for the memory run
#   BENCH_REFERENCE [auto]    auto: add HAProxy rows when haproxy is on PATH; none: never
#   JAVA_OPTS                 JAVA_OPTS of the proxy for the throughput rounds
#   QP_JAR, KEEP_TMP          see scripts/lib/common.sh
# Not run in CI: it moves several GiB and takes a few minutes.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source-path=SCRIPTDIR source=lib/common.sh
source "$HERE/lib/common.sh"

ROUNDS=${BENCH_ROUNDS:-3}
SIZE_MIB=${BENCH_SIZE_MIB:-1024}
BIG_MIB=${BENCH_BIG_MIB:-2048}
HEAP_OPTS=${BENCH_HEAP_OPTS:--Xmx128m}
REFERENCE=${BENCH_REFERENCE:-auto}
COPY_URL=""
MAX_TIME=900   # seconds; no single transfer may hang the benchmark for longer

# ---------------------------------------------------------------- transfers

# pull_blob BASE_URL REPO DIGEST SIZE: GET the blob to /dev/null; print seconds.
pull_blob() {
  local base=$1 repo=$2 digest=$3 size=$4 out code secs got
  out=$(curl -sS -o /dev/null --max-time "$MAX_TIME" \
    -w '%{http_code} %{time_total} %{size_download}' "$base/v2/$repo/blobs/$digest") \
    || die "GET $base/v2/$repo/blobs/$digest failed"
  read -r code secs got <<<"$out"
  [[ "$code" == 200 && "$got" == "$size" ]] \
    || die "GET $base/v2/$repo/blobs/$digest: status $code, $got of $size bytes"
  echo "$secs"
}

# pull_verified BASE_URL REPO DIGEST: GET the blob through `openssl dgst -sha256`
# (SHA-NI where the CPU has it, like the Go clients) and check the digest;
# print seconds.
pull_verified() {
  local base=$1 repo=$2 digest=$3 start secs got
  start=$(now)
  got=$(curl -sSf --max-time "$MAX_TIME" "$base/v2/$repo/blobs/$digest" | openssl dgst -sha256 -r) \
    || die "verified GET $base/v2/$repo/blobs/$digest failed"
  secs=$(elapsed "$start")
  [[ "sha256:${got%% *}" == "$digest" ]] || die "verified GET $base/v2/$repo: digest sha256:${got%% *}, expected $digest"
  echo "$secs"
}

# start_copying_proxy: a second proxy that copies bodies through the JVM (no splice).
start_copying_proxy() {
  local keep_url=$PROXY_URL keep_pid=$PROXY_PID keep_log=$PROXY_LOG
  start_proxy proxy-copy.log --proxy.zero-copy false
  COPY_URL=$PROXY_URL
  PROXY_URL=$keep_url PROXY_PID=$keep_pid PROXY_LOG=$keep_log
}

# ---------------------------------------------------------------- numbers

mbps()   { awk -v b="$1" -v s="$2" 'BEGIN { printf "%.1f", b / 1e6 / s }'; }
ratio()  { awk -v p="$1" -v d="$2" 'BEGIN { printf "%.2f", p / d }'; }

# ---------------------------------------------------------------- phases

throughput() {
  local file=$QP_TMP/blob.bin digest size round path base repo
  local -A push pull verified url=([direct]=$REGISTRY_URL [proxy]=$PROXY_URL)
  local paths=(direct proxy)
  start_copying_proxy
  url[proxy-copy]=$COPY_URL
  paths+=(proxy-copy)
  if [[ "$REFERENCE" == auto ]] && command -v haproxy >/dev/null 2>&1; then
    start_haproxy haproxy
    url[haproxy]=$HAPROXY_URL
    start_haproxy haproxy-splice "option splice-response"
    url[haproxy-splice]=$HAPROXY_URL
    paths+=(haproxy haproxy-splice)
  fi
  step "throughput: ${SIZE_MIB} MiB blob, 1 warm-up + $ROUNDS rounds per path (${paths[*]})"
  random_file "$file" $((SIZE_MIB * MIB))
  digest=$(sha256_of "$file")
  size=$(stat -c %s "$file")
  log "blob $digest"
  for ((round = 0; round <= ROUNDS; round++)); do
    # Rotate the order every round so no path always runs on a warmer cache.
    local order=("${paths[@]:round % ${#paths[@]}}" "${paths[@]:0:round % ${#paths[@]}}")
    for path in "${order[@]}"; do
      base=${url[$path]}
      repo=bench/$path-r$round-$RANDOM
      local p v r
      put_blob "$base" "$repo" "$file" "$digest"
      p=$PUT_SECS
      r=$(pull_blob "$base" "$repo" "$digest" "$size")
      v=$(pull_verified "$base" "$repo" "$digest")
      if ((round == 0)); then
        log "warm-up $path: push $(mbps "$size" "$p"), pull $(mbps "$size" "$r"), verified pull $(mbps "$size" "$v") MB/s (not counted)"
        continue
      fi
      push[$path]+=" $p" pull[$path]+=" $r" verified[$path]+=" $v"
      log "round $round $path: push $(mbps "$size" "$p"), pull $(mbps "$size" "$r"), verified pull $(mbps "$size" "$v") MB/s"
    done
  done
  rm -f "$file"

  echo
  printf 'median of %d rounds, %d MiB blob, MB/s = 10^6 bytes/s\n' "$ROUNDS" "$SIZE_MIB"
  printf '  %-22s %10s %10s %14s\n' path "push" "pull" "verified pull"
  local -A med
  for path in "${paths[@]}"; do
    # shellcheck disable=SC2086  # the lists are space-separated numbers
    med[$path-push]=$(median ${push[$path]}) med[$path-pull]=$(median ${pull[$path]}) med[$path-verified]=$(median ${verified[$path]})
    printf '  %-22s %10s %10s %14s\n' "$path" "$(mbps "$size" "${med[$path-push]}")" \
      "$(mbps "$size" "${med[$path-pull]}")" "$(mbps "$size" "${med[$path-verified]}")"
  done
  # throughput ratio X/direct = time ratio direct/X
  for path in "${paths[@]:1}"; do
    printf '  %-22s %10s %10s %14s\n' "$path/direct" "$(ratio "${med[direct-push]}" "${med[$path-push]}")" \
      "$(ratio "${med[direct-pull]}" "${med[$path-pull]}")" "$(ratio "${med[direct-verified]}" "${med[$path-verified]}")"
  done
}

# poll_rss PID OUT: until PID exits, keep the largest VmRSS seen (kB) in OUT.
poll_rss() {
  local pid=$1 out=$2 max=0 rss
  while rss=$(status_kib "$pid" VmRSS 2>/dev/null) && [[ -n "$rss" ]]; do
    if ((rss > max)); then max=$rss; echo "$max" >"$out"; fi
    sleep 0.1
  done
}

memory() {
  local file=$QP_TMP/big.bin digest size repo=bench/big-$RANDOM got poller idle push_s pull_s start
  step "memory: ${BIG_MIB} MiB blob through the proxy with JAVA_OPTS=$HEAP_OPTS"
  stop_proxy
  JAVA_OPTS=$HEAP_OPTS start_proxy proxy-small-heap.log
  random_file "$file" $((BIG_MIB * MIB))
  digest=$(sha256_of "$file")
  size=$(stat -c %s "$file")
  idle=$(status_kib "$PROXY_PID" VmRSS)

  poll_rss "$PROXY_PID" "$QP_TMP/rss.max" &
  poller=$!
  QP_PIDS+=("$poller")
  put_blob "$PROXY_URL" "$repo" "$file" "$digest"
  push_s=$PUT_SECS
  start=$(now)
  got=$(curl -sSf --max-time "$MAX_TIME" "$PROXY_URL/v2/$repo/blobs/$digest" | sha256sum) \
    || die "GET of the ${BIG_MIB} MiB blob through the proxy failed"
  pull_s=$(elapsed "$start")
  local hwm polled
  hwm=$(status_kib "$PROXY_PID" VmHWM)
  kill "$poller" 2>/dev/null || true
  polled=$(cat "$QP_TMP/rss.max" 2>/dev/null || echo 0)
  rm -f "$file"

  local match=no
  [[ "sha256:${got%% *}" == "$digest" ]] && match=yes
  echo
  printf '%d MiB blob through the proxy, JAVA_OPTS=%s\n' "$BIG_MIB" "$HEAP_OPTS"
  printf '  %-28s %s MB/s\n' "push" "$(mbps "$size" "$push_s")"
  printf '  %-28s %s MB/s (incl. sha256sum)\n' "pull" "$(mbps "$size" "$pull_s")"
  printf '  %-28s %s MiB\n' "RSS after startup" "$(kib_to_mib "$idle")"
  printf '  %-28s %s MiB\n' "peak RSS (VmHWM)" "$(kib_to_mib "$hwm")"
  printf '  %-28s %s MiB\n' "peak RSS (VmRSS polled)" "$(kib_to_mib "$polled")"
  printf '  %-28s %s\n' "digest read back matches" "$match"
  [[ "$match" == yes ]] || die "digest read back: sha256:${got%% *}, expected $digest"
}

bench_main() {
  need curl jq java docker-registry sha256sum openssl
  [[ "$ROUNDS" =~ ^[1-9][0-9]*$ ]] || die "BENCH_ROUNDS must be a positive integer"
  qp_init bench
  step "start registry and proxy"
  start_registry
  start_proxy proxy.log
  throughput
  memory
  QP_SUMMARY_DONE=1   # a benchmark has no checks to count
  echo
  echo "bench: done"
}

bench_main "$@"
