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
HAPROXY_URL=""
COPY_URL=""
MAX_TIME=900   # seconds; no single transfer may hang the benchmark for longer

# ---------------------------------------------------------------- transfers

# make_blob MIB FILE: write MIB MiB of random bytes to FILE.
make_blob() {
  head -c "$(($1 * 1024 * 1024))" /dev/urandom >"$2"
}

# push_blob BASE_URL REPO FILE DIGEST: upload FILE as one monolithic PUT;
# print the seconds the PUT took.
push_blob() {
  local base=$1 repo=$2 file=$3 digest=$4 headers loc out
  headers=$QP_TMP/post.headers
  curl -sSf -o /dev/null -D "$headers" -X POST -H 'Content-Length: 0' \
    "$base/v2/$repo/blobs/uploads/" || die "POST upload to $base/v2/$repo"
  loc=$(awk 'tolower($1) == "location:" { sub(/\r$/, "", $2); print $2 }' "$headers")
  [[ -n "$loc" ]] || die "no Location from POST $base/v2/$repo/blobs/uploads/"
  [[ "$loc" == http* ]] || loc=$base$loc
  if [[ "$loc" == *\?* ]]; then loc+="&digest=$digest"; else loc+="?digest=$digest"; fi
  # 'Expect:' switches curl's automatic Expect: 100-continue off: this measures
  # streaming, not the 100-continue round trip (e2e.sh tests that).
  out=$(curl -sS -o /dev/null --max-time "$MAX_TIME" -X PUT -T "$file" -H 'Expect:' \
    -H 'Content-Type: application/octet-stream' -w '%{http_code} %{time_total}' "$loc") \
    || die "PUT of $file to $base ($repo) failed"
  [[ "${out%% *}" == 201 ]] || die "PUT of $file to $base ($repo): status ${out%% *}"
  echo "${out#* }"
}

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
  local base=$1 repo=$2 digest=$3 start end got
  start=$(date +%s.%N)
  got=$(curl -sSf --max-time "$MAX_TIME" "$base/v2/$repo/blobs/$digest" | openssl dgst -sha256 -r) \
    || die "verified GET $base/v2/$repo/blobs/$digest failed"
  end=$(date +%s.%N)
  [[ "sha256:${got%% *}" == "$digest" ]] || die "verified GET $base/v2/$repo: digest sha256:${got%% *}, expected $digest"
  awk -v a="$start" -v b="$end" 'BEGIN { print b - a }'
}

# start_haproxy NAME [OPTION]: HAProxy in HTTP mode in front of the registry, as a
# reference proxy, with OPTION (e.g. "option splice-response") in its defaults.
start_haproxy() {
  local name=$1 option=${2:-} cfg=$QP_TMP/$1.cfg port
  free_port
  port=$FREE_PORT
  cat >"$cfg" <<CFG
global
  maxconn 256
defaults
  mode http
  timeout connect 5s
  timeout client 900s
  timeout server 900s
  $option
frontend bench
  bind 127.0.0.1:$port
  default_backend registry
backend registry
  server registry 127.0.0.1:$REGISTRY_PORT
CFG
  haproxy -f "$cfg" -db >"$QP_TMP/$name.log" 2>&1 &
  QP_PIDS+=("$!")
  HAPROXY_URL=http://127.0.0.1:$port
  wait_http "$HAPROXY_URL/v2/" "$!" 30 || die "haproxy did not come up on $HAPROXY_URL"
  log "$name $HAPROXY_URL ($(haproxy -v | head -n 1)${option:+, $option})"
}

# start_copying_proxy: a second proxy that copies bodies through the JVM (no splice).
start_copying_proxy() {
  local keep_url=$PROXY_URL keep_pid=$PROXY_PID keep_log=$PROXY_LOG
  start_proxy proxy-copy.log --proxy.zero-copy false
  COPY_URL=$PROXY_URL
  PROXY_URL=$keep_url PROXY_PID=$keep_pid PROXY_LOG=$keep_log
}

# ---------------------------------------------------------------- numbers

median() { printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
mbps()   { awk -v b="$1" -v s="$2" 'BEGIN { printf "%.1f", b / 1e6 / s }'; }
ratio()  { awk -v p="$1" -v d="$2" 'BEGIN { printf "%.2f", p / d }'; }
kib_to_mib() { awk -v k="$1" 'BEGIN { printf "%.1f", k / 1024 }'; }

# status_kib PID FIELD: a kB field (VmRSS, VmHWM) of /proc/PID/status.
status_kib() { awk -v f="$2:" '$1 == f { print $2 }' "/proc/$1/status"; }

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
  make_blob "$SIZE_MIB" "$file"
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
      p=$(push_blob "$base" "$repo" "$file" "$digest")
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
  local file=$QP_TMP/big.bin digest size repo=bench/big-$RANDOM got poller idle push_s pull_s start end
  step "memory: ${BIG_MIB} MiB blob through the proxy with JAVA_OPTS=$HEAP_OPTS"
  stop_proxy
  JAVA_OPTS=$HEAP_OPTS start_proxy proxy-small-heap.log
  make_blob "$BIG_MIB" "$file"
  digest=$(sha256_of "$file")
  size=$(stat -c %s "$file")
  idle=$(status_kib "$PROXY_PID" VmRSS)

  poll_rss "$PROXY_PID" "$QP_TMP/rss.max" &
  poller=$!
  QP_PIDS+=("$poller")
  push_s=$(push_blob "$PROXY_URL" "$repo" "$file" "$digest")
  start=$(date +%s.%N)
  got=$(curl -sSf --max-time "$MAX_TIME" "$PROXY_URL/v2/$repo/blobs/$digest" | sha256sum) \
    || die "GET of the ${BIG_MIB} MiB blob through the proxy failed"
  end=$(date +%s.%N)
  pull_s=$(awk -v a="$start" -v b="$end" 'BEGIN { print b - a }')
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

main() {
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

main "$@"
