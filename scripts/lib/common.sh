# shellcheck shell=bash
# Helpers shared by the scripts in scripts/ (e2e, benchmarks). Source it, then call qp_init.
# It sources the rest of the library: lib/http.sh (curl, registry and admin-API helpers)
# and lib/layout.sh (OCI layout helpers). Every function is defined once under scripts/
# (lib/check-no-duplicate-functions.sh checks it): a script uses these, not copies of them.
#
# Everything started here (registry, proxy, redis) is recorded in QP_PIDS and stopped
# by the EXIT trap (a docker daemon by stop_dockerd, from the same trap); all files live
# under QP_TMP, removed on exit unless KEEP_TMP=1.
#
# Environment:
#   QP_JAR      proxy jar (default: proxy/target/quota-proxy.jar)
#   JAVA_OPTS   extra JVM options for the proxy
#   KEEP_TMP=1  keep the temp dir (its path is printed at exit)
#   QP_DOCKER   docker client for docker_ (default: /usr/bin/docker, Debian's docker.io,
#               else the first docker on PATH)
#   REQUIRE_TEST_TOOLS=1  a missing optional tool (dockerd) fails the script instead of
#               skipping its steps (.ci/run sets it)

QP_LIB=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
QP_ROOT=$(cd "$QP_LIB/../.." && pwd)
QP_JAR=${QP_JAR:-$QP_ROOT/proxy/target/quota-proxy.jar}
QP_TMP=""
QP_NAME=""
QP_SUMMARY_DONE=0
QP_DIED=0
QP_PIDS=()
QP_USED_PORTS=" "
FREE_PORT=""
QP_PASSED=0
QP_FAILED=0
QP_FAILURES=()
QP_SKIPS=()
REGISTRY_PID=""
REGISTRY_PORT=""
REGISTRY_URL=""
REGISTRY_LOG=""
REGISTRY_DATA=""
HAPROXY_URL=""
HAPROXY_PID=""
PROXY_PID=""
PROXY_PORT=""
PROXY_URL=""
PROXY_LOG=""
REDIS_PID=""
REDIS_PORT=""
REDIS_URL=""
REDIS_LOG=""
REDIS_CLI_ARGS=()
DOCKERD_PID=""
DOCKERD_LOG=""
DOCKER_DIR=""
DOCKER_SOCK=""
QP_DOCKER=${QP_DOCKER:-}
ADMIN_PORT=""
ADMIN_URL=""
ADMIN_TOKEN=""
# shellcheck disable=SC2034  # units for the scripts that source this
KIB=1024 MIB=$((1024 * 1024))

# shellcheck source-path=SCRIPTDIR source-path=SCRIPTDIR/lib source=http.sh
source "$QP_LIB/http.sh"
# shellcheck source-path=SCRIPTDIR source-path=SCRIPTDIR/lib source=layout.sh
source "$QP_LIB/layout.sh"

# ---------------------------------------------------------------- output

if [[ -t 1 ]]; then
  _QP_RED=$'\e[31m' _QP_GREEN=$'\e[32m' _QP_BOLD=$'\e[1m' _QP_OFF=$'\e[0m'
else
  _QP_RED="" _QP_GREEN="" _QP_BOLD="" _QP_OFF=""
fi

log()  { printf '    %s\n' "$*"; }
step() { printf '\n%s==> %s%s\n' "$_QP_BOLD" "$*" "$_QP_OFF"; }
pass() { QP_PASSED=$((QP_PASSED + 1)); printf '%sPASS%s %s\n' "$_QP_GREEN" "$_QP_OFF" "$*"; }

# fail records a failed check and carries on; die also stops the script.
fail() {
  QP_FAILED=$((QP_FAILED + 1))
  QP_FAILURES+=("$*")
  printf '%sFAIL%s %s\n' "$_QP_RED" "$_QP_OFF" "$*"
}
die() { QP_DIED=1; fail "$*"; exit 1; }

# skip WHAT: steps not run (a missing optional tool); listed again in the summary.
skip() {
  QP_SKIPS+=("$*")
  printf '%sSKIP%s %s\n' "$_QP_BOLD" "$_QP_OFF" "$*"
}

# check DESCRIPTION CMD...: pass if CMD succeeds, fail (and go on) otherwise.
check() {
  local what=$1; shift
  if "$@"; then pass "$what"; else fail "$what"; fi
}

# check_eq DESCRIPTION EXPECTED ACTUAL
check_eq() {
  if [[ "$2" == "$3" ]]; then pass "$1"; else fail "$1: expected '$2', got '$3'"; fi
}

need() {
  local tool
  for tool in "$@"; do
    command -v "$tool" >/dev/null 2>&1 || die "required tool not found: $tool"
  done
}

# want WHAT TOOL...: true if every TOOL is installed. If one is not, WHAT is skipped
# (printed, and listed in the summary) and want returns 1; with REQUIRE_TEST_TOOLS=1
# (as .ci/run sets) a missing tool is a failure instead, as in the Java tests.
want() {
  local what=$1 tool
  shift
  for tool in "$@"; do
    command -v "$tool" >/dev/null 2>&1 && continue
    [[ "${REQUIRE_TEST_TOOLS:-0}" == 1 ]] && die "required tool not found: $tool (REQUIRE_TEST_TOOLS=1)"
    skip "$what: $tool is not installed"
    return 1
  done
}

# ---------------------------------------------------------------- lifecycle

# qp_init NAME: make the temp dir and install the cleanup trap.
qp_init() {
  QP_NAME=${1:-run}
  QP_TMP=$(mktemp -d "${TMPDIR:-/tmp}/quota-proxy-$QP_NAME.XXXXXX")
  trap qp_cleanup EXIT
  trap 'exit 130' INT
  trap 'exit 143' TERM
}

qp_cleanup() {
  local rc=$?
  set +e
  # An abort part-way through (die, or a command failing under set -e)
  # still ends with a FAIL summary (which shows the log tails).
  if ((rc != 0 && !QP_SUMMARY_DONE)); then
    ((QP_DIED)) || fail "script aborted with exit code $rc (see output above)"
    summary "$QP_NAME" || true
  fi
  stop_dockerd
  local pid
  for pid in "${QP_PIDS[@]}"; do
    qp_stop_pid "$pid"
  done
  if [[ -n "$QP_TMP" && -d "$QP_TMP" ]]; then
    if [[ "${KEEP_TMP:-0}" == 1 ]]; then
      printf 'kept temp dir %s\n' "$QP_TMP" >&2
    else
      rm -rf "$QP_TMP"
    fi
  fi
  exit "$rc"
}

qp_dump_logs() {
  local f
  for f in "$PROXY_LOG" "$REGISTRY_LOG" "$REDIS_LOG" "$DOCKERD_LOG"; do
    [[ -n "$f" && -s "$f" ]] || continue
    printf '\n----- last 40 lines of %s -----\n' "$f"
    tail -n 40 "$f"
  done
}

# qp_stop_pid PID [SECONDS]: TERM, wait up to SECONDS (default 10), then KILL.
qp_stop_pid() {
  local pid=$1 secs=${2:-10} i
  kill -0 "$pid" 2>/dev/null || return 0
  kill -TERM "$pid" 2>/dev/null || true
  for ((i = 0; i < secs * 10; i++)); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  kill -KILL "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
}

# ---------------------------------------------------------------- ports and waiting

# port_in_use PORT: true if something accepts connections on 127.0.0.1:PORT.
port_in_use() {
  (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

# port_taken PORT: true if any TCP socket on this host uses PORT locally: a
# listener, or a connection (a client's, even one in TIME-WAIT) that makes a
# bind to PORT fail with "Address already in use".
port_taken() {
  port_in_use "$1" && return 0
  command -v ss >/dev/null 2>&1 || return 1
  [[ -n "$(ss -Htan "( sport = :$1 )" 2>/dev/null)" ]]
}

# free_port: set FREE_PORT to a loopback port nobody uses and that this run has
# not handed out yet (not a $(...) helper: it must update QP_USED_PORTS). Ports
# are taken below the kernel's ephemeral range, where outgoing connections do
# not land between this check and the bind.
free_port() {
  local port i low=32768 span
  read -r low _ </proc/sys/net/ipv4/ip_local_port_range 2>/dev/null || true
  span=$((low - 20000))
  ((span >= 2000)) || span=40000   # no room below the range: 20000-59999
  for ((i = 0; i < 200; i++)); do
    port=$((20000 + RANDOM % span))
    [[ "$QP_USED_PORTS" == *" $port "* ]] && continue
    port_taken "$port" && continue
    QP_USED_PORTS+="$port "
    FREE_PORT=$port
    return 0
  done
  die "no free loopback port found"
}

# free_admin_port: set ADMIN_PORT to a free port for the proxy's --admin.port, and ADMIN_URL.
free_admin_port() {
  free_port
  ADMIN_PORT=$FREE_PORT
  ADMIN_URL=http://127.0.0.1:$ADMIN_PORT
}

# wait_http URL PID SECONDS: wait until URL answers 2xx, failing early if PID dies.
wait_http() {
  local url=$1 pid=$2 secs=$3 i
  for ((i = 0; i < secs * 5; i++)); do
    curl -sf -o /dev/null --max-time 2 "$url" && return 0
    kill -0 "$pid" 2>/dev/null || return 1
    sleep 0.2
  done
  return 1
}

# ---------------------------------------------------------------- registry

# start_registry: a fresh docker-registry with filesystem storage in QP_TMP.
# Sets REGISTRY_PORT, REGISTRY_URL, REGISTRY_PID, REGISTRY_LOG, REGISTRY_DATA
# (its storage root: repositories are under docker/registry/v2/repositories/).
start_registry() {
  need docker-registry curl
  local dir=$QP_TMP/registry
  REGISTRY_DATA=$dir/data
  mkdir -p "$REGISTRY_DATA"
  free_port
  REGISTRY_PORT=$FREE_PORT
  REGISTRY_URL=http://127.0.0.1:$REGISTRY_PORT
  REGISTRY_LOG=$dir/registry.log
  cat >"$dir/config.yml" <<YAML
version: 0.1
log:
  level: warn
  accesslog:
    disabled: true
storage:
  filesystem:
    rootdirectory: $dir/data
  delete:
    enabled: true
http:
  addr: 127.0.0.1:$REGISTRY_PORT
  secret: $(head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n')
YAML
  registry_up
  log "registry $REGISTRY_URL (pid $REGISTRY_PID, storage $dir/data)"
}

# registry_up: docker-registry with start_registry's configuration (its port, its storage):
# start_registry's start, and a restart after a stop (lib/faults.sh stops it under load).
registry_up() {
  docker-registry serve "$QP_TMP/registry/config.yml" >>"$REGISTRY_LOG" 2>&1 &
  REGISTRY_PID=$!
  QP_PIDS+=("$REGISTRY_PID")
  wait_http "$REGISTRY_URL/v2/" "$REGISTRY_PID" 30 \
    || die "registry did not come up on $REGISTRY_URL"
}

# start_haproxy NAME [OPTION]: HAProxy in HTTP mode in front of the registry, as a
# reference proxy (bench.sh, bench-scale.sh), with OPTION (e.g. "option splice-response")
# in its defaults; its config and log are QP_TMP/NAME.cfg and NAME.log. Sets HAPROXY_URL,
# HAPROXY_PID.
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
  HAPROXY_PID=$!
  QP_PIDS+=("$HAPROXY_PID")
  HAPROXY_URL=http://127.0.0.1:$port
  wait_http "$HAPROXY_URL/v2/" "$HAPROXY_PID" 30 || die "haproxy did not come up on $HAPROXY_URL"
  log "$name $HAPROXY_URL ($(haproxy -v | head -n 1)${option:+, $option})"
}

# ---------------------------------------------------------------- proxy

# start_proxy [LOG_NAME [ARGS...]]: the proxy jar in front of REGISTRY_URL, on a
# fresh port, with ARGS as extra settings (--config FILE, --redis.url URL, ...).
# Its stdout (JSON access log) and stderr go to QP_TMP/LOG_NAME (default proxy.log).
# Sets PROXY_PORT, PROXY_URL, PROXY_PID, PROXY_LOG.
start_proxy() {
  need java
  [[ -f "$QP_JAR" ]] || die "proxy jar not found: $QP_JAR (build it with: mvn -q -B -DskipTests package)"
  free_port
  PROXY_PORT=$FREE_PORT
  PROXY_URL=http://127.0.0.1:$PROXY_PORT
  local name=${1:-proxy.log}
  shift $(($# > 0 ? 1 : 0))
  proxy_up "$name" "$@"
  log "proxy    $PROXY_URL (pid $PROXY_PID${JAVA_OPTS:+, JAVA_OPTS=$JAVA_OPTS}${*:+, $*}, log $PROXY_LOG)"
}

# proxy_up LOG_NAME [ARGS...]: the proxy jar on PROXY_PORT in front of REGISTRY_URL, with
# ARGS, logging to QP_TMP/LOG_NAME: start_proxy's start, and a restart on the same port
# after a stop or a kill (lib/faults.sh). Sets PROXY_PID, PROXY_LOG.
proxy_up() {
  PROXY_LOG=$QP_TMP/$1
  shift
  # JAVA_OPTS is deliberately word-split: it holds several JVM options.
  # shellcheck disable=SC2086
  # --admin.port 0: the admin listener takes any free port, so several proxies (bench-quota.sh runs
  # two at once) never compete for the default 8081; its address is in the log.
  java ${JAVA_OPTS:-} -jar "$QP_JAR" --upstream "$REGISTRY_URL" \
    --port "$PROXY_PORT" --host 127.0.0.1 --admin.port 0 "$@" >"$PROXY_LOG" 2>&1 &
  PROXY_PID=$!
  QP_PIDS+=("$PROXY_PID")
  wait_http "$PROXY_URL/v2/" "$PROXY_PID" 60 \
    || die "proxy did not become ready on $PROXY_URL (see $PROXY_LOG)"
}

stop_proxy() {
  if [[ -n "$PROXY_PID" ]]; then qp_stop_pid "$PROXY_PID"; fi
  PROXY_PID=""
}

# access_log [JQ_FILTER [JQ_OPTS...]]: the proxy's JSON access-log records,
# other lines (startup messages on stderr) skipped.
access_log() {
  access_log_since 0 "$@"
}

# log_mark: a position in the proxy log, for access_log_since.
log_mark() {
  if [[ -n "$PROXY_LOG" && -f "$PROXY_LOG" ]]; then wc -l <"$PROXY_LOG"; else echo 0; fi
}

# access_log_since MARK [JQ_FILTER [JQ_OPTS...]]: records logged after log_mark said MARK.
access_log_since() {
  local mark=$1 filter=${2:-.}
  shift $(($# < 2 ? $# : 2))
  tail -n "+$((mark + 1))" "$PROXY_LOG" \
    | jq -c "$@" -R "fromjson? | objects | select(has(\"op\")) | $filter"
}

# check_access_log SUMMARY_FILTER: the step "proxy access log": its records counted by
# SUMMARY_FILTER (a jq string, e.g. .op), then a check that the proxy answered no 5xx.
check_access_log() {
  local bad
  step "proxy access log"
  access_log "$1" -r | sort | uniq -c | sed 's/^/      /'
  bad=$(access_log 'select(.status >= 500) | "\(.method) \(.path) \(.status) \(.outcome)"' -r)
  if [[ -n "$bad" ]]; then fail "proxy answered 5xx:"$'\n'"$bad"; else pass "no 5xx in the proxy access log"; fi
}

# ---------------------------------------------------------------- redis

# start_redis: a private redis-server on a fresh loopback port, in memory only
# (no RDB snapshots, no AOF), so a script can read the proxy's quota keys.
# Sets REDIS_PORT, REDIS_URL, REDIS_PID, REDIS_LOG.
start_redis() {
  need redis-server redis-cli
  free_port
  REDIS_PORT=$FREE_PORT
  REDIS_URL=redis://127.0.0.1:$REDIS_PORT
  REDIS_LOG=$QP_TMP/redis.log
  redis_up
  log "redis    $REDIS_URL (pid $REDIS_PID, $(redis-server --version | awk '{ print $3 }'))"
}

# redis_up: redis-server on REDIS_PORT as start_redis runs it (in memory; an RDB in QP_TMP,
# should a script SAVE one, is loaded): start_redis's start, and a restart on the same port
# after a kill (lib/faults.sh).
redis_up() {
  local i
  redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --save '' --appendonly no \
    --dir "$QP_TMP" >>"$REDIS_LOG" 2>&1 &
  REDIS_PID=$!
  QP_PIDS+=("$REDIS_PID")
  for ((i = 0; i < 100; i++)); do
    [[ "$(rcli PING 2>/dev/null)" == PONG ]] && return 0
    kill -0 "$REDIS_PID" 2>/dev/null || die "redis-server exited (see $REDIS_LOG)"
    sleep 0.1
  done
  die "redis-server did not answer on port $REDIS_PORT"
}

# rcli ARGS...: redis-cli against the redis of start_redis (raw replies, one a line), or,
# on a Redis Cluster (lib/cluster.sh), against its node REDIS_PORT, following redirects
# (REDIS_CLI_ARGS=(-c)), so a namespace's keys are read from whichever primary holds them.
rcli() {
  redis-cli -h 127.0.0.1 -p "$REDIS_PORT" --raw "${REDIS_CLI_ARGS[@]}" "$@"
}

# used SCOPE / reserved SCOPE: the proxy's committed / in-flight bytes of SCOPE in Redis
# (0 when absent).
used() { redis_hash_field used "$1"; }
reserved() { redis_hash_field reserved "$1"; }
redis_hash_field() {
  local ns=${2%%/*} value
  value=$(rcli HGET "qp:{$ns}:$1" "$2")
  echo "${value:-0}"
}

# reserved_total NAMESPACE: in-flight bytes over every scope of the namespace.
reserved_total() {
  rcli HVALS "qp:{$1}:reserved" | awk '{ s += $1 } END { print s + 0 }'
}

# ---------------------------------------------------------------- docker daemon

# start_dockerd: a private Docker daemon (Debian's docker.io) with all its state in
# QP_TMP/dk: vfs storage (no overlay mounts), no iptables rules, no bridge, no IP
# forwarding or masquerading, its own containerd, a socket of its own. It only pushes and
# pulls images (it runs no container), through loopback registries, which Docker takes
# for insecure (plain HTTP) by default. Stopped by stop_dockerd in the EXIT trap.
# Returns 1 (after printing SKIP) if dockerd or a docker client is not installed, unless
# REQUIRE_TEST_TOOLS=1; a daemon that is installed but does not come up is a failure,
# with its log. Sets DOCKERD_PID, DOCKERD_LOG, DOCKER_DIR, DOCKER_SOCK, QP_DOCKER.
start_dockerd() {
  local dir=$QP_TMP/dk i
  if [[ -z "$QP_DOCKER" ]]; then
    # Debian's client, not a newer one some hosts put first on PATH (/usr/local/bin).
    if [[ -x /usr/bin/docker ]]; then QP_DOCKER=/usr/bin/docker; else QP_DOCKER=$(command -v docker || true); fi
  fi
  want "docker steps (Debian package docker.io)" dockerd "${QP_DOCKER:-docker}" || return 1
  # A unix socket path is at most 107 bytes; containerd's longest is x/containerd/containerd-debug.sock.
  ((${#dir} + 40 < 108)) || die "temp dir path too long for the docker daemon's sockets: $dir (set TMPDIR shorter)"
  DOCKER_DIR=$dir
  DOCKER_SOCK=$dir/sock
  DOCKERD_LOG=$dir/dockerd.log
  mkdir -p "$dir/client"
  # An empty config file of its own: nothing from the host's /etc/docker/daemon.json.
  echo '{}' >"$dir/daemon.json"
  dockerd --config-file "$dir/daemon.json" --data-root "$dir/data" --exec-root "$dir/x" \
    --pidfile "$dir/pid" -H "unix://$DOCKER_SOCK" --log-level warn --storage-driver vfs \
    --iptables=false --ip-forward=false --ip-masq=false --bridge=none >"$DOCKERD_LOG" 2>&1 &
  DOCKERD_PID=$!
  for ((i = 0; i < 300; i++)); do
    docker_ version >/dev/null 2>&1 && break
    kill -0 "$DOCKERD_PID" 2>/dev/null || die "dockerd exited at start (its log is printed below)"
    sleep 0.1
  done
  docker_ version >/dev/null 2>&1 || die "dockerd did not answer on $DOCKER_SOCK within 30 s"
  log "dockerd  unix://$DOCKER_SOCK (pid $DOCKERD_PID, $(docker_ version -f 'dockerd {{.Server.Version}}, client {{.Client.Version}}' 2>&1) $QP_DOCKER)"
}

# docker_ ARGS...: the docker client against the daemon of start_dockerd, with a client
# config dir of its own (no credentials, contexts or helpers of the host's user).
docker_() {
  env -u DOCKER_CONTEXT -u DOCKER_TLS_VERIFY -u DOCKER_CERT_PATH \
    "$QP_DOCKER" --config "$DOCKER_DIR/client" -H "unix://$DOCKER_SOCK" "$@"
}

# skopeo_to_docker SRC_IMAGE NAME: load SRC_IMAGE (e.g. oci:DIR:TAG) into the daemon as NAME.
skopeo_to_docker() {
  skopeo copy -q --dest-daemon-host "unix://$DOCKER_SOCK" "$1" "docker-daemon:$2"
}

# ---------------------------------------------------------------- podman

# podman_args: set PODMAN to podman with storage of its own under QP_TMP/podman: vfs and
# private root/runroot/tmpdir (no overlay, no fuse, nothing shared with the host's podman),
# cgroupfs and file events because there is no systemd. An array, so that timeout can run it.
podman_args() {
  local p=$QP_TMP/podman
  PODMAN=(podman --root "$p/root" --runroot "$p/run" --tmpdir "$p/tmp"
    --storage-driver vfs --cgroup-manager=cgroupfs --events-backend=file)
}

# podman_ ARGS...: podman with podman_args's options.
podman_() {
  podman_args
  "${PODMAN[@]}" "$@"
}

# skopeo_to_podman SRC_IMAGE NAME: copy SRC_IMAGE (e.g. oci:DIR:TAG) into podman_'s storage
# as NAME, no registry involved (podman pull oci:DIR would name the image after DIR).
skopeo_to_podman() {
  skopeo copy -q "$1" "containers-storage:[vfs@$QP_TMP/podman/root+$QP_TMP/podman/run]$2"
}

# stop_dockerd: stop the daemon (and its containerd, should it outlive it), and undo
# what a killed daemon may have left mounted under DOCKER_DIR (it bind-mounts its data root).
stop_dockerd() {
  [[ -n "$DOCKERD_PID" ]] || return 0
  local cpid mnt _x
  cpid=$(cat "$DOCKER_DIR/x/containerd/containerd.pid" 2>/dev/null) || cpid=""
  qp_stop_pid "$DOCKERD_PID" 20
  DOCKERD_PID=""
  if [[ "$cpid" =~ ^[0-9]+$ ]] && grep -qF "$DOCKER_DIR" "/proc/$cpid/cmdline" 2>/dev/null; then
    qp_stop_pid "$cpid" 5
  fi
  # Deepest first, so nested mounts come off before their parents.
  while read -r _x mnt _x; do
    [[ "$mnt" == "$DOCKER_DIR" || "$mnt" == "$DOCKER_DIR"/* ]] && umount -l "$mnt" 2>/dev/null
  done < <(tac /proc/self/mounts)
  return 0
}

# ---------------------------------------------------------------- files, numbers, time

# sha256_of FILE: print "sha256:<hex>".
sha256_of() {
  local sum
  sum=$(sha256sum "$1") || return 1
  echo "sha256:${sum%% *}"
}

# random_file FILE BYTES: BYTES of /dev/urandom into FILE.
random_file() { head -c "$2" /dev/urandom >"$1"; }

# now: the time, epoch seconds with a fraction. Bash's own clock: no process started (the
# fault suite's clients call it for every operation); a decimal comma made a point for awk.
now() { local t=$EPOCHREALTIME; echo "${t/,/.}"; }
# elapsed START: seconds from START (a now) until now.
elapsed() { awk -v a="$1" -v b="$(now)" 'BEGIN { print b - a }'; }

# median NUMBERS...: their median.
median() { printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
# kib_to_mib KIB: KiB as MiB, one decimal.
kib_to_mib() { awk -v k="$1" 'BEGIN { printf "%.1f", k / 1024 }'; }

# status_kib PID FIELD: a kB field (VmRSS, VmHWM) of /proc/PID/status.
status_kib() { awk -v f="$2:" '$1 == f { print $2 }' "/proc/$1/status"; }

# summary NAME: print the PASS/FAIL summary (after the log tails, on failure)
# and return non-zero if any check failed.
summary() {
  local f
  QP_SUMMARY_DONE=1
  ((QP_FAILED == 0)) || qp_dump_logs
  echo
  if ((${#QP_SKIPS[@]} > 0)); then
    printf '%sSKIPPED:%s\n' "$_QP_BOLD" "$_QP_OFF"
    for f in "${QP_SKIPS[@]}"; do printf '  - %s\n' "$f"; done
  fi
  if ((QP_FAILED > 0)); then
    printf '%sFAILED checks:%s\n' "$_QP_RED" "$_QP_OFF"
    for f in "${QP_FAILURES[@]}"; do printf '  - %s\n' "$f"; done
  fi
  # The counts line comes last and bare: CI reads "N passed, N failed" lines.
  if ((QP_FAILED > 0)); then
    printf '%s%s: FAIL%s\n' "$_QP_RED$_QP_BOLD" "$1" "$_QP_OFF"
  else
    printf '%s%s: PASS%s\n' "$_QP_GREEN$_QP_BOLD" "$1" "$_QP_OFF"
  fi
  printf '%s: %d passed, %d failed\n' "$1" "$QP_PASSED" "$QP_FAILED"
  ((QP_FAILED == 0))
}
