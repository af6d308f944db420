#!/usr/bin/env bash
# What quota enforcement costs: the decision path in Redis, and blob push
# throughput through the proxy with quotas on against quotas off.
#
#   scripts/bench-quota.sh
#
# 1. Decision path. Starts a redis-server and loads the proxy's own scripts,
#    built exactly as the proxy builds them (common.lua, a newline, then the
#    operation's file wrapped in a function whose reply is returned with the
#    events it appended; the SHA-1 Redis returns must equal the file's). Then
#    redis-benchmark calls them by EVALSHA, with the keys and arguments
#    RedisQuotaStore sends, for a repository bench/app whose two scopes both
#    have a hard limit, at several client counts, no pipelining:
#      reserve  reserve_bytes.lua: 1 MiB (min = max, as for a PUT with
#               Content-Length) under a fresh reservation id each call
#      release  release.lua: 1 MiB back from one of 10,000 live reservations
#               (a partial release: the reservation stays, so every call does
#               the full read-modify-write)
#    redis-benchmark counts error replies as requests too, so afterwards the
#    reserved bytes in Redis are checked against the number of calls.
# 2. Push throughput. One registry, one Redis, two proxies: one with
#    --quota.enabled false, one with quotas on and a hard limit on the pushed
#    namespace (so every reservation is checked against it). Pushes the same
#    blobs with curl through each, alternating, one warm-up round then the
#    median of BQ_ROUNDS:
#      a large set (BQ_LARGE_COUNT blobs of BQ_LARGE_MIB MiB) and a small set
#      (BQ_SMALL_COUNT blobs of BQ_SMALL_MIB MiB), each as POST + PUT with
#      Content-Length, and as POST + chunked PATCH + PUT (reserved in
#      quota.chunk-reservation increments as the body streams).
#    Every round goes to a new repository, so with quotas on every blob is
#    charged to it. Prints MB/s, blobs/s and the ratio on/off, then checks that
#    the on-proxy charged exactly the bytes pushed and holds nothing reserved.
#
# Environment (defaults in brackets):
#   BQ_PARTS [decision push]   which parts to run
#   BQ_CLIENTS [1 8 32]        redis-benchmark client counts
#   BQ_REQUESTS [100000]       requests per redis-benchmark run
#   BQ_ROUNDS [3]              timed rounds per push variant (after 1 warm-up)
#   BQ_VARIANTS [large-put small-put large-chunked small-chunked]
#   BQ_LARGE_COUNT [20], BQ_LARGE_MIB [64], BQ_SMALL_COUNT [200], BQ_SMALL_MIB [1]
#   QP_JAR, JAVA_OPTS, KEEP_TMP  see scripts/lib/common.sh
# Not run in CI: it pushes about 25 GB and takes about 5 minutes.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source-path=SCRIPTDIR source=lib/common.sh
source "$HERE/lib/common.sh"

PARTS=${BQ_PARTS:-decision push}
CLIENTS=${BQ_CLIENTS:-1 8 32}
REQUESTS=${BQ_REQUESTS:-100000}
ROUNDS=${BQ_ROUNDS:-3}
VARIANTS=${BQ_VARIANTS:-large-put small-put large-chunked small-chunked}
LARGE_COUNT=${BQ_LARGE_COUNT:-20} LARGE_MIB=${BQ_LARGE_MIB:-64}
SMALL_COUNT=${BQ_SMALL_COUNT:-200} SMALL_MIB=${BQ_SMALL_MIB:-1}
SCRIPTS=$QP_ROOT/metering/src/main/resources/dev/quotaproxy/metering
MAX_TIME=600   # seconds; no single request may hang the benchmark longer
PIB=$((1024 * 1024 * 1024 * 1024 * 1024))

# fmt NUMBER FORMAT: NUMBER printed with the printf FORMAT.
fmt() { awk -v v="$1" -v f="$2" 'BEGIN { printf f, v }'; }

# ================================================================ 1. decision path

# load_script NAME: SCRIPT LOAD NAME as the proxy sends it; print its SHA-1.
load_script() {
  local src=$QP_TMP/$1.lua sha want
  # As LuaScripts.Script.named: the operation's file runs as a function, its reply returned with its events.
  { cat "$SCRIPTS/common.lua"; printf '\nlocal function operation()\n'; cat "$SCRIPTS/$1.lua"
    printf '\nend\nreturn with_events(operation())\n'; } >"$src"
  sha=$(rcli -x SCRIPT LOAD <"$src")
  want=$(sha1sum "$src")
  [[ "$sha" == "${want%% *}" ]] || die "Redis named $1 $sha, the proxy would call it ${want%% *}"
  echo "$sha"
}

# rbench CLIENTS KEYSPACE ARGS...: one redis-benchmark run of the command ARGS;
# print "requests/s p50_ms p99_ms".
rbench() {
  local clients=$1 keyspace=$2
  shift 2
  redis-benchmark -h 127.0.0.1 -p "$REDIS_PORT" -c "$clients" -n "$REQUESTS" -r "$keyspace" --csv "$@" \
    | awk -F'","' 'NR == 2 { print $2, $5, $7 }'
}

decision_path() {
  local reserve release trivial ns='qp:{bench}:' c r_reserve r_release r_plain r_trivial pair
  step "decision path: the proxy's Lua scripts by EVALSHA, redis-benchmark, $REQUESTS requests per run"
  [[ -n "$REDIS_PID" ]] || start_redis
  reserve=$(load_script reserve_bytes)
  release=$(load_script release)
  log "reserve_bytes $reserve, release $release (common.lua + file, SHA-1 as the proxy computes it)"
  # Redis's own limit on this machine for a script call: EVALSHA of a script that does nothing.
  trivial=$(rcli SCRIPT LOAD 'return 1')
  rcli HSET "${ns}limits" 'bench|hard' "$PIB" 'bench/app|hard' "$PIB" >/dev/null
  # The namespace's state is known (as after the ledger marked it): without the
  # marker every script answers UNKNOWN and changes nothing.
  # The marker's name carries the state's layout (QuotaKeys.STATE_LAYOUT).
  rcli SET "${ns}epoch:3" bench >/dev/null
  # bench/app holds a blob already, as a repository pushed to does: a reserve into a repository that links
  # nothing yet also holds its count slot (see Counts in common.lua), which only a new repository's pushes do.
  rcli SADD "${ns}links:bench/app" sha256:bench >/dev/null

  # The layout RedisQuotaStore sends (common.lua): 12 namespace keys, one
  # present:S key per scope; ARGV: the scope count, the user, the floor (the
  # highest event number seen; 0 here), the scopes, then the script's own arguments.
  local -a common=("${ns}used" "${ns}reserved" "${ns}limits" "${ns}sizes" "${ns}res" "${ns}res_expiry"
    "${ns}events" "${ns}epoch:3" "${ns}commits" "${ns}sequence" "${ns}counts" "${ns}slots")
  # reserve_bytes's own keys after the scopes': recovering (absent here, as on a namespace not just restored)
  # and links:R.
  local -a reserve_cmd=(EVALSHA "$reserve" 16 "${common[@]}" "${ns}present:bench" "${ns}present:bench/app"
    "${ns}recovering" "${ns}links:bench/app" 2 bench-user 0 bench bench/app)
  local ttl=3600000
  # The reply is { { 1, granted }, events appended }: its first two lines.
  [[ "$(rcli "${reserve_cmd[@]}" check-1 '' bench/app "$MIB" "$MIB" "$ttl" | head -2 | tr '\n' ' ')" == "1 $MIB " ]] \
    || die "reserve_bytes did not grant 1 MiB: check the arguments against its header"

  # 10,000 live reservations of 1 GiB each for the release runs.
  local i
  for ((i = 0; i < 10000; i++)); do
    printf 'EVALSHA %s 16 %s %s%s %s%s %s%s %s%s 2 bench-user 0 bench bench/app rel-%012d "" bench/app %d %d %d\n' "$reserve" \
      "${common[*]}" "$ns" present:bench "$ns" present:bench/app "$ns" recovering "$ns" links:bench/app "$i" \
      $((1024 * MIB)) $((1024 * MIB)) "$ttl"
  done | rcli >/dev/null
  [[ "$(rcli HLEN "${ns}res")" == 10001 ]] || die "could not create the 10,000 reservations for release"

  local before calls=0 results=()
  before=$(rcli HGET "${ns}reserved" bench)
  for c in $CLIENTS; do
    r_reserve=$(rbench "$c" 1000000000 "${reserve_cmd[@]}" 'res-__rand_int__' '' bench/app "$MIB" "$MIB" "$ttl")
    r_release=$(rbench "$c" 10000 EVALSHA "$release" 12 "${common[@]}" 0 bench-user 0 'rel-__rand_int__' "$MIB" "$ttl")
    r_plain=$(rbench "$c" 1000 HINCRBY "${ns}plain" 'f-__rand_int__' 1)
    r_trivial=$(rbench "$c" 1 EVALSHA "$trivial" 0)
    calls=$((calls + REQUESTS))
    results+=("$c $r_reserve $r_release $r_plain $r_trivial")
    log "-c $c: reserve ${r_reserve%% *}/s, release ${r_release%% *}/s, HINCRBY ${r_plain%% *}/s, trivial EVALSHA ${r_trivial%% *}/s"
  done
  # Each reserve adds 1 MiB to reserved, each release takes 1 MiB away: equal counts
  # leave it where it was. An error reply would not, so this proves they all ran.
  [[ "$(rcli HGET "${ns}reserved" bench)" == "$before" ]] \
    || die "reserved bytes changed from $before to $(rcli HGET "${ns}reserved" bench): some calls failed"
  [[ "$(rcli HLEN "${ns}res")" -gt $((10001 + calls * 9 / 10)) ]] \
    || die "fewer reservations ($(rcli HLEN "${ns}res")) than reserve calls ($calls, plus 10001): some calls failed"

  echo
  printf 'decision path: EVALSHA of the proxy'\''s scripts on redis %s, repository bench/app (2 scopes, both with a hard limit),\n' \
    "$(redis-server --version | awk '{ print $3 }' | sed 's/v=//')"
  printf '1 MiB per call, %d requests per run, no pipelining; redis-benchmark on the same 2 cores as redis-server\n' "$REQUESTS"
  printf '  %7s %12s %8s %8s %12s %8s %18s %14s %16s %16s\n' clients "reserve/s" "p50 ms" "p99 ms" "release/s" "p99 ms" \
    "reserve+release/s" "HINCRBY/s" "trivial EVALSHA/s" "reserve/trivial"
  local row rr rp50 rp99 lr lp99 pr tr
  for row in "${results[@]}"; do
    read -r c rr rp50 rp99 lr _ lp99 pr _ _ tr _ _ <<<"$row"
    pair=$(awk -v a="$rr" -v b="$lr" 'BEGIN { printf "%.0f", 1 / (1 / a + 1 / b) }')
    printf '  %7s %12s %8s %8s %12s %8s %18s %14s %16s %16s\n' "$c" "$(fmt "$rr" %.0f)" "$rp50" "$rp99" \
      "$(fmt "$lr" %.0f)" "$lp99" "$pair" "$(fmt "$pr" %.0f)" "$(fmt "$tr" %.0f)" "$(awk -v a="$rr" -v b="$tr" 'BEGIN { printf "%.2f", a / b }')"
  done
  echo '  (reserve+release: both calls of one upload in sequence, 1 / (1/reserve + 1/release);'
  echo '   trivial EVALSHA: a script that only returns 1, the most script calls this Redis answers)'
  rcli FLUSHALL >/dev/null
}

# ================================================================ 2. push throughput

# push_chunked BASE REPO FILE DIGEST: POST, one chunked PATCH, then an empty PUT ?digest=.
# (The monolithic push, POST + PUT with Content-Length, is put_blob in lib/http.sh.)
push_chunked() {
  local code
  start_upload "$1" "$2" || die "POST $1/v2/$2/blobs/uploads/ failed"
  # 'Expect:' turns curl's automatic 100-continue off, as put_blob does.
  code=$(http PATCH "$UPLOAD_URL" --max-time "$MAX_TIME" -T "$3" -H 'Expect:' \
    -H 'Transfer-Encoding: chunked' -H 'Content-Type: application/octet-stream')
  [[ "$code" == 202 ]] || die "PATCH of $3 to $1 ($2): status $code"
  code=$(http PUT "$(with_digest "$(absolute_url "$1" "$(header Location)")" "$4")" -H 'Content-Length: 0')
  [[ "$code" == 201 ]] || die "closing PUT of $3 to $1 ($2): status $code"
}

# push_set BASE REPO KIND HOW: push every blob of KIND (large, small) with HOW
# (put, chunked); set PUSH_SECS to the seconds it took. (It sets a global rather than
# print: a die inside $(...) would only leave the subshell, its message captured.)
PUSH_SECS=""
push_set() {
  local base=$1 repo=$2 kind=$3 how=$4 start i
  local -n digests=DIGESTS_$kind
  start=$(now)
  for ((i = 0; i < ${#digests[@]}; i++)); do
    if [[ "$how" == put ]]; then
      put_blob "$base" "$repo" "$QP_TMP/$kind/$i.bin" "${digests[$i]}"
    else
      push_chunked "$base" "$repo" "$QP_TMP/$kind/$i.bin" "${digests[$i]}"
    fi
  done
  PUSH_SECS=$(elapsed "$start")
}

# shellcheck disable=SC2034  # used through namerefs (local -n) only
DIGESTS_large=() DIGESTS_small=()

# op_means LOG: "op mean_ms count" per operation, from the access log LOG,
# for the small sets of the timed rounds (the warm-up round is r0).
op_means() {
  jq -R -r 'fromjson? | objects | select(has("op") and (.repo // "" | test("-small-[a-z]+-r[1-9][0-9]*$")))
    | [.op, .ms] | @tsv' "$1" \
    | awk '{ n[$1]++; s[$1] += $2 } END { for (op in n) printf "%s %.2f %d\n", op, s[op] / n[op], n[op] }' | sort
}

# proxy_side_times: the time each proxy took per request (its access log's ms,
# from the request's start to the response's end) on the small sets: what
# quotas add to a request, without curl's start-up and the client's own work.
proxy_side_times() {
  local off on
  off=$(op_means "$QP_TMP/proxy-off.log")
  on=$(op_means "$QP_TMP/proxy-on.log")
  [[ -n "$off" && -n "$on" ]] || return 0
  echo
  printf 'time in the proxy per request, %d x %d MiB sets, all timed rounds (access log ms, mean)\n' "$SMALL_COUNT" "$SMALL_MIB"
  printf '  %-28s %12s %12s %9s\n' operation "quotas off" "quotas on" "on - off"
  join <(echo "$off") <(echo "$on") | while read -r op moff n mon _; do
    printf '  %-28s %9s ms %9s ms %+6.2f ms   (%d requests each)\n' "$op" "$moff" "$mon" \
      "$(awk -v a="$moff" -v b="$mon" 'BEGIN { print b - a }')" "$n"
  done
}

# make_set KIND COUNT MIB: COUNT random blobs of MIB MiB; their digests in DIGESTS_KIND.
make_set() {
  local kind=$1 count=$2 mib=$3 i
  local -n digests=DIGESTS_$kind
  mkdir -p "$QP_TMP/$kind"
  for ((i = 0; i < count; i++)); do
    random_file "$QP_TMP/$kind/$i.bin" $((mib * MIB))
    digests+=("$(sha256_of "$QP_TMP/$kind/$i.bin")")
  done
}

push_throughput() {
  local off_url on_url on_log round variant kind how mode repo
  local variants modes=(off on)
  read -r -a variants <<<"$VARIANTS"
  local -A url times
  step "push throughput: quotas off vs on, 1 warm-up + $ROUNDS rounds"
  start_registry
  [[ -n "$REDIS_PID" ]] || start_redis
  cat >"$QP_TMP/quota.yml" <<YAML
quota:
  scopes:
    bpush: {storage-hard: 1PiB}
YAML
  start_proxy proxy-off.log --quota.enabled false
  off_url=$PROXY_URL
  start_proxy proxy-on.log --config "$QP_TMP/quota.yml" --redis.url "$REDIS_URL"
  on_url=$PROXY_URL on_log=$PROXY_LOG
  url=([off]=$off_url [on]=$on_url)
  [[ "$(rcli HGET 'qp:{bpush}:limits' 'bpush|hard')" == "$PIB" ]] || die "the on-proxy did not write bpush's limit"

  log "making $LARGE_COUNT x $LARGE_MIB MiB and $SMALL_COUNT x $SMALL_MIB MiB random blobs"
  make_set large "$LARGE_COUNT" "$LARGE_MIB"
  make_set small "$SMALL_COUNT" "$SMALL_MIB"

  for ((round = 0; round <= ROUNDS; round++)); do
    for variant in "${variants[@]}"; do
      kind=${variant%-*} how=${variant#*-}
      # Alternate which proxy goes first, so neither always meets a warmer cache.
      if ((round % 2)); then modes=(on off); else modes=(off on); fi
      for mode in "${modes[@]}"; do
        repo=bpush/$mode-$variant-r$round
        push_set "${url[$mode]}" "$repo" "$kind" "$how"
        if ((round == 0)); then
          log "warm-up $variant $mode: $(fmt "$PUSH_SECS" %.2f) s (not counted)"
        else
          times[$variant-$mode]+=" $PUSH_SECS"
          log "round $round $variant $mode: $(fmt "$PUSH_SECS" %.2f) s"
        fi
      done
    done
  done

  local large_bytes=$((LARGE_COUNT * LARGE_MIB * MIB)) small_bytes=$((SMALL_COUNT * SMALL_MIB * MIB))
  echo
  printf 'push through the proxy, quotas off vs on (limit on the namespace), median of %d rounds after 1 warm-up\n' "$ROUNDS"
  printf 'curl per request, sequential; MB/s = 10^6 bytes/s; per blob = wall time / blobs (incl. curl start-up)\n'
  printf '  %-28s %26s %26s %7s\n' workload "quotas off" "quotas on" "on/off"
  local off on count bytes label
  for variant in "${variants[@]}"; do
    kind=${variant%-*} how=${variant#*-}
    # shellcheck disable=SC2086  # space-separated lists of seconds
    off=$(median ${times[$variant-off]}) on=$(median ${times[$variant-on]})
    if [[ "$kind" == large ]]; then count=$LARGE_COUNT bytes=$large_bytes label="$LARGE_COUNT x $LARGE_MIB MiB"
    else count=$SMALL_COUNT bytes=$small_bytes label="$SMALL_COUNT x $SMALL_MIB MiB"; fi
    if [[ "$how" == put ]]; then label+=", PUT"; else label+=", chunked PATCH"; fi
    printf '  %-28s %26s %26s %7s\n' "$label" \
      "$(awk -v b="$bytes" -v s="$off" -v n="$count" 'BEGIN { printf "%.1f MB/s %.1f blobs/s", b / 1e6 / s, n / s }')" \
      "$(awk -v b="$bytes" -v s="$on" -v n="$count" 'BEGIN { printf "%.1f MB/s %.1f blobs/s", b / 1e6 / s, n / s }')" \
      "$(awk -v a="$off" -v b="$on" 'BEGIN { printf "%.2f", a / b }')"
    printf '  %-28s %26s %26s %7s\n' "" \
      "$(awk -v s="$off" -v n="$count" 'BEGIN { printf "%.1f ms/blob", s * 1000 / n }')" \
      "$(awk -v s="$on" -v n="$count" 'BEGIN { printf "%.1f ms/blob", s * 1000 / n }')" \
      "$(awk -v a="$off" -v b="$on" -v n="$count" 'BEGIN { printf "%+.1f ms", (b - a) * 1000 / n }')"
  done

  proxy_side_times

  # The on-proxy really metered: every round's repository is charged exactly
  # the bytes pushed to it, and nothing is left reserved.
  local charged bad=0
  for ((round = 0; round <= ROUNDS; round++)); do
    for variant in "${variants[@]}"; do
      if [[ "$variant" == large-* ]]; then bytes=$large_bytes; else bytes=$small_bytes; fi
      charged=$(used "bpush/on-$variant-r$round")
      [[ "$charged" == "$bytes" ]] || { bad=1; log "bpush/on-$variant-r$round: charged $charged, pushed $bytes"; }
    done
  done
  [[ "$(reserved_total bpush)" == 0 ]] \
    || { bad=1; log "bytes still reserved: $(rcli HGETALL 'qp:{bpush}:reserved' | tr '\n' ' ')"; }
  PROXY_LOG=$on_log
  [[ -z "$(access_log 'select(.status >= 400)' -r)" ]] || { bad=1; log "the on-proxy answered errors"; }
  if ((bad)); then die "the on-proxy's accounting is off (see above)"; fi
  echo "  quotas on: every repository charged exactly the bytes pushed, nothing left reserved"
}

bench_quota_main() {
  need curl jq java docker-registry redis-server redis-cli redis-benchmark sha1sum sha256sum
  [[ "$ROUNDS" =~ ^[1-9][0-9]*$ ]] || die "BQ_ROUNDS must be a positive integer"
  qp_init bench-quota
  # Other work on the machine shows up in every figure: say how busy it was.
  log "$(nproc) cores, load average $(cut -d ' ' -f 1-3 /proc/loadavg) at start"
  if [[ " $PARTS " == *" decision "* ]]; then decision_path; fi
  if [[ " $PARTS " == *" push "* ]]; then push_throughput; fi
  QP_SUMMARY_DONE=1   # a benchmark has no checks to count
  echo
  echo "load average $(cut -d ' ' -f 1-3 /proc/loadavg) at the end"
  echo "bench-quota: done"
}

bench_quota_main "$@"
