# shellcheck shell=bash
# The scaled-out topology (scripts/e2e-scale.sh): a Redis Cluster of redis-server processes, a
# fleet of proxies sharing it (and one Postgres, lib/postgres.sh), and HAProxy in front of the
# fleet. Source it after lib/common.sh. Every process is recorded in QP_PIDS (stopped by the
# EXIT trap); every file lives under QP_TMP.
#
#   start_redis_cluster N REPLICAS   N redis-server --cluster-enabled yes, joined by redis-cli
#                                    --cluster create; rcli then reads through node REDIS_PORT
#                                    with -c (lib/common.sh), whichever primary holds a key
#   start_fleet N ARGS...            N proxies from QP_JAR, each with its port and admin port
#   start_lb                         HAProxy, round robin over the fleet, health checked
#
# Settings: CLUSTER_NODE_TIMEOUT (ms, default 2000: a primary is failed over about 4 s after it
# dies), LB_CHECK (the admin path HAProxy checks, default /healthz; see start_lb),
# LB_CHECK_INTER (HAProxy's check interval, default 1s).

CLUSTER_NODE_TIMEOUT=${CLUSTER_NODE_TIMEOUT:-2000}
LB_CHECK=${LB_CHECK:-/healthz}
LB_CHECK_INTER=${LB_CHECK_INTER:-1s}
CLUSTER_DIR=""
CLUSTER_NODES=""    # redis://127.0.0.1:PORT,... (the proxies' --redis.nodes)
CLUSTER_PORTS=()
CLUSTER_PIDS=()
FLEET_ARGS=()
FLEET_PORTS=()
FLEET_ADMIN=()
FLEET_PIDS=()
FLEET_LOGS=()
FLEET_STARTS=()
LB_PORT="" LB_URL="" LB_STATS_URL="" LB_PID="" LB_LOG=""

# ---------------------------------------------------------------- Redis Cluster

# free_cluster_port: FREE_PORT set to a free port whose cluster bus port (the port + 10000) is
# free too, and, where the machine leaves room, below the kernel's ephemeral range (where an
# outgoing connection could take it before the node binds it). Both are marked as handed out.
free_cluster_port() {
  local i low=32768 bus
  read -r low _ </proc/sys/net/ipv4/ip_local_port_range 2>/dev/null || true
  for ((i = 0; i < 400; i++)); do
    free_port
    bus=$((FREE_PORT + 10000))
    ((bus < 65536)) || continue
    # The first 300 tries insist on a bus port below the ephemeral range.
    ((i >= 300 || bus < low)) || continue
    [[ "$QP_USED_PORTS" == *" $bus "* ]] && continue
    port_taken "$bus" && continue
    QP_USED_PORTS+="$bus "
    return 0
  done
  die "no free port pair (port, port + 10000) for a Redis Cluster node"
}

# cluster_cli PORT ARGS...: redis-cli against one node, raw, not following redirects.
cluster_cli() {
  local port=$1
  shift
  redis-cli -h 127.0.0.1 -p "$port" --raw "$@"
}

# cluster_node_up I: redis-server of node I (CLUSTER_PORTS[I]) in cluster mode, in memory only
# (no RDB, no AOF: what replication had not carried when a primary dies is lost, as with
# asynchronous replication anywhere), its nodes.conf in its own directory.
cluster_node_up() {
  local i=$1 port=${CLUSTER_PORTS[$1]} dir=$CLUSTER_DIR/node-$1 n
  mkdir -p "$dir"
  redis-server --port "$port" --bind 127.0.0.1 --cluster-enabled yes --cluster-config-file "$dir/nodes.conf" \
    --cluster-node-timeout "$CLUSTER_NODE_TIMEOUT" --dir "$dir" --save '' --appendonly no \
    --logfile "$dir/redis.log" >"$dir/stdout.log" 2>&1 &
  CLUSTER_PIDS[i]=$!
  QP_PIDS+=("$!")
  for ((n = 0; n < 100; n++)); do
    [[ "$(cluster_cli "$port" PING 2>/dev/null)" == PONG ]] && return 0
    kill -0 "${CLUSTER_PIDS[i]}" 2>/dev/null || die "redis-server (cluster node $i) exited (see $dir/redis.log)"
    sleep 0.1
  done
  die "redis-server (cluster node $i) did not answer on port $port"
}

# start_redis_cluster N REPLICAS: N nodes, joined with REPLICAS replicas per primary; waits until
# every node says cluster_state:ok. Sets CLUSTER_PORTS, CLUSTER_PIDS, CLUSTER_NODES, and REDIS_PORT
# (the first node) with REDIS_CLI_ARGS=(-c) for rcli.
start_redis_cluster() {
  local n=$1 replicas=$2 i out
  need redis-server redis-cli
  CLUSTER_DIR=$QP_TMP/redis-cluster
  mkdir -p "$CLUSTER_DIR"
  CLUSTER_PORTS=() CLUSTER_PIDS=()
  for ((i = 0; i < n; i++)); do
    free_cluster_port
    CLUSTER_PORTS[i]=$FREE_PORT
    cluster_node_up "$i"
  done
  out=$CLUSTER_DIR/create.log
  redis-cli --cluster create $(printf '127.0.0.1:%s ' "${CLUSTER_PORTS[@]}") \
    --cluster-replicas "$replicas" --cluster-yes >"$out" 2>&1 || { cat "$out"; die "redis-cli --cluster create failed"; }
  grep -q 'All 16384 slots covered' "$out" || { cat "$out"; die "redis-cli --cluster create did not cover every slot"; }
  wait_cluster_ok 60 || die "the Redis Cluster did not reach cluster_state:ok within 60 s"
  # Every replica attached to its primary and its link up: a primary killed later has a replica to fail
  # over to (gossip takes a moment to show replicas as such everywhere).
  for ((i = 0; i < 300; i++)); do
    out=$(cluster_cli "${CLUSTER_PORTS[0]}" CLUSTER NODES | awk '$3 ~ /slave/' | wc -l)
    ((out == n * replicas / (replicas + 1))) && cluster_replicas_linked && break
    sleep 0.1
  done
  ((i < 300)) || die "the Redis Cluster's replicas did not all attach within 30 s"
  CLUSTER_NODES=$(printf 'redis://127.0.0.1:%s,' "${CLUSTER_PORTS[@]}")
  CLUSTER_NODES=${CLUSTER_NODES%,}
  REDIS_PORT=${CLUSTER_PORTS[0]}
  REDIS_CLI_ARGS=(-c)
  REDIS_LOG=$CLUSTER_DIR/node-0/redis.log
  log "redis    cluster of $n nodes ($replicas replica(s) per primary), ports ${CLUSTER_PORTS[*]}, node timeout ${CLUSTER_NODE_TIMEOUT} ms ($(redis-server --version | awk '{ print $3 }'))"
  cluster_cli "$REDIS_PORT" CLUSTER NODES | awk '{ split($2, a, "@"); printf "      %s %-14s %s\n", a[1], $3, $9 }' | sort -k2
}

# cluster_replicas_linked: every node that is a replica says master_link_status:up.
cluster_replicas_linked() {
  local port
  for port in "${CLUSTER_PORTS[@]}"; do
    cluster_cli "$port" INFO replication | tr -d '\r' | awk -F: '
      $1 == "role" { replica = ($2 == "slave") } $1 == "master_link_status" { up = ($2 == "up") }
      END { exit replica && !up }' || return 1
  done
}

# cluster_node_alive I: node I's process is running.
cluster_node_alive() { kill -0 "${CLUSTER_PIDS[$1]}" 2>/dev/null; }

# cluster_ok_on PORT: the node on PORT says cluster_state:ok.
cluster_ok_on() {
  [[ "$(cluster_cli "$1" CLUSTER INFO 2>/dev/null | tr -d '\r' | awk -F: '$1 == "cluster_state" { print $2 }')" == ok ]]
}

# wait_cluster_ok SECONDS: until every live node says cluster_state:ok.
wait_cluster_ok() {
  local secs=$1 i k ok
  for ((i = 0; i < secs * 10; i++)); do
    ok=1
    for k in "${!CLUSTER_PORTS[@]}"; do
      cluster_node_alive "$k" || continue
      cluster_ok_on "${CLUSTER_PORTS[k]}" || { ok=0; break; }
    done
    ((ok)) && return 0
    sleep 0.1
  done
  return 1
}

# cluster_use_live_node: REDIS_PORT (rcli's node) moved to a node that is running.
cluster_use_live_node() {
  local k
  for k in "${!CLUSTER_PORTS[@]}"; do
    if cluster_node_alive "$k"; then
      REDIS_PORT=${CLUSTER_PORTS[k]}
      REDIS_LOG=$CLUSTER_DIR/node-$k/redis.log
      return 0
    fi
  done
  die "no Redis Cluster node is running"
}

# slot_owner KEY: the port of the primary that serves KEY's slot (by its hash tag), as the node
# REDIS_PORT sees the cluster (a primary marked failed is skipped).
slot_owner() {
  local slot
  slot=$(cluster_cli "$REDIS_PORT" CLUSTER KEYSLOT "$1") || return 1
  cluster_cli "$REDIS_PORT" CLUSTER NODES | awk -v slot="$slot" '
    $3 ~ /master/ && $3 !~ /fail/ {
      for (i = 9; i <= NF; i++) {
        if ($i ~ /^\[/) continue                   # a slot being migrated
        n = split($i, r, "-"); lo = r[1]; hi = (n > 1) ? r[2] : r[1]
        if (slot >= lo && slot <= hi) { split($2, a, "[:@]"); print a[2]; exit }
      }
    }'
}

# cluster_index PORT: the node index of PORT in CLUSTER_PORTS.
cluster_index() {
  local k
  for k in "${!CLUSTER_PORTS[@]}"; do
    [[ "${CLUSTER_PORTS[k]}" == "$1" ]] && { echo "$k"; return 0; }
  done
  return 1
}

# ---------------------------------------------------------------- the fleet of proxies

# start_fleet N ARGS...: N proxies from QP_JAR in front of REGISTRY_URL, each on a free port with
# an admin listener on another, with ARGS (the same for all: one Redis, one Postgres, one admin
# token), started one after the other (the first creates the ledger's schema), each waited for
# until its /readyz says ready. Sets FLEET_PORTS, FLEET_ADMIN, FLEET_PIDS, FLEET_LOGS (1-based).
start_fleet() {
  local n=$1 i
  shift
  FLEET_ARGS=("$@")
  for ((i = 1; i <= n; i++)); do
    free_port
    FLEET_PORTS[i]=$FREE_PORT
    free_port
    FLEET_ADMIN[i]=$FREE_PORT
    FLEET_STARTS[i]=0
    fleet_up "$i"
    log "proxy $i  http://127.0.0.1:${FLEET_PORTS[i]} (admin ${FLEET_ADMIN[i]}, pid ${FLEET_PIDS[i]}, log ${FLEET_LOGS[i]})"
  done
}

# fleet_up I: proxy I on its ports (its first start, or a restart after a kill), logging to
# proxy-I.log, then proxy-I.2.log, ...; waits until it answers /v2/ and its /readyz is 200.
fleet_up() {
  local i=$1 name
  FLEET_STARTS[i]=$((FLEET_STARTS[i] + 1))
  name=proxy-$i.log
  ((FLEET_STARTS[i] == 1)) || name=proxy-$i.${FLEET_STARTS[i]}.log
  PROXY_PORT=${FLEET_PORTS[i]}
  PROXY_URL=http://127.0.0.1:$PROXY_PORT
  proxy_up "$name" "${FLEET_ARGS[@]}" --admin.port "${FLEET_ADMIN[i]}"
  FLEET_PIDS[i]=$PROXY_PID
  FLEET_LOGS[i]=$PROXY_LOG
  wait_http "http://127.0.0.1:${FLEET_ADMIN[i]}/readyz" "$PROXY_PID" 60 \
    || die "proxy $i is not ready (/readyz on ${FLEET_ADMIN[i]}; see $PROXY_LOG)"
}

# fleet_kill I: kill -9 proxy I.
fleet_kill() {
  kill -KILL "${FLEET_PIDS[$1]}" 2>/dev/null
  wait "${FLEET_PIDS[$1]}" 2>/dev/null || true
}

# fleet_requests I JQ_SELECT: how many access-log records of proxy I (every start of it) match
# JQ_SELECT (e.g. '.path | startswith("/v2/race/")').
fleet_requests() {
  local i=$1 filter=$2 f
  local -a logs=()
  for f in "$QP_TMP/proxy-$i.log" "$QP_TMP/proxy-$i".[0-9]*.log; do
    [[ -f "$f" ]] && logs+=("$f")
  done
  ((${#logs[@]} > 0)) || { echo 0; return; }
  jq -R "fromjson? | objects | select(has(\"op\")) | select($filter) | 1" "${logs[@]}" | wc -l
}

# ---------------------------------------------------------------- HAProxy

# start_lb: HAProxy in HTTP mode on a free port in front of the fleet: round robin, each proxy
# checked every LB_CHECK_INTER with GET LB_CHECK on its admin port (down after 2 failures, up
# after 2 successes); a request whose connection is refused is sent to another proxy
# (redispatch); client and server timeouts of 5 minutes, so a slow upload is never cut.
#
# The check is /healthz (the process answers), not /readyz (its stores answer too): every proxy
# shares the same Redis, so when a Redis primary dies every proxy's /readyz fails at once, and a
# balancer checking it takes the whole fleet out, answering 503 itself (no Retry-After) to pushes
# and pulls alike, when the proxies would have answered pushes 503 UNAVAILABLE with Retry-After
# and served pulls. (LB_CHECK=/readyz shows it.) HAProxy's own 503, when no proxy is up, is
# given the proxies' form: OCI error JSON, code UNAVAILABLE, Retry-After: 1 (deploy/oci-503.http,
# which deploy/haproxy.cfg, docker-compose.yml's, uses too).
# Its statistics (CSV) on LB_STATS_URL. Waits until every proxy is UP. Sets LB_PORT, LB_URL,
# LB_STATS_URL, LB_PID.
start_lb() {
  need haproxy
  local cfg=$QP_TMP/haproxy.cfg stats i
  free_port
  LB_PORT=$FREE_PORT
  free_port
  stats=$FREE_PORT
  LB_URL=http://127.0.0.1:$LB_PORT
  LB_STATS_URL="http://127.0.0.1:$stats/stats;csv"
  LB_LOG=$QP_TMP/haproxy.log
  {
    cat <<CFG
global
  maxconn 4096

defaults
  mode http
  timeout connect 2s
  timeout client 5m
  timeout server 5m
  timeout http-request 30s
  timeout http-keep-alive 10s
  timeout queue 10s
  retries 3
  option redispatch 1
  errorfile 503 $QP_ROOT/deploy/oci-503.http

frontend registry
  bind 127.0.0.1:$LB_PORT
  default_backend proxies

backend proxies
  balance roundrobin
  option httpchk
  http-check send meth GET uri $LB_CHECK
  http-check expect status 200
  default-server inter $LB_CHECK_INTER fall 2 rise 2
CFG
    for i in "${!FLEET_PORTS[@]}"; do
      echo "  server p$i 127.0.0.1:${FLEET_PORTS[i]} check port ${FLEET_ADMIN[i]}"
    done
    cat <<CFG

frontend stats
  bind 127.0.0.1:$stats
  stats enable
  stats uri /stats
CFG
  } >"$cfg"
  haproxy -c -f "$cfg" >"$LB_LOG" 2>&1 || { cat "$LB_LOG"; die "haproxy rejects $cfg"; }
  haproxy -f "$cfg" -db >>"$LB_LOG" 2>&1 &
  LB_PID=$!
  QP_PIDS+=("$LB_PID")
  for i in "${!FLEET_PORTS[@]}"; do
    wait_lb_status "p$i" UP 30 || die "HAProxy does not see proxy $i UP within 30 s ($(lb_status "p$i"))"
  done
  log "haproxy  $LB_URL (pid $LB_PID, $(haproxy -v | awk 'NR == 1 { print $3 }'), round robin over ${#FLEET_PORTS[@]} proxies, checks GET $LB_CHECK, config $cfg)"
}

# lb_status SERVER: HAProxy's status of SERVER (p1, p2, ...): UP, DOWN, "UP 1/2", ...
lb_status() {
  curl -s --max-time 5 "$LB_STATS_URL" | awk -F, -v s="$1" '$1 == "proxies" && $2 == s { print $18 }'
}

# wait_lb_status SERVER STATUS SECONDS: until HAProxy says STATUS (exactly) for SERVER.
wait_lb_status() {
  local i
  for ((i = 0; i < $3 * 5; i++)); do
    [[ "$(lb_status "$1")" == "$2" ]] && return 0
    sleep 0.2
  done
  return 1
}
