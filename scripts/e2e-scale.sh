#!/usr/bin/env bash
# End-to-end test of the scaled-out topology, on one machine, everything on 127.0.0.1:
#
#   a Redis Cluster     6 redis-server --cluster-enabled yes: 3 primaries, 3 replicas, in memory
#                       only (asynchronous replication: a primary killed may take its last writes)
#   one Postgres        its own cluster (lib/postgres.sh), the ledger of the whole fleet
#   one docker-registry filesystem storage, walked to know what it holds (lib/storage.sh)
#   three proxies       the jar, --redis.mode cluster --redis.nodes ..., the same Postgres and admin
#                       token, each with its own port and admin port
#   HAProxy             round robin over the three, HTTP mode, GET /healthz checks on the admin
#                       ports (not /readyz: see start_lb in lib/cluster.sh)
#
# and tests it, the threat model's invariant checked after each part (bytes the registry holds
# under a scope <= its hard limit, and Redis's charge == the ledger's == the registry's bytes):
#
#   race      32 curl clients at once, each a monolithic POST + PUT ?digest= of its own 512 KiB
#             blob, through HAProxy, into scope "race" (hard limit 4 MiB): exactly 8 fit; the
#             rest are 403 DENIED; overshoot 0; 201s x size == Redis == ledger == registry
#   proxy-kill  a 4 MiB PUT at 256 KiB/s straight into proxy 2, which is killed (-9) 2 s in;
#             pushes through HAProxy go on (201); HAProxy marks it DOWN; its reservation comes
#             back once its lease (30 s) lapses; started again, it rejoins (UP) and serves
#   failover  6 clients push 256 KiB blobs through HAProxy into scope "fail" (hard limit 3 MiB),
#             each deleting its previous blob, so the scope stays busy near its limit, and one
#             pulls, while the primary that owns {fail}'s slot is killed (-9), its replica's link
#             cut 2 s before (FAIL_LAG=1) so that the failover loses acknowledged writes, as
#             asynchronous replication does when a replica lags; until the replica is promoted
#             pushes get 503 with Retry-After (or succeed), never a 201 past the limit, and pulls
#             go on (200); then, once the ledger caught up, the proxies that found the lost writes
#             reconcile by themselves (ledger.reconcile-after-loss, AFTER_LOSS s): the drift that
#             run corrected is printed, and afterwards, with no reconciliation asked for, the
#             registry's storage, Redis and the ledger must agree for every scope (what differs is
#             listed digest by digest); POST /api/v1/reconciliations must then find nothing
#
# About 1.5 minutes on 2 cores (the 30 s lease is a third of it).
#
# Environment:
#   KEEP_TMP=1   keep the temp dir: every process's log, haproxy.cfg, each client's outcomes
#                (race/, fail/), the figures per scope (check-*/)
#   FAIL_LAG=0   kill the primary without cutting its replica's link first (on loopback it is
#                then a few bytes behind at most: the failover loses nothing, or next to nothing)
#   AFTER_LOSS=15  ledger.reconcile-after-loss of the proxies, in seconds
#   CLUSTER_NODE_TIMEOUT, LB_CHECK, LB_CHECK_INTER  see scripts/lib/cluster.sh
#   QP_JAR, JAVA_OPTS, REQUIRE_TEST_TOOLS see scripts/lib/common.sh (JAVA_OPTS defaults to
#                -Xmx384m here: three proxies share the machine)
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source-path=SCRIPTDIR source=lib/common.sh
source "$HERE/lib/common.sh"
# shellcheck source-path=SCRIPTDIR source=lib/postgres.sh
source "$HERE/lib/postgres.sh"
# shellcheck source-path=SCRIPTDIR source=lib/storage.sh
source "$HERE/lib/storage.sh"
# shellcheck source-path=SCRIPTDIR source=lib/cluster.sh
source "$HERE/lib/cluster.sh"

JAVA_OPTS=${JAVA_OPTS:--Xmx384m}
ADMIN_TOKEN=scale-suite-admin-token-0123456789abcdef
# Read by measure_scopes (lib/storage.sh).
# shellcheck disable=SC2034
NAMESPACES=(race crash fail)
PROXIES=3
RACE_LIMIT=$((4 * MIB)) RACE_CLIENTS=32 RACE_SIZE=$((512 * KIB))
CRASH_LIMIT=$((64 * MIB)) CRASH_SIZE=$((4 * MIB)) CRASH_RATE=256K CRASH_VICTIM=2
FAIL_LIMIT=$((3 * MIB)) FAIL_CLIENTS=6 FAIL_SIZE=$((256 * KIB)) FAIL_KEEP=1
FAIL_LAG=${FAIL_LAG:-1}
FAIL_BEFORE=5 FAIL_AFTER=8   # seconds of load before the kill, and after cluster_state:ok again
STOP_FILE=""
KILL_AT=""          # when the Redis primary was killed (a now)
AFTER_LOSS=${AFTER_LOSS:-15}  # ledger.reconcile-after-loss, seconds
CLIENT_PIDS=()
declare -A FIGURE=()

scale_cleanup() {
  local rc=$? pid
  set +e
  [[ -n "$STOP_FILE" ]] && touch "$STOP_FILE"
  for pid in "${CLIENT_PIDS[@]}"; do
    kill -0 "$pid" 2>/dev/null && kill -TERM "$pid" 2>/dev/null
  done
  pg_down
  if ((rc != 0)); then
    pg_dump_log
    [[ -s "$LB_LOG" ]] && { printf '\n----- last 20 lines of %s -----\n' "$LB_LOG"; tail -n 20 "$LB_LOG"; }
  fi
  (exit "$rc")
  qp_cleanup
}

# ---------------------------------------------------------------- topology

scale_setup() {
  need curl jq haproxy java docker-registry redis-server redis-cli psql runuser awk sha256sum
  qp_init e2e-scale
  trap scale_cleanup EXIT
  STOP_FILE=$QP_TMP/stop
  {
    echo "quota:"
    echo "  scopes:"
    echo "    race: {storage-hard: $RACE_LIMIT}"
    echo "    crash: {storage-hard: $CRASH_LIMIT}"
    echo "    fail: {storage-hard: $FAIL_LIMIT}"
    echo "ledger:"
    echo "  # No periodic one: only the reconciliation that follows a loss of Redis writes runs by itself."
    echo "  reconcile-interval: 0s"
    echo "  reconcile-after-loss: ${AFTER_LOSS}s"
  } >"$QP_TMP/quota.yml"

  step "topology: registry, Redis Cluster (3 primaries + 3 replicas), Postgres, $PROXIES proxies, HAProxy"
  local t0
  t0=$(now)
  start_registry
  start_redis_cluster 6 1
  start_postgres
  start_fleet "$PROXIES" --config "$QP_TMP/quota.yml" --redis.mode cluster --redis.nodes "$CLUSTER_NODES" \
    --postgres.url "$PG_URL" --admin.token "$ADMIN_TOKEN"
  # admin_api and metric talk to proxy 1 (the fleet shares every store: any one answers for all).
  ADMIN_URL=http://127.0.0.1:${FLEET_ADMIN[1]}
  start_lb
  log "limits   race $RACE_LIMIT, crash $CRASH_LIMIT, fail $FAIL_LIMIT bytes (JAVA_OPTS=$JAVA_OPTS)"
  FIGURE[setup]=$(fsecs "$t0")
  check_eq "GET /v2/ through HAProxy" 200 "$(http GET "$LB_URL/v2/")"
}

# fsecs START: seconds since START (a now), one decimal.
fsecs() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }'; }

# scope_held SCOPE: bytes the registry's storage holds under SCOPE (distinct blobs and manifests).
scope_held() {
  registry_held | scope_bytes | awk -F'\t' -v s="$1" '$1 == s { b = $2 } END { print b + 0 }'
}

# ledger_used SCOPE: the ledger's charge for SCOPE (scope_usage), 0 without a row.
ledger_used() {
  local v
  v=$(sql "select used_bytes from scope_usage where scope = '$1'") || v=""
  echo "${v:-0}"
}

# wait_ledger SECONDS NS...: until the feed has applied every event of the namespaces (and every
# proxy's unsettled intents there are settled); prints how long it took. Returns 1 on timeout.
wait_ledger() {
  local secs=$1 t0 i ns n
  shift
  t0=$(now)
  for ((i = 0; i < secs * 2; i++)); do
    n=$(ledger_lag "$@")
    for ns in "$@"; do n=$((n + $(rcli HLEN "qp:{$ns}:commits"))); done
    ((n == 0)) && { fsecs "$t0"; return 0; }
    sleep 0.5
  done
  echo "never"
  ledger_state "$@" >&2
  return 1
}

# ledger_state NS...: what the ledger feed has not done, per namespace: the stream's length, its
# group "ledger" (entries read, pending, lag, last id delivered), the pending entries (id, the
# consumer holding it, ms since delivered, deliveries, whether the stream still holds it), and the
# unsettled intents.
ledger_state() {
  local ns
  for ns in "$@"; do
    printf '      %s: stream %s entries; group: %s; intents unsettled: %s\n' "$ns" "$(rcli XLEN "qp:{$ns}:events")" \
      "$(rcli XINFO GROUPS "qp:{$ns}:events" | paste -sd' ')" "$(rcli HLEN "qp:{$ns}:commits")"
    rcli XPENDING "qp:{$ns}:events" ledger - + 20 | paste - - - - | while read -r id rest; do
      # An entry trimmed or deleted while pending: XREADGROUP from 0 gives its id with no fields.
      printf '        pending: %s %s (in the stream: %s)\n' "$id" "$rest" \
        "$( (($(rcli XRANGE "qp:{$ns}:events" "$id" "$id" | wc -l) > 0)) && echo yes || echo no)"
    done
  done
}

# ---------------------------------------------------------------- 1. the race

# race_client I: one client of the race: POST + PUT ?digest= of its blob through HAProxy into
# race/cI; writes "I status error-code" to race/cI.out.
race_client() {
  local i=$1 dir=$QP_TMP/race code err
  HTTP_DIR=$dir/c$i
  HTTP_OPTS=(--max-time 60 --no-show-error)
  PROXY_URL=$LB_URL
  mkdir -p "$HTTP_DIR"
  code=$(upload_blob "race/c$i" "$dir/blob$i" put)
  err=$(jq -r '.errors[0].code // "-"' "$HTTP_DIR/http.body" 2>/dev/null) || err=-
  printf '%s\t%s\t%s\n' "$i" "$code" "${err:--}" >"$dir/c$i.out"
}

test_race() {
  local dir=$QP_TMP/race i t0 n201 nbad fit held used ledger took
  local -a pids=()
  step "race: $RACE_CLIENTS clients at once push a $((RACE_SIZE / KIB)) KiB blob each through HAProxy into scope race (hard limit $((RACE_LIMIT / KIB)) KiB)"
  mkdir -p "$dir"
  for ((i = 1; i <= RACE_CLIENTS; i++)); do random_file "$dir/blob$i" "$RACE_SIZE"; done
  t0=$(now)
  for ((i = 1; i <= RACE_CLIENTS; i++)); do
    race_client "$i" &
    pids+=($!)
  done
  for i in "${pids[@]}"; do wait "$i" || true; done
  log "$RACE_CLIENTS uploads done in $(fsecs "$t0") s: $(cut -f2,3 "$dir"/c*.out | sort | uniq -c | awk '{ printf "%s x %s %s; ", $1, $2, $3 }')"
  n201=$(awk -F'\t' '$2 == 201' "$dir"/c*.out | wc -l)
  nbad=$(awk -F'\t' '$2 != 201 && !($2 == 403 && $3 == "DENIED")' "$dir"/c*.out | wc -l)
  fit=$((RACE_LIMIT / RACE_SIZE))
  FIGURE[race]="$n201 x 201, $((RACE_CLIENTS - n201)) refused"
  check_eq "every refusal is 403 DENIED (answers that are neither 201 nor 403 DENIED)" 0 "$nbad"
  check_eq "exactly the uploads that fit were accepted (limit / size = $fit)" "$fit" "$n201"
  for ((i = 1; i <= PROXIES; i++)); do
    FIGURE[race-p$i]=$(fleet_requests "$i" '.path | startswith("/v2/race/")')
    check "proxy $i served some of the race's requests (${FIGURE[race-p$i]})" test "${FIGURE[race-p$i]}" -gt 0
  done
  # An upload whose POST one proxy answered and whose PUT another: the session crossed proxies.
  FIGURE[race-crossed]=$(for ((i = 1; i <= PROXIES; i++)); do
    jq -r -R --arg p "$i" \
      'fromjson? | objects | select(has("op")) | select(.path | startswith("/v2/race/")) | "\(.repo) \(.method) \($p)"' "$QP_TMP/proxy-$i.log"
  done | awk '$2 == "POST" { post[$1] = $3 } $2 == "PUT" { put[$1] = $3 } END { for (r in put) if (r in post && post[r] != put[r]) n++; print n + 0 }')
  log "requests per proxy: $(for ((i = 1; i <= PROXIES; i++)); do printf 'proxy %d %s; ' "$i" "${FIGURE[race-p$i]}"; done)uploads whose PUT went to another proxy than their POST: ${FIGURE[race-crossed]}"

  held=$(scope_held race)
  used=$(used race)
  FIGURE[race-overshoot]=$((held > RACE_LIMIT ? held - RACE_LIMIT : 0))
  check_eq "overshoot: bytes the registry holds under race beyond its limit ($held held)" 0 "${FIGURE[race-overshoot]}"
  check_eq "the registry holds 201s x size under race" "$((n201 * RACE_SIZE))" "$held"
  check_eq "Redis charges race (qp:{race}:used) 201s x size" "$((n201 * RACE_SIZE))" "$used"
  took=$(wait_ledger 60 race) || fail "the ledger feed did not catch up with race within 60 s"
  ledger=$(ledger_used race)
  check_eq "the ledger charges race (scope_usage, caught up after $took s) 201s x size" "$((n201 * RACE_SIZE))" "$ledger"
  check_eq "nothing of race is left reserved" 0 "$(reserved_total race)"
}

# ---------------------------------------------------------------- 2. a proxy killed mid-push

test_proxy_kill() {
  local dir=$QP_TMP/crash base loc digest before r i code t_kill slow_pid slow_rc took ok=0 codes=""
  local victim=$CRASH_VICTIM
  base=http://127.0.0.1:${FLEET_PORTS[victim]}
  step "proxy-kill: a $((CRASH_SIZE / MIB)) MiB PUT at $CRASH_RATE/s straight into proxy $victim, killed (-9) 2 s in"
  mkdir -p "$dir"
  HTTP_DIR=$dir
  before=$(reserved crash)
  random_file "$dir/big" "$CRASH_SIZE"
  digest=$(sha256_of "$dir/big")
  start_upload "$base" crash/big || return 0
  loc=$UPLOAD_URL
  curl -s -o /dev/null --max-time 60 --limit-rate "$CRASH_RATE" -X PUT -H 'Expect:' \
    -H 'Content-Type: application/octet-stream' --data-binary "@$dir/big" "$(with_digest "$loc" "$digest")" &
  slow_pid=$!
  for ((i = 0; i < 50; i++)); do
    r=$(reserved crash)
    ((r > before)) && break
    sleep 0.1
  done
  check "the upload holds its bytes reserved in scope crash ($r, before $before)" test "$r" -gt "$before"
  sleep 2
  fleet_kill "$victim"
  t_kill=$(now)
  slow_rc=0
  wait "$slow_pid" || slow_rc=$?
  log "proxy $victim killed; its client's curl ended with exit code $slow_rc; reserved in scope crash: $(reserved crash)"

  # The other two keep serving: every push through HAProxy succeeds, at once.
  PROXY_URL=$LB_URL
  for ((i = 1; i <= 6; i++)); do
    random_file "$dir/after$i" $((256 * KIB))
    code=$(upload_blob crash/after "$dir/after$i" put)
    codes+="$code "
    [[ "$code" == 201 ]] && ok=$((ok + 1))
  done
  check_eq "pushes through HAProxy right after the kill: all accepted (statuses: $codes)" 6 "$ok"
  if wait_lb_status "p$victim" DOWN 10; then
    pass "HAProxy marks proxy $victim DOWN ($(fsecs "$t_kill") s after the kill)"
  else
    fail "HAProxy does not mark proxy $victim DOWN within 10 s ($(lb_status "p$victim"))"
  fi

  # Its reservation lapses with its lease (30 s), then the next decision releases it.
  for ((i = 0; i < 120; i++)); do
    r=$(reserved crash)
    ((r == before)) && break
    # A decision in the namespace purges expired reservations: a push every few seconds.
    if ((i % 10 == 9)); then
      random_file "$dir/tick" 4096
      upload_blob crash/tick "$dir/tick" put >/dev/null
    fi
    sleep 0.5
  done
  took=$(fsecs "$t_kill")
  FIGURE[kill-reserved]=$took
  check_eq "scope crash's reserved bytes are back to what they were (${took} s after the kill; lease 30 s)" "$before" "$r"
  check "...and not before the lease ran out (${took} s >= 29 s)" awk -v t="$took" 'BEGIN { exit !(t >= 29) }'
  check "...and within the lease plus 15 s (${took} s)" awk -v t="$took" 'BEGIN { exit !(t <= 45) }'

  step "proxy-kill: proxy $victim started again rejoins"
  t_kill=$(now)
  fleet_up "$victim"
  if wait_lb_status "p$victim" UP 30; then
    FIGURE[kill-rejoin]=$(fsecs "$t_kill")
    pass "HAProxy sees proxy $victim UP again (${FIGURE[kill-rejoin]} s after its start; log ${FLEET_LOGS[victim]})"
  else
    FIGURE[kill-rejoin]=never
    fail "HAProxy does not see proxy $victim UP within 30 s ($(lb_status "p$victim"))"
  fi
  ok=0 codes=""
  PROXY_URL=$LB_URL
  for ((i = 1; i <= 6; i++)); do
    random_file "$dir/again$i" $((64 * KIB))
    code=$(upload_blob crash/again "$dir/again$i" put)
    codes+="$code "
    [[ "$code" == 201 ]] && ok=$((ok + 1))
  done
  check_eq "pushes through HAProxy after it rejoined: all accepted (statuses: $codes)" 6 "$ok"
  r=$(jq -R 'fromjson? | objects | select(has("op")) | select(.path | startswith("/v2/crash/again/")) | 1' "${FLEET_LOGS[victim]}" | wc -l)
  check "proxy $victim, rejoined, served some of them ($r requests)" test "$r" -gt 0
}

# ---------------------------------------------------------------- 3. a Redis primary killed

# fail_client K: pushes FAIL_SIZE blobs through HAProxy into fail/cK until STOP_FILE, deleting
# its oldest blob whenever it holds more than FAIL_KEEP, so the scope stays near its limit.
# Appends "start end kind digest status retry-after error-code" to fail/cK.tsv.
fail_client() {
  local k=$1 dir=$QP_TMP/fail/c$1 file start code ra err digest
  local -a mine=()
  HTTP_DIR=$dir
  HTTP_OPTS=(--max-time 60 --no-show-error)
  PROXY_URL=$LB_URL
  mkdir -p "$dir"
  file=$dir/blob
  set +e
  while [[ ! -e "$STOP_FILE" ]]; do
    random_file "$file" "$FAIL_SIZE"
    digest=$(sha256_of "$file")
    start=$(now)
    code=$(upload_blob "fail/c$k" "$file" put)
    ra=$(header Retry-After) || ra=-
    err=$(jq -r '.errors[0].code // "-"' "$dir/http.body" 2>/dev/null) || err=-
    printf '%s\t%s\tpush\t%s\t%s\t%s\t%s\n' "$start" "$(now)" "$digest" "$code" "${ra:--}" "${err:--}" >>"$dir.tsv"
    [[ "$code" == 201 ]] && mine+=("$digest")
    if ((${#mine[@]} > FAIL_KEEP)); then
      start=$(now)
      code=$(http DELETE "$LB_URL/v2/fail/c$k/blobs/${mine[0]}")
      ra=$(header Retry-After) || ra=-
      printf '%s\t%s\tdelete\t%s\t%s\t%s\t-\n' "$start" "$(now)" "${mine[0]}" "$code" "${ra:--}" >>"$dir.tsv"
      [[ "$code" == 202 || "$code" == 404 ]] && mine=("${mine[@]:1}")
    fi
    sleep 0.05
  done
}

# pull_client DIGEST: GETs fail/pull's blob DIGEST through HAProxy until STOP_FILE; appends
# "start end pull digest status retry-after -" to fail/pull.tsv.
pull_client() {
  local digest=$1 dir=$QP_TMP/fail/pull start code ra
  HTTP_DIR=$dir
  HTTP_OPTS=(--max-time 60 --no-show-error)
  mkdir -p "$dir"
  set +e
  while [[ ! -e "$STOP_FILE" ]]; do
    start=$(now)
    code=$(http GET "$LB_URL/v2/fail/pull/blobs/$digest")
    ra=$(header Retry-After) || ra=-
    printf '%s\t%s\tpull\t%s\t%s\t%s\t-\n' "$start" "$(now)" "$digest" "$code" "${ra:--}" >>"$dir.tsv"
    sleep 0.1
  done
}

# repl_offset PORT FIELD: a number from INFO replication of the node on PORT (master_repl_offset,
# slave_repl_offset).
repl_offset() {
  cluster_cli "$1" INFO replication | tr -d '\r' | awk -F: -v f="$2" '$1 == f { print $2 }'
}

# replica_of PORT: the port of a replica of the primary on PORT.
replica_of() {
  local id
  id=$(cluster_cli "$1" CLUSTER MYID)
  cluster_cli "$REDIS_PORT" CLUSTER NODES | awk -v id="$id" '$4 == id && $3 ~ /slave/ { split($2, a, "[:@]"); print a[2]; exit }'
}

test_failover() {
  local dir=$QP_TMP/fail k owner idx slot t_kill t_new t_ok new i pid bad held digest replica offset
  step "failover: $FAIL_CLIENTS clients push $((FAIL_SIZE / KIB)) KiB blobs through HAProxy into scope fail (hard limit $((FAIL_LIMIT / MIB)) MiB), one pulls; the primary of {fail} killed (-9)"
  mkdir -p "$dir"
  rm -f "$STOP_FILE"
  # A blob to pull: pulls must go on while the namespace's primary is gone.
  random_file "$dir/pull.bin" $((64 * KIB))
  digest=$(sha256_of "$dir/pull.bin")
  HTTP_DIR=$dir
  PROXY_URL=$LB_URL
  check_eq "a blob to pull during the failover is pushed (fail/pull)" 201 "$(upload_blob fail/pull "$dir/pull.bin" put)"
  pull_client "$digest" &
  CLIENT_PIDS+=($!)
  for ((k = 1; k <= FAIL_CLIENTS; k++)); do
    fail_client "$k" &
    CLIENT_PIDS+=($!)
  done
  sleep "$FAIL_BEFORE"
  slot=$(cluster_cli "$REDIS_PORT" CLUSTER KEYSLOT '{fail}')
  owner=$(slot_owner '{fail}')
  idx=$(cluster_index "$owner") || die "no node on port $owner (slot owner of {fail})"
  replica=$(replica_of "$owner")
  log "{fail} hashes to slot $slot, served by the primary on port $owner (node $idx), replicated to port ${replica:-none}"
  if ((FAIL_LAG)); then
    # Asynchronous replication loses what the replica had not received when the primary dies. On
    # loopback a replica is never behind for long, so it is held back: its replication link is
    # cut (CLIENT KILL TYPE replica) and it cannot link again (a masterauth the primary refuses);
    # the cluster bus is untouched, so it stays eligible (node timeout x validity factor: 20 s).
    # What the primary acknowledges in the next 2 s is lost with it.
    cluster_cli "$replica" CONFIG SET masterauth not-the-primarys-password >/dev/null
    cluster_cli "$owner" CLIENT KILL TYPE replica >/dev/null
    sleep 2
  fi
  offset=$(repl_offset "$owner" master_repl_offset)
  kill -KILL "${CLUSTER_PIDS[idx]}"
  t_kill=$(now)
  KILL_AT=$t_kill
  wait "${CLUSTER_PIDS[idx]}" 2>/dev/null || true
  FIGURE[fail-behind]=$((offset - $(repl_offset "$replica" slave_repl_offset)))
  log "primary killed (-9) under load; its replica is at least ${FIGURE[fail-behind]} bytes of replication stream behind it$(
    ((FAIL_LAG)) && echo " (its link cut 2 s before: FAIL_LAG=1)")"
  if ((FAIL_LAG)); then cluster_cli "$replica" CONFIG SET masterauth "" >/dev/null; fi
  cluster_use_live_node
  t_new="" t_ok=""
  for ((i = 0; i < 300; i++)); do
    new=$(slot_owner '{fail}') || new=""
    if [[ -z "$t_new" && -n "$new" && "$new" != "$owner" ]]; then t_new=$(now); fi
    if [[ -n "$t_new" ]] && wait_cluster_ok 1; then t_ok=$(now); break; fi
    sleep 0.1
  done
  if [[ -n "$t_ok" ]]; then
    FIGURE[failover]=$(awk -v a="$t_kill" -v b="$t_ok" 'BEGIN { printf "%.1f", b - a }')
    pass "the replica on port $new took over slot $slot; cluster_state:ok on every live node ${FIGURE[failover]} s after the kill"
  else
    FIGURE[failover]=never
    die "no replica took over slot $slot within 30 s (cluster: $(cluster_cli "$REDIS_PORT" CLUSTER INFO | head -n 1))"
  fi
  sleep "$FAIL_AFTER"
  touch "$STOP_FILE"
  for pid in "${CLIENT_PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
  CLIENT_PIDS=()

  cat "$dir"/c*.tsv | sort -g >"$dir/all.tsv"
  cat "$dir/pull.tsv" >>"$dir/all.tsv"
  log "pushes, deletes and pulls by status (retry-after, error code):"
  awk -F'\t' '{ n[$3 " " $5 " " ($6 == "-" ? "" : "Retry-After:" $6) " " ($7 == "-" ? "" : $7)]++ } END { for (k in n) printf "        %-40s %d\n", k, n[k] }' \
    "$dir/all.tsv" | sort
  log "while the slot had no primary (kill to cluster_state:ok, +1 s): $(awk -F'\t' -v a="$t_kill" -v b="$t_ok" \
    '$2 >= a && $1 <= b + 1 { n[$3 " " $5]++ } END { for (k in n) printf "%s x%d; ", k, n[k] }' "$dir/all.tsv")"
  FIGURE[fail-201]=$(awk -F'\t' '$3 == "push" && $5 == 201' "$dir/all.tsv" | wc -l)
  FIGURE[fail-503]=$(awk -F'\t' '$5 == 503' "$dir/all.tsv" | wc -l)
  bad=$(awk -F'\t' '$5 == 503 && $6 == "-"' "$dir/all.tsv" | wc -l)
  check_eq "every 503 carries Retry-After (${FIGURE[fail-503]} 503s)" 0 "$bad"
  bad=$(awk -F'\t' '($3 == "push" && $5 != 201 && $5 != 503 && !($5 == 403 && $7 == "DENIED")) ||
    ($3 == "delete" && $5 != 202 && $5 != 404 && $5 != 503)' "$dir/all.tsv")
  check "pushes answered only 201, 403 DENIED or 503; deletes 202, 404 or 503" test -z "$bad"
  [[ -z "$bad" ]] || printf '      %s\n' "${bad//$'\n'/$'\n'      }"
  bad=$(awk -F'\t' '$3 == "pull" && $5 != 200' "$dir/all.tsv" | wc -l)
  FIGURE[fail-pulls-bad]=$bad
  FIGURE[fail-pulls]=$(awk -F'\t' '$3 == "pull"' "$dir/all.tsv" | wc -l)
  check_eq "pulls go on through the failover: every pull 200 (${FIGURE[fail-pulls]} pulls; not 200)" 0 "$bad"
  # Once every node says ok again, the proxies decide again: a 503 later than 5 s after that is not
  # the failover's. What they decide depends on the state the failover left (see the figures).
  i=$(awk -F'\t' -v b="$t_ok" '$5 == 503 && $1 >= b + 5' "$dir/all.tsv" | wc -l)
  check_eq "no 503 for requests started 5 s or more after cluster_state:ok" 0 "$i"
  FIGURE[fail-after]=$(awk -F'\t' -v b="$t_ok" '$3 == "push" && $1 >= b { n[$5 ($7 == "-" ? "" : " " $7)]++ }
    END { for (k in n) printf "%s x %s, ", n[k], k }' "$dir/all.tsv" | sed 's/, $//')
  log "pushes started after cluster_state:ok: ${FIGURE[fail-after]:-none}"
  log "what the proxies logged about namespace fail from the kill on (first-last time, count, message; ids as *):"
  grep -h -E '^[0-9-]+T[0-9:.]+Z (WARN|ERROR|INFO) +d\.q\.m\.' "$QP_TMP"/proxy-*.log | grep -E ' fail[:/ ]' \
    | awk -v from="$(date -u -d "@${t_kill%.*}" +%Y-%m-%dT%H:%M:%S)" 'substr($1, 1, 19) >= from' | sort \
    | awk '{ t = substr($1, 12, 12); $1 = ""; m = $0
             gsub(/session:[0-9a-f-]+/, "session:*", m); gsub(/sha256:[0-9a-f]+/, "sha256:*", m)
             gsub(/fail\/c[0-9]+/, "fail/c*", m); sub(/ \(.*/, "", m); m = substr(m, 2, 170)
             if (!(m in n)) { order[++k] = m; first[m] = t }; n[m]++; last[m] = t }
           END { for (i = 1; i <= k; i++) { m = order[i]; printf "        %s-%s x%-3d %s\n", first[m], last[m], n[m], m } }' \
    | head -n 15
  held=$(scope_held fail)
  FIGURE[fail-overshoot]=$((held > FAIL_LIMIT ? held - FAIL_LIMIT : 0))
  check_eq "overshoot: bytes the registry holds under fail beyond its limit ($held held)" 0 "${FIGURE[fail-overshoot]}"
}

# ---------------------------------------------------------------- 4. reconciliation

# print_scopes DIR: the table of DIR/scopes.tsv (measure_scopes), marking rows that differ; sets
# FIGURE[drift-DIR]: sum of |redis - registry| + |ledger - registry| over the scopes.
print_scopes() {
  local dir=$1
  printf '      %-24s %12s %12s %12s\n' scope registry redis ledger
  awk -F'\t' '($2 || $3 || $4) { printf "      %-24s %12s %12s %12s%s\n", $1, $2, $3, $4, ($2 == $3 && $2 == $4) ? "" : "   <- differs" }' \
    "$dir/scopes.tsv"
  FIGURE[drift-$(basename "$dir")]=$(awk -F'\t' 'function abs(x) { return x < 0 ? -x : x }
    { d += abs($3 - $2) + abs($4 - $2) } END { print d + 0 }' "$dir/scopes.tsv")
}

# explain_drift NS: digest by digest, where the registry's storage, Redis (qp:{ns}:present:<repo>)
# and the ledger (repository_blobs) disagree about the namespace's repositories, with what the
# clients did with each digest (fail/all.tsv), in seconds from the primary's kill.
explain_drift() {
  local ns=$1 dir=$QP_TMP/check-before repo
  awk -F'\t' -v p="$ns/" 'index($1, p) == 1 { print $1 "\t" $2 }' "$dir/held.tsv" | sort -u >"$dir/$ns-registry.lst"
  sql "select repository, digest from repository_blobs where repository like '$ns/%'" | sort -u >"$dir/$ns-ledger.lst" \
    || fail "read repository_blobs from the ledger"
  while read -r repo; do
    rcli HGETALL "qp:{$ns}:present:$repo" | paste - - | awk -F'\t' -v r="$repo" '$2 > 0 { print r "\t" $1 }'
  done < <(cut -f1 "$dir/$ns-registry.lst" "$dir/$ns-ledger.lst" | sort -u) | sort -u >"$dir/$ns-redis.lst"
  step "what differs in $ns, digest by digest (registry / Redis / ledger; the clients' requests, seconds from the kill)"
  awk -F'\t' -v OFS='\t' '
    FILENAME ~ /registry.lst$/ { k = $1 SUBSEP $2; reg[k] = 1; all[k] = 1; next }
    FILENAME ~ /redis.lst$/    { k = $1 SUBSEP $2; red[k] = 1; all[k] = 1; next }
    FILENAME ~ /ledger.lst$/   { k = $1 SUBSEP $2; led[k] = 1; all[k] = 1; next }
    END { for (k in all) if (!(reg[k] == red[k] && reg[k] == led[k])) { split(k, p, SUBSEP)
            print p[1], p[2], (reg[k] ? "yes" : "no"), (red[k] ? "yes" : "no"), (led[k] ? "yes" : "no") } }' \
    "$dir/$ns-registry.lst" "$dir/$ns-redis.lst" "$dir/$ns-ledger.lst" | sort >"$dir/$ns-differs.tsv"
  while IFS=$'\t' read -r repo digest in_reg in_redis in_ledger; do
    printf '      %s %s: registry %s, redis %s, ledger %s; %s\n' "$repo" "${digest:0:19}" "$in_reg" "$in_redis" "$in_ledger" \
      "$(awk -F'\t' -v d="$digest" -v k="$KILL_AT" '$4 == d { printf "%s %s %+.2f..%+.2f s; ", $3, $5, $1 - k, $2 - k }' \
        "$QP_TMP/$ns/all.tsv")"
  done <"$dir/$ns-differs.tsv"
}

test_reconcile() {
  local out took i metric
  step "quiet: every proxy ready, the ledger caught up, every intent settled"
  for ((i = 1; i <= PROXIES; i++)); do
    wait_http "http://127.0.0.1:${FLEET_ADMIN[i]}/readyz" "${FLEET_PIDS[i]}" 60 || fail "proxy $i is not ready (/readyz) 60 s after the failover"
  done
  if took=$(wait_ledger 60 "${NAMESPACES[@]}"); then
    log "ledger caught up and intents settled $took s after the load stopped"
    # The gauge is sampled every 15 s: give it two samples.
    for ((i = 0; i < 40; i++)); do
      metric=$(metric quota_proxy_ledger_pending_events)
      [[ "$metric" == 0 ]] && break
      sleep 1
    done
  else
    fail "the ledger feed did not catch up (or intents stayed unsettled) within 60 s (its state above)"
    metric=$(metric quota_proxy_ledger_pending_events)
  fi
  check "quota_proxy_ledger_pending_events reads 0 (${metric:-none})" test "$metric" = 0
  for ((i = 0; i < 40; i++)); do
    [[ "$(rcli EXISTS 'qp:{fail}:epoch:3')" == 1 ]] && break
    sleep 0.5
  done

  wait_reconciled_after_loss

  step "after the failover and its reconciliation: the registry's storage, Redis and the ledger, per scope"
  measure_scopes "$QP_TMP/check-before"
  print_scopes "$QP_TMP/check-before"
  ((FIGURE[drift-check-before] == 0)) || explain_drift fail
  check_eq "Redis, the ledger and the registry agree for every scope, with no reconciliation asked for (bytes of drift)" \
    0 "${FIGURE[drift-check-before]}"

  step "POST /api/v1/reconciliations (proxy 1's admin API): nothing left to correct"
  out=$(admin_api POST /reconciliations) || { fail "POST /api/v1/reconciliations"; return; }
  printf '%s\n' "$out" >"$QP_TMP/reconciliation.json"
  log "redis drift:    $(jq -c '.redis.drift' <<<"$out")"
  log "registry drift: $(jq -c '.registry.drift' <<<"$out") ($(jq -r '.registry.repositories' <<<"$out") repositories)"
  FIGURE[reconciled]=$(jq '[(.redis.drift // [])[], (.registry.drift // [])[]] | length' <<<"$out")
  check_eq "the reconciliation asked for finds no drift (scopes)" 0 "${FIGURE[reconciled]}"
}

# wait_reconciled_after_loss: a proxy that restored a namespace because Redis had lost writes
# reconciles by itself, ledger.reconcile-after-loss later; waits (at most 90 s) until the runs
# that started after the kill are done, and prints the drift they corrected (FIGURE[auto-drift]).
wait_reconciled_after_loss() {
  local losses i runs open
  losses=$(cat "$QP_TMP"/proxy-*.log 2>/dev/null | grep -c 'reconciled with the registry in' || true)
  step "the reconciliation that follows the loss of Redis writes (ledger.reconcile-after-loss ${AFTER_LOSS}s)"
  if ((losses == 0)); then
    log "no proxy found lost writes: no reconciliation follows"
    FIGURE[auto-runs]=0 FIGURE[auto-drift]=0
    return
  fi
  log "$losses time(s) a proxy found Redis had lost writes and armed a reconciliation"
  local since="to_timestamp(${KILL_AT%.*})"
  for ((i = 0; i < 180; i++)); do
    runs=$(sql "select count(*) from reconciliations where kind = 'registry' and started_at >= $since and status = 'done'")
    open=$(sql "select count(*) from reconciliations where kind = 'registry' and started_at >= $since and status = 'running'")
    ((runs > 0 && open == 0)) && break
    sleep 0.5
  done
  FIGURE[auto-runs]=$runs
  check "a reconciliation ran by itself after the loss (${runs} registry run(s) done since the kill)" test "$runs" -gt 0
  sql "select r.kind, d.scope, d.expected_bytes, d.found_bytes from drift d join reconciliations r on r.id = d.reconciliation_id
       where r.started_at >= $since order by r.id, d.scope" >"$QP_TMP/auto-drift.tsv" || true
  awk -F'\t' '{ printf "      %-9s %-24s expected %12s found %12s\n", $1, $2, $3, $4 }' "$QP_TMP/auto-drift.tsv"
  FIGURE[auto-drift]=$(awk -F'\t' '$1 == "registry" && $2 !~ /\// { d = $3 - $4; s += d < 0 ? -d : d } END { print s + 0 }' "$QP_TMP/auto-drift.tsv")
  log "it corrected ${FIGURE[auto-drift]} bytes in namespaces against the registry"
  wait_ledger 20 "${NAMESPACES[@]}" >/dev/null || fail "the ledger feed did not catch up after the reconciliation (its state above)"
  for ((i = 0; i < 20; i++)); do
    [[ "$(rcli EXISTS 'qp:{fail}:epoch:3')" == 1 ]] && break
    sleep 0.5
  done
}

check_after() {
  local i
  step "after the reconciliation: the registry's storage, Redis and the ledger, per scope"
  wait_ledger 20 "${NAMESPACES[@]}" >/dev/null || fail "the ledger feed did not catch up after the reconciliation (its state above)"
  for ((i = 0; i < 20; i++)); do
    [[ "$(rcli EXISTS 'qp:{fail}:epoch:3')" == 1 ]] && break
    sleep 0.5
  done
  measure_scopes "$QP_TMP/check-after"
  print_scopes "$QP_TMP/check-after"
  check_eq "after the reconciliation, Redis, the ledger and the registry agree for every scope (bytes of drift)" 0 "${FIGURE[drift-check-after]}"
}

# wait_unreserved: until no namespace holds reserved bytes, at most 60 s. A request whose release
# failed while its namespace had no primary keeps its reservation until its lease (30 s) lapses,
# and the next decision in the namespace releases it: a small push into <ns>/tick every 5 s.
wait_unreserved() {
  local t0 i ns r left file=$QP_TMP/tick.bin
  local -a pending
  step "nothing left reserved (a reservation whose release failed lapses with its lease, 30 s)"
  t0=$(now)
  HTTP_DIR=$QP_TMP
  PROXY_URL=$LB_URL
  for ((i = 0; i < 120; i++)); do
    left="" pending=()
    for ns in "${NAMESPACES[@]}"; do
      r=$(reserved_total "$ns")
      ((r == 0)) || { left+="$ns=$r "; pending+=("$ns"); }
    done
    [[ -z "$left" ]] && break
    if ((i % 10 == 0)); then
      log "$(fsecs "$t0") s: still reserved: $left"
      for ns in "${pending[@]}"; do
        random_file "$file" 4096
        upload_blob "$ns/tick" "$file" put >/dev/null
      done
    fi
    sleep 0.5
  done
  FIGURE[unreserved]=$(fsecs "$t0")
  check "nothing is left reserved in any namespace (${FIGURE[unreserved]} s after the reconciliation${left:+; still: $left})" test -z "$left"
}

scale_figures() {
  local i key
  # A part that failed early left some figures unset.
  for key in setup race race-overshoot race-crossed kill-reserved kill-rejoin failover fail-201 fail-503 fail-behind fail-pulls fail-pulls-bad fail-after unreserved \
    fail-overshoot auto-runs auto-drift drift-check-before reconciled drift-check-after race-p1 race-p2 race-p3; do
    FIGURE[$key]=${FIGURE[$key]:-?}
  done
  step "figures"
  log "topology up in ${FIGURE[setup]} s"
  echo
  echo "scale: race ${FIGURE[race]} (limit $((RACE_LIMIT / RACE_SIZE)) x $((RACE_SIZE / KIB)) KiB), overshoot ${FIGURE[race-overshoot]} bytes," \
    "requests per proxy $(for ((i = 1; i <= PROXIES; i++)); do printf '%s/' "${FIGURE[race-p$i]}"; done | sed 's,/$,,'), sessions across proxies ${FIGURE[race-crossed]}"
  echo "scale: proxy killed: reservation back after ${FIGURE[kill-reserved]} s, rejoined after ${FIGURE[kill-rejoin]} s"
  local held=""
  ((FAIL_LAG == 0)) || held="replica's link cut 2 s before, "
  echo "scale: primary killed (${held}at least ${FIGURE[fail-behind]} bytes of replication lost): failover ${FIGURE[failover]} s, ${FIGURE[fail-201]} pushes accepted, ${FIGURE[fail-503]} x 503, ${FIGURE[fail-pulls]} pulls (${FIGURE[fail-pulls-bad]} not 200), overshoot ${FIGURE[fail-overshoot]} bytes;" \
    "pushes after it ${FIGURE[fail-after]}; reconciled by itself after the loss (${FIGURE[auto-runs]} run(s), ${FIGURE[auto-drift]} bytes corrected), drift then ${FIGURE[drift-check-before]} bytes, a reconciliation asked for corrected ${FIGURE[reconciled]} scope(s), drift after ${FIGURE[drift-check-after]} bytes; reserved bytes gone ${FIGURE[unreserved]} s after it"
}

scale_main() {
  local t0
  t0=$(now)
  scale_setup
  test_race
  test_proxy_kill
  test_failover
  test_reconcile
  wait_unreserved
  check_after
  scale_figures
  log "e2e-scale took $(fsecs "$t0") s"
  summary e2e-scale
}

scale_main "$@"
