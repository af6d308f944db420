#!/usr/bin/env bash
# The scale-out benchmark (issue 12): one Gatling workload, in one run, on 127.0.0.1, against one
# docker-registry, through each of these targets:
#
#   direct    the registry itself: the baseline
#   haproxy   the registry through HAProxy alone (start_haproxy, lib/common.sh): what a plain
#             HTTP hop adds, to tell HAProxy's share of the fleet's figures from the proxies'
#   proxy     one proxy (the jar) on a standalone redis-server, quotas on, a hard limit per tenant
#   fleet     three proxies on a Redis Cluster of 3 primaries + 3 replicas, behind HAProxy (round
#             robin, /healthz checks: lib/cluster.sh, as scripts/e2e-scale.sh runs it), the same
#             limits; the same Postgres as "proxy" (another database: each Redis has its ledger)
#
# The workload is loadtest's BenchSimulation: BENCH_USERS users at once (closed), each pushing a fresh
# image (blob HEAD, POST + monolithic PUT of the config, blob HEAD, POST + PATCH + closing PUT of a
# layer of BENCH_MIN_KIB to BENCH_MAX_KIB, manifest PUT) and pulling it back (manifest HEAD and GET,
# blob GET), image after image, for BENCH_SECONDS; 11 requests per image, 6 of them push decisions
# (2 upload starts, 1 chunk, 2 completes, 1 manifest PUT). Tenants: BENCH_TENANTS namespaces, so on
# the Cluster their slots spread over the primaries. Gatling runs as a plain JVM (no Maven) per run.
#
# Rounds: one untimed warm-up round of every target (JIT, connection pools, the registry's page
# cache), then BENCH_ROUNDS rounds, the order of the targets rotated each round, so the shared
# machine's noise falls on all of them alike, then an idle window of BENCH_SECONDS with no load (at
# the end, when the JVMs have finished compiling). Every figure printed is the median over the rounds.
#
# What is measured, per run, over exactly the window of the load (the simulation waits for the
# script's "before" figures, and signals when its last user is done):
#   rps            Gatling's requests (all answered as expected, or the run fails) / the window
#   p50, p99       Gatling's response times (whole milliseconds), and added p50/p99: the target's
#                  minus the direct run's of the same round
#   Redis          before and after, minus what the same counters did in the idle window (ledger
#                  feed, state sampler, readiness, gossip, the script's own INFO and scrapes), scaled
#                  to the run's length, per proxied request:
#                    sent      commands the proxies' Redis clients sent (vertx_redis_processing_time_
#                              seconds_count on their /metrics): the proxies' round trips
#                    reads     read events of the primaries (INFO stats total_reads_processed): round
#                              trips as Redis sees them (commands pipelined together are one read)
#                    exec      commands the primaries executed (INFO commandstats), those the Lua scripts
#                              call included: Redis's work
#                    replica   commands the Cluster's replicas applied (replication)
#                  and EVALSHA per push decision: every script call, the pulls' egress metering
#                  included, divided by the push decisions the proxies count in
#                  quota_proxy_requests_total (UPLOAD_START, UPLOAD_MONOLITHIC, BLOB_MOUNT,
#                  UPLOAD_CHUNK, UPLOAD_COMPLETE, MANIFEST_PUT). Per image it also prints the
#                  commands executed by name and the proxies' store calls by operation
#                  (quota_proxy_redis_call_duration_seconds_count).
#   CPU            utime + stime of each process (/proc/PID/stat; Postgres: the postmaster and its
#                  backends) before and after, minus its idle-window rate, in ms per request: the
#                  proxies (the three summed for the fleet), Redis (the six nodes), HAProxy, the
#                  registry, Postgres.
#
# Nothing is asserted (a benchmark, not a test): it exits non-zero only if something failed to run, or
# a run had more than BENCH_MAX_ERROR_PERCENT of its requests fail (a refusal, a 503 from a quota
# store call cut off by its 2 s timeout on an overloaded machine: the image is abandoned, the user goes
# on). Failed requests are counted in the table, and the proxies' warnings and errors over the whole
# benchmark are summed up at the end.
#
#   mvn -B -q -DskipTests package && scripts/bench-scale.sh
#
# Environment (defaults in brackets):
#   BENCH_ROUNDS [3]           timed rounds of every target (after one warm-up round)
#   BENCH_SECONDS [20]         load per run (and the idle window)
#   BENCH_WARMUP_SECONDS [20]  load per warm-up run
#   BENCH_USERS [8]            concurrent users (closed workload)
#   BENCH_RATE [0]             users a second instead (open workload, each one image), if above 0
#   BENCH_TENANTS [12]         namespaces tenant0..; each has a hard limit of 10 GiB
#   BENCH_MIN_KIB [4], BENCH_MAX_KIB [64]   layer sizes
#   BENCH_TARGETS [direct haproxy proxy fleet]   (direct is needed for the added latency); also
#                              cluster1: one more proxy on the same Cluster, alone, without HAProxy
#   BENCH_MAX_ERROR_PERCENT [1]  failed requests a run may have
#   GATLING_JAVA_OPTS [-Xmx512m]
#   QP_JAR, JAVA_OPTS, KEEP_TMP  see scripts/lib/common.sh (JAVA_OPTS defaults to -Xmx384m here:
#                              four proxies share the machine)
# 8 to 10 minutes on 2 cores with the defaults (the topology takes 40 s to start). Not run in CI.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source-path=SCRIPTDIR source=lib/common.sh
source "$HERE/lib/common.sh"
# shellcheck source-path=SCRIPTDIR source=lib/postgres.sh
source "$HERE/lib/postgres.sh"
# shellcheck source-path=SCRIPTDIR source=lib/cluster.sh
source "$HERE/lib/cluster.sh"

ROUNDS=${BENCH_ROUNDS:-3}
RUN_SECONDS=${BENCH_SECONDS:-20}
WARMUP_SECONDS=${BENCH_WARMUP_SECONDS:-20}
USERS=${BENCH_USERS:-8}
RATE=${BENCH_RATE:-0}
TENANTS=${BENCH_TENANTS:-12}
MIN_KIB=${BENCH_MIN_KIB:-4} MAX_KIB=${BENCH_MAX_KIB:-64}
MAX_ERROR_PERCENT=${BENCH_MAX_ERROR_PERCENT:-1}
read -r -a TARGETS <<<"${BENCH_TARGETS:-direct haproxy proxy fleet}"
GATLING_JAVA_OPTS=${GATLING_JAVA_OPTS:--Xmx512m}
JAVA_OPTS=${JAVA_OPTS:--Xmx384m}
ADMIN_TOKEN=bench-scale-admin-token-0123456789abcdef
PUSH_OPS="UPLOAD_START UPLOAD_MONOLITHIC BLOB_MOUNT UPLOAD_CHUNK UPLOAD_COMPLETE MANIFEST_PUT"
CLK_TCK=$(getconf CLK_TCK)
GATLING_CP=""
GATLING_PID=""
IDLE_SECS=""
SOLO_ADMIN=""
declare -A URL=() PIDS=() NODE_PORT=() NODE_ROLE=()
# What each target uses: its processes (keys of PIDS, "pg" for Postgres), its Redis nodes (keys of
# NODE_PORT), its proxies' admin ports.
declare -A T_PROCS=() T_NODES=() T_ADMINS=()

bench_scale_cleanup() {
  local rc=$?
  set +e
  [[ -n "$GATLING_PID" ]] && qp_stop_pid "$GATLING_PID"
  pg_down
  (exit "$rc")
  qp_cleanup
}

# ---------------------------------------------------------------- topology

bench_scale_setup() {
  local i t0 tenants_yaml
  need java mvn curl awk docker-registry redis-server redis-cli haproxy psql runuser getconf
  qp_init bench-scale
  trap bench_scale_cleanup EXIT
  mkdir -p "$QP_TMP/runs"
  t0=$(now)

  step "the Gatling workload: loadtest's test classes and their classpath (one Maven run)"
  mvn -B -q -f "$QP_ROOT/loadtest/pom.xml" test-compile dependency:build-classpath -Dmdep.includeScope=test \
    -Dmdep.outputFile="$QP_TMP/gatling.cp" >"$QP_TMP/mvn.log" 2>&1 || { cat "$QP_TMP/mvn.log"; die "mvn -f loadtest failed"; }
  GATLING_CP=$QP_ROOT/loadtest/target/test-classes:$(cat "$QP_TMP/gatling.cp")
  cat >"$QP_TMP/logback.xml" <<'XML'
<configuration>
  <appender name="out" class="ch.qos.logback.core.ConsoleAppender">
    <encoder><pattern>%d{HH:mm:ss.SSS} %-5level %logger{20} - %msg%n</pattern></encoder>
  </appender>
  <root level="WARN"><appender-ref ref="out"/></root>
</configuration>
XML

  step "topology: registry, HAProxy, Postgres, Redis + 1 proxy, Redis Cluster (3 + 3) + 3 proxies behind HAProxy"
  tenants_yaml=$QP_TMP/quota.yml
  {
    echo "quota:"
    echo "  scopes:"
    for ((i = 0; i < TENANTS; i++)); do echo "    tenant$i: {storage-hard: 10GiB}"; done
    echo "ledger:"
    echo "  # No periodic reconciliation: a registry walk in the middle of one run would fall on it alone."
    echo "  reconcile-interval: 0s"
  } >"$tenants_yaml"
  start_registry
  URL[direct]=$REGISTRY_URL
  PIDS[registry]=$REGISTRY_PID
  T_PROCS[direct]="registry"

  start_haproxy haproxy-direct
  URL[haproxy]=$HAPROXY_URL
  PIDS[haproxy]=$HAPROXY_PID
  T_PROCS[haproxy]="haproxy registry"

  start_postgres
  psql -h 127.0.0.1 -p "$PG_PORT" -U quota -d postgres -qc 'create database ledger_solo' || die "create database ledger_solo"

  start_redis
  PIDS[redis]=$REDIS_PID
  NODE_PORT[redis]=$REDIS_PORT
  NODE_ROLE[redis]=primary
  free_admin_port
  SOLO_ADMIN=$ADMIN_PORT
  start_proxy proxy.log --config "$tenants_yaml" --redis.url "$REDIS_URL" \
    --postgres.url "postgresql://quota@127.0.0.1:$PG_PORT/ledger_solo" --admin.port "$SOLO_ADMIN" --admin.token "$ADMIN_TOKEN"
  wait_http "http://127.0.0.1:$SOLO_ADMIN/readyz" "$PROXY_PID" 60 || die "the proxy is not ready (see $PROXY_LOG)"
  URL[proxy]=$PROXY_URL
  PIDS[proxy]=$PROXY_PID
  T_PROCS[proxy]="proxy redis registry pg"
  T_NODES[proxy]="redis"
  T_ADMINS[proxy]=$SOLO_ADMIN

  start_redis_cluster 6 1
  start_fleet 3 --config "$tenants_yaml" --redis.mode cluster --redis.nodes "$CLUSTER_NODES" \
    --postgres.url "$PG_URL" --admin.token "$ADMIN_TOKEN"
  start_lb
  URL[fleet]=$LB_URL
  PIDS[lb]=$LB_PID
  T_PROCS[fleet]="lb registry pg"
  T_NODES[fleet]=""
  T_ADMINS[fleet]=""
  for i in 1 2 3; do
    PIDS[p$i]=${FLEET_PIDS[i]}
    T_PROCS[fleet]+=" p$i"
    T_ADMINS[fleet]+=" ${FLEET_ADMIN[i]}"
  done
  for i in "${!CLUSTER_PORTS[@]}"; do
    PIDS[rc$i]=${CLUSTER_PIDS[i]}
    NODE_PORT[rc$i]=${CLUSTER_PORTS[i]}
    NODE_ROLE[rc$i]=$(cluster_cli "${CLUSTER_PORTS[i]}" INFO replication | tr -d '\r' \
      | awk -F: '$1 == "role" { print ($2 == "master") ? "primary" : "replica" }')
    T_PROCS[fleet]+=" rc$i"
    T_NODES[fleet]+=" rc$i"
  done
  if [[ " ${TARGETS[*]} " == *" cluster1 "* ]]; then
    # One more proxy on the same Cluster and ledger, alone, no HAProxy: the fleet's costs without the
    # split into three JVMs and without the balancer.
    free_admin_port
    start_proxy proxy-c1.log "${FLEET_ARGS[@]}" --admin.port "$ADMIN_PORT"
    wait_http "$ADMIN_URL/readyz" "$PROXY_PID" 60 || die "proxy c1 is not ready (see $PROXY_LOG)"
    URL[cluster1]=$PROXY_URL
    PIDS[c1]=$PROXY_PID
    T_PROCS[cluster1]="c1 registry pg${T_NODES[fleet]}"
    T_NODES[cluster1]=${T_NODES[fleet]}
    T_ADMINS[cluster1]=$ADMIN_PORT
  fi
  log "the tenants' primaries: $(for ((i = 0; i < TENANTS; i++)); do
    printf 'tenant%d rc%s, ' "$i" "$(cluster_index "$(slot_owner "qp:{tenant$i}:used")")"; done)"
  log "topology up in $(printf '%.1f' "$(elapsed "$t0")") s (JAVA_OPTS=$JAVA_OPTS for every proxy)"
}

# ---------------------------------------------------------------- figures

# proc_ticks PID: utime + stime of PID in clock ticks (0 if it is gone).
proc_ticks() {
  local stat
  stat=$(cat "/proc/$1/stat" 2>/dev/null) || { echo 0; return; }
  # Fields after the command name (which may hold spaces): state is $1, utime $12, stime $13.
  awk '{ print $12 + $13 }' <<<"${stat##*) }"
}

# pg_ticks: CPU ticks of the Postgres server: the postmaster (with its reaped children's) and every
# live process it started (backends, writers, autovacuum).
pg_ticks() {
  local pm stat total=0 pid ppid rest
  pm=$(head -n 1 "$PG_DIR/data/postmaster.pid" 2>/dev/null) || { echo 0; return; }
  stat=$(cat "/proc/$pm/stat" 2>/dev/null) || { echo 0; return; }
  total=$(awk '{ print $12 + $13 + $14 + $15 }' <<<"${stat##*) }")
  for pid in /proc/[0-9]*; do
    stat=$(cat "$pid/stat" 2>/dev/null) || continue
    rest=${stat##*) }
    read -r _ ppid _ <<<"$rest"
    [[ "$ppid" == "$pm" ]] && total=$((total + $(awk '{ print $12 + $13 }' <<<"$rest")))
  done
  echo "$total"
}

# snapshot TARGET FILE: the figures of TARGET (all targets: "all") into FILE, one "key value" a
# line: time, then cpu:PROCESS (ticks) of every process (cheap), then cmd:NODE:COMMAND (calls,
# from INFO commandstats) of the target's Redis nodes, then req:ADMIN:OPERATION (requests) and
# store:ADMIN:OPERATION (store calls) of its proxies (their /metrics). CPU first: the scrapes that
# follow cost the proxies and Redis a little, counted in this window (once per window, as in the
# idle window).
snapshot() {
  local target=$1 out=$2 name node admin nodes="" admins=""
  if [[ "$target" == all ]]; then
    nodes="${!NODE_PORT[*]}"
    admins="${T_ADMINS[proxy]:-} ${T_ADMINS[fleet]:-}"
  else
    nodes=${T_NODES[$target]:-}
    admins=${T_ADMINS[$target]:-}
  fi
  {
    echo "time $(now)"
    for name in "${!PIDS[@]}"; do echo "cpu:$name $(proc_ticks "${PIDS[$name]}")"; done
    [[ -n "$PG_DIR" ]] && echo "cpu:pg $(pg_ticks)"
    for node in $nodes; do
      redis-cli -h 127.0.0.1 -p "${NODE_PORT[$node]}" INFO commandstats stats | tr -d '\r' | awk -F'[:=,]' -v n="$node" '
        /^cmdstat_/ { sub(/^cmdstat_/, "", $1); print "cmd:" n ":" $1, $3 }
        $1 == "total_reads_processed" { print "reads:" n, $2 }'
    done
    for admin in $admins; do
      curl -sS --max-time 10 "http://127.0.0.1:$admin/metrics" | awk -v a="$admin" '
        /^quota_proxy_requests_total\{/ && match($0, /operation="[A-Z_]+"/) {
          op = substr($0, RSTART + 11, RLENGTH - 12); n["req:" a ":" op] += $NF }
        /^quota_proxy_redis_call_duration_seconds_count\{/ && match($0, /operation="[a-z_]+"/) {
          op = substr($0, RSTART + 11, RLENGTH - 12); n["store:" a ":" op] += $NF }
        /^vertx_redis_processing_time_seconds_count/ { n["sent:" a] += $NF }
        /^vertx_http_client_requests_total/ { n["up:" a] += $NF }
        END { for (k in n) print k, n[k] }'
    done
  } >"$out"
}

# delta BEFORE AFTER: "key after-before" for every key of AFTER (a key new in AFTER counts from 0).
delta() {
  awk 'NR == FNR { b[$1] = $2; next } { printf "%s %.6f\n", $1, $2 - b[$1] }' "$1" "$2"
}

# net DELTA_FILE SECONDS REGEX: the sum over the keys matching REGEX of their delta minus what the
# idle window's rate of the same key gives over SECONDS.
net() {
  awk -v secs="$2" -v re="$3" -v idle="$IDLE_SECS" 'NR == FNR { r[$1] = $2 / idle; next }
    $1 ~ re { s += $2 - r[$1] * secs } END { printf "%.6f\n", s }' "$QP_TMP/idle.delta" "$1"
}

# raw DELTA_FILE REGEX: the sum of the deltas of the keys matching REGEX.
raw() { awk -v re="$2" '$1 ~ re { s += $2 } END { printf "%.6f\n", s }' "$1"; }

# gatling_stats DIR: "requests failed p50 p99" of the run's report (js/stats.js, the first block:
# all requests), response times in whole milliseconds.
gatling_stats() {
  local stats=("$1"/*/js/stats.js)
  [[ -f "${stats[0]}" ]] || return 1
  awk '
    /"(numberOfRequests|percentiles1|percentiles4)": \{/ { k = $1; gsub(/[":{ ]/, "", k); if (!(k in seen)) cur = k; next }
    cur != "" && /"total":/ { v = $2; gsub(/[",]/, "", v); val[cur] = v; seen[cur] = 1 }
    cur == "numberOfRequests" && /"ko":/ { v = $2; gsub(/[",]/, "", v); ko = v }
    /\}/ { cur = "" }
    END { print val["numberOfRequests"], ko + 0, val["percentiles1"], val["percentiles4"] }' "${stats[0]}"
}

# ---------------------------------------------------------------- one run

# wait_for_file FILE PID SECONDS: until FILE exists; 1 if PID ends first or time runs out.
wait_for_file() {
  local i
  for ((i = 0; i < $3 * 20; i++)); do
    [[ -f "$1" ]] && return 0
    kill -0 "$2" 2>/dev/null || { [[ -f "$1" ]]; return; }
    sleep 0.05
  done
  return 1
}

# run_target LABEL TARGET SECONDS: one Gatling run of SECONDS against TARGET, its figures in
# QP_TMP/runs/LABEL (before, after, delta, result). Dies if the run fails.
run_target() {
  local label=$1 target=$2 secs=$3 dir=$QP_TMP/runs/$1 pid stats
  mkdir -p "$dir/mark"
  # GATLING_JAVA_OPTS is deliberately word-split: it holds several JVM options.
  # shellcheck disable=SC2086
  java $GATLING_JAVA_OPTS --add-opens=java.base/java.lang=ALL-UNNAMED --add-opens=java.base/jdk.internal.misc=ALL-UNNAMED \
    -Dlogback.configurationFile="$QP_TMP/logback.xml" -DbaseUrl="${URL[$target]}" -Dseconds="$secs" -Dusers="$USERS" \
    -Drate="$RATE" -Dtenants="$TENANTS" -DminKib="$MIN_KIB" -DmaxKib="$MAX_KIB" -DmaxErrorPercent="$MAX_ERROR_PERCENT" -DmarkDir="$dir/mark" \
    -cp "$GATLING_CP" io.gatling.app.Gatling -s dev.quotaproxy.loadtest.BenchSimulation -rf "$dir/gatling" -rd "$label" \
    >"$dir/gatling.log" 2>&1 &
  pid=$!
  GATLING_PID=$pid
  PIDS[gatling]=$pid
  wait_for_file "$dir/mark/ready" "$pid" 120 || { tail -n 30 "$dir/gatling.log"; die "$label: Gatling did not start"; }
  snapshot "$target" "$dir/before"
  touch "$dir/mark/go"
  wait_for_file "$dir/mark/end" "$pid" $((secs + 300)) || { tail -n 30 "$dir/gatling.log"; die "$label: the load did not end"; }
  snapshot "$target" "$dir/after"
  wait "$pid" || { grep -E -A4 '> KO|---- Errors|Global:|Exception' "$dir/gatling.log" | head -n 30
    die "$label: the Gatling run failed (see $dir/gatling.log)"; }
  GATLING_PID=""
  unset 'PIDS[gatling]'
  delta "$dir/before" "$dir/after" >"$dir/delta"
  stats=$(gatling_stats "$dir/gatling") || die "$label: no Gatling report in $dir/gatling"
  echo "$stats $(awk '$1 == "time" { print $2 }' "$dir/delta") $(cut -d' ' -f1 /proc/loadavg)" >"$dir/result"
}

# cpu_group PROCESS: the column of the CPU table a process belongs to.
cpu_group() {
  case $1 in
    proxy | p[0-9]* | c1) echo proxies ;;
    redis | rc[0-9]*) echo redis ;;
    haproxy | lb) echo haproxy ;;
    *) echo "$1" ;;
  esac
}

# record_run ROUND TARGET: the figures of the run ROUND/TARGET (QP_TMP/runs/rROUND-TARGET) into
# QP_TMP/figures, one "round target name value" a line; net figures use the idle window.
record_run() {
  local round=$1 target=$2 dir=$QP_TMP/runs/r$1-$2 reqs ko p50 p99 secs op push=0 all imgs n proc
  local primaries="" replicas="" node sent reads cmds evalsha store
  local -A cpu=()
  read -r reqs ko p50 p99 secs _ <"$dir/result"
  {
    echo "$round $target requests $reqs"
    echo "$round $target failed $ko"
    echo "$round $target seconds $secs"
    echo "$round $target rps $(awk -v r="$reqs" -v s="$secs" 'BEGIN { printf "%.2f", r / s }')"
    echo "$round $target p50 $p50"
    echo "$round $target p99 $p99"
    for proc in ${T_PROCS[$target]} gatling; do
      n=$(net "$dir/delta" "$secs" "^cpu:$proc\$")
      echo "$round $target cpuproc_$proc $(awk -v t="$n" -v r="$reqs" -v hz="$CLK_TCK" 'BEGIN { printf "%.4f", t * 1000 / hz / r }')"
      cpu[$(cpu_group "$proc")]=$(awk -v a="${cpu[$(cpu_group "$proc")]:-0}" -v t="$n" 'BEGIN { print a + t }')
    done
    for n in "${!cpu[@]}" all; do
      # all: the servers, not the client
      [[ "$n" == all ]] && cpu[all]=$(for k in "${!cpu[@]}"; do [[ "$k" == gatling ]] || echo "${cpu[$k]}"; done | awk '{ s += $1 } END { print s }')
      echo "$round $target cpu_$n $(awk -v t="${cpu[$n]}" -v r="$reqs" -v hz="$CLK_TCK" 'BEGIN { printf "%.4f", t * 1000 / hz / r }')"
    done
    [[ -n "${T_ADMINS[$target]:-}" ]] || return 0
    for op in $PUSH_OPS; do push=$(awk -v a="$push" -v b="$(raw "$dir/delta" "^req:[0-9]+:$op\$")" 'BEGIN { print a + b }'); done
    all=$(raw "$dir/delta" '^req:')
    imgs=$(raw "$dir/delta" '^req:[0-9]+:MANIFEST_PUT$')
    echo "$round $target proxied $all"
    echo "$round $target push_decisions $push"
    echo "$round $target images $imgs"
    for node in ${T_NODES[$target]}; do
      if [[ "${NODE_ROLE[$node]}" == primary ]]; then primaries+="|$node"; else replicas+="|$node"; fi
    done
    primaries=${primaries#|} replicas=${replicas#|}
    store=$(net "$dir/delta" "$secs" '^store:')
    sent=$(net "$dir/delta" "$secs" '^sent:')
    reads=$(net "$dir/delta" "$secs" "^reads:($primaries)\$")
    cmds=$(net "$dir/delta" "$secs" "^cmd:($primaries):")
    evalsha=$(net "$dir/delta" "$secs" "^cmd:($primaries):(evalsha|eval)\$")
    awk -v r="$round" -v t="$target" -v all="$all" -v push="$push" -v imgs="$imgs" -v store="$store" -v sent="$sent" \
      -v reads="$reads" -v cmds="$cmds" -v ev="$evalsha" -v up="$(raw "$dir/delta" '^up:')" 'BEGIN {
        printf "%s %s upstream_per_request %.4f\n", r, t, up / all
        printf "%s %s store_per_request %.4f\n", r, t, store / all
        printf "%s %s store_per_push %.4f\n", r, t, store / push
        printf "%s %s sent_per_request %.4f\n", r, t, sent / all
        printf "%s %s reads_per_request %.4f\n", r, t, reads / all
        printf "%s %s executed_per_request %.4f\n", r, t, cmds / all
        printf "%s %s evalsha_per_push %.4f\n", r, t, ev / push
        printf "%s %s evalsha_per_image %.4f\n", r, t, ev / imgs
      }'
    if [[ -n "$replicas" ]]; then
      echo "$round $target replica_per_request $(awk -v n="$(net "$dir/delta" "$secs" "^cmd:($replicas):")" -v r="$all" 'BEGIN { printf "%.4f", n / r }')"
    fi
    # Per image, raw (background included): commands executed by name, and the proxies' store calls.
    awk -v re="^cmd:($primaries):" -v imgs="$imgs" -v r="$round" -v t="$target" '
      $1 ~ re { k = $1; sub(/^cmd:[^:]+:/, "", k); c[k] += $2 }
      END { for (k in c) printf "%s %s rediscmd_%s %.4f\n", r, t, k, c[k] / imgs }' "$dir/delta"
    awk -v imgs="$imgs" -v r="$round" -v t="$target" '$1 ~ /^store:/ { k = $1; sub(/^store:[0-9]+:/, "", k); c[k] += $2 }
      END { for (k in c) printf "%s %s storecall_%s %.4f\n", r, t, k, c[k] / imgs }' "$dir/delta"
    for node in ${T_NODES[$target]}; do
      [[ "${NODE_ROLE[$node]}" == primary ]] && echo "$round $target evalsha_on_$node $(raw "$dir/delta" "^cmd:$node:evalsha\$")"
    done
    for op in ${T_ADMINS[$target]}; do
      echo "$round $target requests_on_$op $(raw "$dir/delta" "^req:$op:")"
    done
  } >>"$QP_TMP/figures"
}

# ---------------------------------------------------------------- rounds

bench_scale_rounds() {
  local target round i n=${#TARGETS[@]} order reqs ko p50 p99 secs load admin
  step "warm-up: every target once, ${WARMUP_SECONDS} s each (not counted)"
  for target in "${TARGETS[@]}"; do
    run_target "warmup-$target" "$target" "$WARMUP_SECONDS"
    read -r reqs ko p50 p99 secs load <"$QP_TMP/runs/warmup-$target/result"
    log "$(printf '%-8s %6d requests (%d failed) in %5.1f s, p50 %3d ms, p99 %4d ms (load average %s)' "$target" "$reqs" "$ko" "$secs" \
      "$p50" "$p99" "$load")"
  done

  for ((round = 1; round <= ROUNDS; round++)); do
    order=()
    for ((i = 0; i < n; i++)); do order+=("${TARGETS[(i + round - 1) % n]}"); done
    step "round $round of $ROUNDS: ${order[*]}, ${RUN_SECONDS} s each"
    for target in "${order[@]}"; do
      run_target "r$round-$target" "$target" "$RUN_SECONDS"
      read -r reqs ko p50 p99 secs load <"$QP_TMP/runs/r$round-$target/result"
      log "$(printf '%-8s %6d requests (%d failed) in %5.1f s = %6.1f rps, p50 %3d ms, p99 %4d ms (load average %s)' "$target" "$reqs" \
        "$ko" "$secs" "$(awk -v r="$reqs" -v s="$secs" 'BEGIN { print r / s }')" "$p50" "$p99" "$load")"
    done
  done

  step "idle window: ${RUN_SECONDS} s without load (the background work of every process and node, subtracted from the runs)"
  snapshot all "$QP_TMP/idle.before"
  sleep "$RUN_SECONDS"
  snapshot all "$QP_TMP/idle.after"
  delta "$QP_TMP/idle.before" "$QP_TMP/idle.after" >"$QP_TMP/idle.delta"
  IDLE_SECS=$(awk '$1 == "time" { print $2 }' "$QP_TMP/idle.delta")
  log "CPU ms: $(awk -v hz="$CLK_TCK" '$1 ~ /^cpu:/ { k = $1; sub(/^cpu:/, "", k); printf "%s %.0f, ", k, $2 * 1000 / hz }' "$QP_TMP/idle.delta" | sort)"
  log "Redis commands: $(awk '$1 ~ /^cmd:/ { split($1, a, ":"); c[a[2]] += $2 } END { for (k in c) printf "%s %d, ", k, c[k] }' "$QP_TMP/idle.delta")"
  # Every proxy's metrics as they end, for a look afterwards (KEEP_TMP=1).
  for admin in ${T_ADMINS[proxy]:-} ${T_ADMINS[fleet]:-}; do
    curl -sS --max-time 10 "http://127.0.0.1:$admin/metrics" >"$QP_TMP/metrics-$admin.txt" || true
  done

  : >"$QP_TMP/figures"
  for ((round = 1; round <= ROUNDS; round++)); do
    for target in "${TARGETS[@]}"; do record_run "$round" "$target"; done
  done
}

# fig ROUND TARGET NAME: one recorded figure ("" if none).
fig() { awk -v r="$1" -v t="$2" -v k="$3" '$1 == r && $2 == t && $3 == k { print $4 }' "$QP_TMP/figures"; }

# med TARGET NAME [FORMAT]: the median over the rounds of a figure, printed with FORMAT (default
# %.2f); "-" if the target has no such figure.
med() {
  local v
  v=$(awk -v t="$1" -v k="$2" '$2 == t && $3 == k { print $4 }' "$QP_TMP/figures")
  [[ -n "$v" ]] || { echo -; return; }
  # Word-split on purpose: one value per round.
  # shellcheck disable=SC2086
  awk -v v="$(median $v)" -v f="${3:-%.2f}" 'BEGIN { printf f, v }'
}

# med_vs TARGET NAME OP [FORMAT]: the median over the rounds of (the target's figure OP the direct
# run's of the same round), OP "/" or "-"; "-" without both.
med_vs() {
  local v
  v=$(awk -v t="$1" -v k="$2" -v op="$3" '$3 == k && ($2 == t || $2 == "direct") { f[$1 " " $2] = $4 }
    END { for (r = 1; (r " direct") in f; r++) if ((r " " t) in f) print (op == "/") ? f[r " " t] / f[r " direct"] : f[r " " t] - f[r " direct"] }' \
    "$QP_TMP/figures")
  [[ -n "$v" ]] || { echo -; return; }
  # shellcheck disable=SC2086
  awk -v v="$(median $v)" -v f="${4:-%.2f}" 'BEGIN { printf f, v }'
}

# range TARGET NAME [FORMAT]: "min-max" of a figure over the rounds.
range() {
  awk -v t="$1" -v k="$2" -v f="${3:-%.2f}" '$2 == t && $3 == k { v = $4 + 0; if (n++ == 0 || v < lo) lo = v; if (n == 1 || v > hi) hi = v }
    END { if (n) printf f "-" f, lo, hi; else printf "-" }' "$QP_TMP/figures"
}

# ---------------------------------------------------------------- report

bench_scale_report() {
  local target r k proxied=()
  for target in proxy cluster1 fleet; do [[ " ${TARGETS[*]} " == *" $target "* ]] && proxied+=("$target"); done
  echo
  printf '==== scale-out benchmark, %s, %s cores, load average %s at the end\n' "$(date -u +%Y-%m-%d)" "$(nproc)" \
    "$(cut -d' ' -f1-3 /proc/loadavg)"
  if awk -v r="$RATE" 'BEGIN { exit !(r > 0) }'; then
    printf 'BenchSimulation, open: %s users/s, each pushing and pulling one image,' "$RATE"
  else
    printf 'BenchSimulation, closed: %d users pushing then pulling image after image,' "$USERS"
  fi
  printf ' %d s per run, %d tenants, layers %d-%d KiB;\n' "$RUN_SECONDS" "$TENANTS" "$MIN_KIB" "$MAX_KIB"
  printf '11 requests per image, 6 of them push decisions; median of %d rounds after 1 warm-up round;\n' "$ROUNDS"
  printf 'redis %s, %s, docker-registry %s, Gatling and every server on the same cores\n' \
    "$(redis-server --version | awk '{ sub(/v=/, "", $3); print $3 }')" "$(haproxy -v | awk 'NR == 1 { print "haproxy " $3 }')" \
    "$(docker-registry --version 2>/dev/null | awk '{ print $3 }')"

  echo
  echo "throughput and latency (Gatling; response times in whole ms; added: minus the direct run of the same round)"
  printf '  %-8s %8s %13s %8s %6s %6s %7s %7s %8s\n' target rps "(rounds)" /direct p50 p99 "+p50" "+p99" failed
  for target in "${TARGETS[@]}"; do
    printf '  %-8s %8s %13s %8s %6s %6s %7s %7s %8s\n' "$target" "$(med "$target" rps %.1f)" "$(range "$target" rps %.0f)" \
      "$(med_vs "$target" rps / %.2f)" "$(med "$target" p50 %.0f)" "$(med "$target" p99 %.0f)" \
      "$(med_vs "$target" p50 - %+.1f)" "$(med_vs "$target" p99 - %+.1f)" \
      "$(awk -v t="$target" '$2 == t && $3 == "failed" { n += $4 } END { printf "%d", n }' "$QP_TMP/figures")"
  done
  echo "  failed: requests that failed, summed over the rounds"
  if ((${#proxied[@]} == 2)); then
    printf '  fleet/proxy rps: %s (median of the rounds'\'' ratios)\n' "$(awk '$2 == "proxy" && $3 == "rps" { p[$1] = $4 }
      $2 == "fleet" && $3 == "rps" { f[$1] = $4 } END { for (r in f) if (r in p) print f[r] / p[r] }' "$QP_TMP/figures" \
      | sort -g | awk '{ v[NR] = $1 } END { printf "%.2f", (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }')"
  fi

  echo
  echo "CPU per request, ms (utime + stime of each process, net of its idle rate; all: the servers, Gatling apart)"
  printf '  %-8s %9s %9s %9s %9s %9s %9s %9s\n' target proxies redis haproxy registry postgres all Gatling
  for target in "${TARGETS[@]}"; do
    printf '  %-8s' "$target"
    for k in proxies redis haproxy registry pg all gatling; do printf ' %9s' "$(med "$target" "cpu_$k" %.3f)"; done
    echo
  done
  for target in fleet cluster1; do
    [[ " ${TARGETS[*]} " == *" $target "* ]] || continue
    printf '  %s, per process:' "$target"
    for k in ${T_PROCS[$target]}; do printf ' %s %s' "$k" "$(med "$target" "cpuproc_$k" %.3f)"; done
    echo
  done
  printf '  idle, ms of CPU per second: %s\n' "$(awk -v hz="$CLK_TCK" -v idle="$IDLE_SECS" '$1 ~ /^cpu:/ {
    k = $1; sub(/^cpu:/, "", k); printf "%s %.1f\n", k, $2 * 1000 / hz / idle }' "$QP_TMP/idle.delta" | sort | paste -sd' ')"

  ((${#proxied[@]} > 0)) || return 0
  echo
  echo "Redis, per proxied request unless said, net of the idle window"
  for k in "${!NODE_ROLE[@]}"; do
    [[ "$k" == rc* ]] || continue
    [[ "$(cluster_cli "${NODE_PORT[$k]}" INFO replication | tr -d '\r' | awk -F: '$1 == "role" { print ($2 == "master") ? "primary" : "replica" }')" \
      == "${NODE_ROLE[$k]}" ]] || echo "  NOTE: Cluster node $k is no longer a ${NODE_ROLE[$k]} (a failover during the benchmark): its figures are counted as a ${NODE_ROLE[$k]}'s"
  done
  printf '  %-8s %9s %9s %9s %9s %9s %9s %9s %9s %9s\n' target "push" store sent reads exec replica EVALSHA EVALSHA upstream
  printf '  %-8s %9s %9s %9s %9s %9s %9s %9s %9s %9s\n' "" decisions calls "" "" "" exec "/push" "/image" requests
  for target in "${proxied[@]}"; do
    printf '  %-8s %9s' "$target" "$(med "$target" push_decisions %.0f)"
    for k in store_per_request sent_per_request reads_per_request executed_per_request replica_per_request \
      evalsha_per_push evalsha_per_image upstream_per_request; do
      printf ' %9s' "$(med "$target" "$k")"
    done
    echo
  done
  cat <<'TEXT'
  push decisions: requests per run the proxies counted (quota_proxy_requests_total) as UPLOAD_START, UPLOAD_MONOLITHIC,
  BLOB_MOUNT, UPLOAD_CHUNK, UPLOAD_COMPLETE or MANIFEST_PUT; store calls: the proxies' calls of the quota store
  (quota_proxy_redis_call_duration_seconds_count), each one EVALSHA or one command; sent: every command the proxies'
  Redis clients sent (vertx_redis_processing_time_seconds_count: the ledger feed's too); reads: read events of the
  primaries (total_reads_processed), round trips as Redis sees them; exec: commands the primaries executed, those the
  Lua scripts call included (INFO commandstats); replica exec: commands the replicas applied; EVALSHA: every script
  call, the pulls' egress metering included; upstream requests: the proxies' requests to the registry
TEXT
  echo "  the proxies' store calls per image, by operation (background included):"
  for target in "${proxied[@]}"; do
    printf '    %-7s' "$target"
    awk -v t="$target" '$2 == t && $3 ~ /^storecall_/ { k = $3; sub(/^storecall_/, "", k); print k }' "$QP_TMP/figures" | sort -u \
      | while read -r k; do v=$(med "$target" "storecall_$k"); awk -v v="$v" 'BEGIN { exit !(v >= 0.01) }' && printf ' %s %s' "$k" "$v"; done
    echo
  done
  echo "  commands the primaries executed per image, by command (background included; script calls counted inside):"
  for target in "${proxied[@]}"; do
    printf '    %-7s' "$target"
    awk -v t="$target" '$2 == t && $3 ~ /^rediscmd_/ { k = $3; sub(/^rediscmd_/, "", k); print k }' "$QP_TMP/figures" | sort -u \
      | while read -r k; do v=$(med "$target" "rediscmd_$k" %.1f); awk -v v="$v" 'BEGIN { exit !(v >= 0.1) }' && printf ' %s %s' "$k" "$v"; done
    echo
  done
  if [[ " ${proxied[*]} " == *" fleet "* ]]; then
    for ((r = 1; r <= ROUNDS; r++)); do
      printf '  fleet, round %d: requests per proxy' "$r"
      for k in ${T_ADMINS[fleet]}; do printf ' %s' "$(fig "$r" fleet "requests_on_$k" | awk '{ printf "%d", $1 }')"; done
      printf '; EVALSHA per primary'
      for k in ${T_NODES[fleet]}; do
        [[ "${NODE_ROLE[$k]}" == primary ]] && printf ' %s %s' "$k" "$(fig "$r" fleet "evalsha_on_$k" | awk '{ printf "%d", $1 }')"
      done
      echo
    done
  fi
}

# proxy_log_summary: the warnings and errors every proxy logged over the whole benchmark, counted by
# message (times, numbers, ids and ports blanked out).
proxy_log_summary() {
  local f lines
  lines=$(for f in "$QP_TMP"/proxy*.log; do
    grep -E '^[0-9-]+T[0-9:.]+Z (WARN|ERROR) ' "$f" | sed -E 's/^[0-9-]+T[0-9:.]+Z //; s/[0-9]+/N/g' | sed "s|^|${f##*/}: |"
  done | cut -c1-170 | sort | uniq -c | sort -rn | head -n 40)
  echo
  if [[ -z "$lines" ]]; then
    echo "the proxies logged no warning and no error"
  else
    echo "what the proxies logged as WARN or ERROR over the whole benchmark (count, log, message with numbers as N):"
    echo "${lines//$'\n'/$'\n'  }" | sed '1s/^/  /'
  fi
}

bench_scale_main() {
  [[ "$ROUNDS" =~ ^[1-9][0-9]*$ ]] || die "BENCH_ROUNDS must be a positive integer"
  local load0
  load0=$(cut -d' ' -f1-3 /proc/loadavg)
  bench_scale_setup
  log "load average at the start: $load0"
  bench_scale_rounds
  bench_scale_report
  proxy_log_summary
  QP_SUMMARY_DONE=1   # a benchmark has no checks to count
  echo
  echo "bench-scale: done"
}

bench_scale_main "$@"
