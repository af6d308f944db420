#!/usr/bin/env bash
# What the proxy costs on small requests (manifest GET and HEAD, blob HEAD, tag list: what docker
# pulls, HEAD checks before pushes and catalog calls are made of), against nginx, in one run.
#
#   mvn -B -q -DskipTests package && scripts/bench-small.sh
#
# Two origins, each reached four ways on 127.0.0.1:
#   registry   docker-registry (CNCF distribution 2.8, filesystem storage) holding one image
#   synthetic  an nginx that answers every request from its configuration (a 2 KiB manifest, a tag
#              list, an empty blob answer): faster than the registry, so what a proxy costs is all
#              that shows
# and the paths to each:
#   direct     straight to the origin
#   nginx      nginx 1.22 as a reverse proxy (2 workers, upstream keep-alive, access log buffered):
#              what a mature C proxy costs
#   proxy-off  the proxy, --quota.enabled false
#   proxy-on   the proxy with quotas on: Redis, a Postgres ledger, a hard limit on the namespace
#   vertx-bare the floor under the proxy: a relay of a few lines on the proxy's own stack (Vert.x's
#              HTTP server and client, the answer piped back) doing none of the proxy's work
#              (scripts/lib/BareRelay.java, run from source with the proxy jar on its class path)
#   netty-bare the floor under Vert.x: Netty's HTTP codecs alone, one upstream connection per client
#              connection, each decoded part written straight through (same file)
#
# For each request kind and path: wrk -t2 -c$SB_CONNECTIONS for $SB_SECONDS s (HEADs with hey -c
# $SB_CONNECTIONS: wrk 4.1 waits for the body a HEAD answer announces; Debian's wrk and hey packages)
# (one untimed warm-up
# pass of every path first, then $SB_ROUNDS rounds, the paths in a rotating order), median rps, p50 and
# p99 latency, and CPU per 1,000 requests of each process on the path, from /proc/PID/stat (utime +
# stime, all threads; nginx: its master and workers): the proxy or nginx in front, Redis (proxy-on),
# and the origin. The client (wrk) shares the two cores with all of them.
#
# Prints, per origin, a table, then the ratios the acceptance of issue 13 names:
#   share of direct        rps of a path / rps direct, for nginx and proxy-on
#   CPU ratio              the proxy's CPU per 1,000 requests / nginx's
#   rps against nginx      (synthetic origin) proxy rps / nginx rps
#   added p99              (synthetic origin) p99 of a path - p99 direct
# and the CPU of the two bare relays against nginx's, and the proxy's against the bare Vert.x relay's:
# how much of the proxy's cost is its stack's, and how much its own work.
#
# Environment (defaults in brackets):
#   SB_SECONDS [8]          seconds per measurement
#   SB_WARMUP [15]          seconds of the untimed warm-up pass, per request kind and path (the proxies' JIT
#                           compilers settle in about a minute of load: before, they cost several times more CPU)
#   SB_ROUNDS [3]           timed rounds (after one warm-up pass)
#   SB_CONNECTIONS [32]     wrk connections (2 threads)
#   SB_REQUESTS [manifest-get manifest-head blob-head tag-list]
#   SB_ORIGINS [registry synthetic]
#   SB_PATHS [direct nginx proxy-off proxy-on vertx-bare netty-bare]
#   SB_RATE []              requests per second per connection (hey -q) instead of as many as the
#                           path answers: CPU per request at a load that leaves the cores idle part of
#                           the time, where a saturated machine's preemption does not inflate it
#   QP_JAR, JAVA_OPTS, KEEP_TMP  see scripts/lib/common.sh
# Not run in CI: a benchmark, about 30 minutes with the defaults. Exits non-zero only if something
# failed to run, or a measurement had errors (non-2xx answers, socket errors).
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source-path=SCRIPTDIR source=lib/common.sh
source "$HERE/lib/common.sh"
# shellcheck source-path=SCRIPTDIR source=lib/postgres.sh
source "$HERE/lib/postgres.sh"

SECS=${SB_SECONDS:-8}
WARMUP=${SB_WARMUP:-15}
ROUNDS=${SB_ROUNDS:-3}
CONNS=${SB_CONNECTIONS:-32}
read -r -a REQUESTS <<<"${SB_REQUESTS:-manifest-get manifest-head blob-head tag-list}"
read -r -a ORIGINS <<<"${SB_ORIGINS:-registry synthetic}"
read -r -a PATHS <<<"${SB_PATHS:-direct nginx proxy-off proxy-on vertx-bare netty-bare}"
RATE=${SB_RATE:-}
REPO=bench/app
ACCEPT='application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.v2+json'
CLK_TCK=$(getconf CLK_TCK)
declare -A URL=()       # ORIGIN/PATH -> base URL
declare -A FRONT=()     # ORIGIN/PATH -> pids of the process in front (proxy, nginx master and workers)
declare -A ORIGIN_PIDS=()
declare -A RESULT=()    # ORIGIN/REQUEST/PATH/ROUND -> "rps p50 p99 front_ms redis_ms origin_ms errors"
MANIFEST_DIGEST="" LAYER_DIGEST=""
SB_ERRORS=0

# ---------------------------------------------------------------- CPU and wrk

# cpu_ticks PID...: utime + stime of the processes (every thread), in clock ticks.
cpu_ticks() {
  local pid total=0 fields
  for pid in "$@"; do
    # Fields after the command name (which may hold spaces): utime and stime are the 12th and 13th.
    fields=$(sed 's/^.*) //' "/proc/$pid/stat" 2>/dev/null) || continue
    total=$((total + $(awk '{ print $12 + $13 }' <<<"$fields")))
  done
  echo "$total"
}

# nginx_pids MASTER: the master and its workers.
nginx_pids() { echo "$1 $(pgrep -P "$1" | tr '\n' ' ')"; }

# wrk_script REQUEST: a wrk Lua script for the request kind (method and headers); prints its path.
wrk_script() {
  local file=$QP_TMP/wrk-$1.lua
  case $1 in
    manifest-get) printf 'wrk.method = "GET"\nwrk.headers["Accept"] = "%s"\n' "$ACCEPT" >"$file" ;;
    manifest-head) printf 'wrk.method = "HEAD"\nwrk.headers["Accept"] = "%s"\n' "$ACCEPT" >"$file" ;;
    blob-head | tag-list) printf 'wrk.method = "%s"\n' "$([[ $1 == blob-head ]] && echo HEAD || echo GET)" >"$file" ;;
  esac
  echo "$file"
}

# request_path REQUEST: the URL path of the request kind.
request_path() {
  case $1 in
    manifest-get | manifest-head) echo "/v2/$REPO/manifests/1" ;;
    blob-head) echo "/v2/$REPO/blobs/$LAYER_DIGEST" ;;
    tag-list) echo "/v2/$REPO/tags/list" ;;
  esac
}

# measure ORIGIN REQUEST PATH KEY [SECONDS]: one wrk run; stores RESULT[KEY] (none for an empty KEY: a warm-up).
measure() {
  local origin=$1 request=$2 path=$3 key=$4 secs=${5:-$SECS} out front redis origin_pids
  local -a f0 f1
  read -r -a front <<<"${FRONT[$origin/$path]:-}"
  read -r -a origin_pids <<<"${ORIGIN_PIDS[$origin]}"
  f0=("$(cpu_ticks "${front[@]}")" "$( [[ $path == proxy-on ]] && cpu_ticks "$REDIS_PID" || echo 0)" "$(cpu_ticks "${origin_pids[@]}")")
  local url=${URL[$origin/$path]}$(request_path "$request")
  if [[ $request == *head || -n "$RATE" ]]; then
    # wrk 4.1 waits for the body a HEAD answer announces and never gets: hey (Go) sends these, and
    # every request at a fixed rate (wrk has no rate).
    local method=GET
    [[ $request == *head ]] && method=HEAD
    out=$(hey -z "${secs}s" -c "$CONNS" ${RATE:+-q "$RATE"} -m "$method" -H "Accept: $ACCEPT" "$url" 2>&1) \
      || { fail "hey $origin/$request/$path: $out"; return; }
  else
    out=$(wrk -t2 -c"$CONNS" -d"${secs}s" --latency -s "$(wrk_script "$request")" "$url" 2>&1) \
      || { fail "wrk $origin/$request/$path: $out"; return; }
  fi
  f1=("$(cpu_ticks "${front[@]}")" "$( [[ $path == proxy-on ]] && cpu_ticks "$REDIS_PID" || echo 0)" "$(cpu_ticks "${origin_pids[@]}")")
  [[ -n "$key" ]] || return 0
  # rps, p50 and p99 in ms, requests, errors (non-2xx/3xx answers and socket errors).
  local parsed
  parsed=$(awk '
    function ms(v) { if (v ~ /us$/) return v / 1000; if (v ~ /ms$/) return v + 0; if (v ~ /s$/) return v * 1000; return v }
    # wrk
    /^ +50%/ { p50 = ms($2) } /^ +99%/ { p99 = ms($2) }
    /requests in/ { n = $1 } /^Requests\/sec:/ { rps = $2 }
    /Non-2xx or 3xx responses:/ { e += $NF }
    /Socket errors:/ { gsub(/,/, ""); e += $4 + $6 + $8 + $10 }
    # hey
    /^ +Requests\/sec:/ { rps = $2 }
    /^ +50% in/ { p50 = $3 * 1000 } /^ +99% in/ { p99 = $3 * 1000 }
    /^ +\[[0-9]+\]/ { code = substr($1, 2, 3); if (code !~ /^[23]/) e += $2; n += $2 }
    /^Error distribution:/ { errs = 1; next } errs && /^ +\[[0-9]+\]/ { e += substr($1, 2, length($1) - 2) }
    END { printf "%.1f %.3f %.3f %d %d", rps, p50, p99, n, e }' <<<"$out")
  local rps p50 p99 n errors
  read -r rps p50 p99 n errors <<<"$parsed"
  if ((errors > 0)); then
    fail "$origin/$request/$path: $errors errors in $n requests"
    SB_ERRORS=$((SB_ERRORS + 1))
  fi
  ((n > 0)) || { fail "$origin/$request/$path: no request answered"; return; }
  # CPU milliseconds per 1,000 requests.
  local per=()
  local i
  for i in 0 1 2; do
    per[i]=$(awk -v d=$((f1[i] - f0[i])) -v t="$CLK_TCK" -v n="$n" 'BEGIN { printf "%.1f", d * 1000 / t / n * 1000 }')
  done
  RESULT[$key]="$rps $p50 $p99 ${per[0]} ${per[1]} ${per[2]} $errors"
}

# ---------------------------------------------------------------- the topology

start_nginx() {
  local name=$1 port=$2 body=$3 dir=$QP_TMP/nginx-$1
  mkdir -p "$dir/logs"
  cat >"$dir/nginx.conf" <<CONF
worker_processes 2;
pid $dir/nginx.pid;
error_log $dir/logs/error.log warn;
$( ((EUID == 0)) && echo "user root;")
events { worker_connections 4096; }
http {
  access_log $dir/logs/access.log combined buffer=64k flush=1s;
  keepalive_requests 100000;
  server_tokens off;
  $body
}
CONF
  nginx -p "$dir" -c "$dir/nginx.conf" -g 'daemon off;' >"$dir/logs/stdout.log" 2>&1 &
  local pid=$!
  QP_PIDS+=("$pid")
  wait_http "http://127.0.0.1:$port/v2/" "$pid" 20 || die "nginx $name did not come up on $port (see $dir/logs)"
  sleep 0.2 # the workers
  NGINX_PID=$pid
}

# nginx_front NAME UPSTREAM_PORT: nginx as a reverse proxy to 127.0.0.1:UPSTREAM_PORT; sets NGINX_PID, NGINX_URL.
nginx_front() {
  free_port
  local port=$FREE_PORT
  start_nginx "front-$1" "$port" "
  upstream origin { server 127.0.0.1:$2; keepalive 64; }
  server {
    listen 127.0.0.1:$port reuseport;
    client_max_body_size 0;
    location / {
      proxy_pass http://origin;
      proxy_http_version 1.1;
      proxy_set_header Connection \"\";
      proxy_set_header Host \$http_host;
    }
  }"
  NGINX_URL=http://127.0.0.1:$port
}

# synthetic_origin: nginx answering the four requests from its configuration; sets SYNTH_PORT, SYNTH_PID.
synthetic_origin() {
  local manifest config_digest layers="" i
  config_digest=sha256:$(printf 'config' | sha256sum | cut -d' ' -f1)
  for ((i = 0; i < 12; i++)); do
    layers+="${layers:+,}{\"mediaType\":\"application/vnd.oci.image.layer.v1.tar+gzip\",\"digest\":\"sha256:$(printf 'layer%s' "$i" | sha256sum | cut -d' ' -f1)\",\"size\":$((1000000 + i))}"
  done
  manifest="{\"schemaVersion\":2,\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\",\"config\":{\"mediaType\":\"application/vnd.oci.image.config.v1+json\",\"digest\":\"$config_digest\",\"size\":6},\"layers\":[$layers]}"
  printf '%s' "$manifest" >"$QP_TMP/synthetic-manifest.json"
  local digest
  digest=sha256:$(sha256sum <"$QP_TMP/synthetic-manifest.json" | cut -d' ' -f1)
  free_port
  SYNTH_PORT=$FREE_PORT
  start_nginx synthetic "$SYNTH_PORT" "
  server {
    listen 127.0.0.1:$SYNTH_PORT reuseport;
    location = /v2/ { default_type application/json; add_header Docker-Distribution-Api-Version registry/2.0; return 200 '{}'; }
    location ~ ^/v2/.+/manifests/ {
      default_type application/vnd.oci.image.manifest.v1+json;
      add_header Docker-Content-Digest $digest;
      add_header Docker-Distribution-Api-Version registry/2.0;
      return 200 '$manifest';
    }
    location ~ ^/v2/.+/blobs/ {
      default_type application/octet-stream;
      add_header Docker-Content-Digest \$uri;
      return 200 '';
    }
    location ~ ^/v2/.+/tags/list\$ { default_type application/json; return 200 '{\"name\":\"$REPO\",\"tags\":[\"1\",\"2\",\"3\",\"latest\"]}'; }
  }"
  SYNTH_PID=$NGINX_PID
  log "synthetic origin http://127.0.0.1:$SYNTH_PORT (nginx pid $SYNTH_PID; a ${#manifest}-byte manifest)"
}

# push_image: one image (a 2 MiB layer, a config, a manifest tagged 1) into the registry.
push_image() {
  local dir=$QP_TMP/image layer config manifest
  mkdir -p "$dir"
  layer=$dir/layer && random_file "$layer" $((2 * MIB))
  config=$dir/config && printf '{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}' >"$config"
  PROXY_URL=$REGISTRY_URL HTTP_DIR=$dir
  [[ "$(upload_blob "$REPO" "$layer" put)" == 201 ]] || die "push the layer"
  [[ "$(upload_blob "$REPO" "$config" put)" == 201 ]] || die "push the config"
  LAYER_DIGEST=sha256:$(sha256sum <"$layer" | cut -d' ' -f1)
  manifest=$dir/manifest.json
  printf '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"sha256:%s","size":%d},"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar+gzip","digest":"%s","size":%d}]}' \
    "$(sha256sum <"$config" | cut -d' ' -f1)" "$(stat -c %s "$config")" "$LAYER_DIGEST" "$(stat -c %s "$layer")" >"$manifest"
  curl -fsS -o /dev/null -X PUT -H 'Content-Type: application/vnd.oci.image.manifest.v1+json' --data-binary "@$manifest" \
    "$REGISTRY_URL/v2/$REPO/manifests/1" || die "push the manifest"
  MANIFEST_DIGEST=sha256:$(sha256sum <"$manifest" | cut -d' ' -f1)
}

# proxies_in_front ORIGIN UPSTREAM_URL: proxy-off and proxy-on in front of UPSTREAM_URL.
proxies_in_front() {
  local origin=$1 upstream=$2 saved=$REGISTRY_URL
  REGISTRY_URL=$upstream
  start_proxy "proxy-off-$origin.log" --quota.enabled false
  URL[$origin/proxy-off]=$PROXY_URL FRONT[$origin/proxy-off]=$PROXY_PID
  start_proxy "proxy-on-$origin.log" --config "$QP_TMP/quota.yml" --redis.url "$REDIS_URL" --postgres.url "$PG_URL"
  URL[$origin/proxy-on]=$PROXY_URL FRONT[$origin/proxy-on]=$PROXY_PID
  REGISTRY_URL=$saved
}

# bare_relays ORIGIN UPSTREAM_PORT: the bare relays of PATHS (scripts/lib/BareRelay.java) in front of
# 127.0.0.1:UPSTREAM_PORT.
bare_relays() {
  local kind port pid log
  for kind in vertx netty; do
    [[ " ${PATHS[*]} " == *" $kind-bare "* ]] || continue
    free_port
    port=$FREE_PORT log=$QP_TMP/bare-$kind-$1.log
    # shellcheck disable=SC2086
    java ${JAVA_OPTS:-} -cp "$QP_JAR" "$HERE/lib/BareRelay.java" "$kind" "$port" "$2" >"$log" 2>&1 &
    pid=$!
    QP_PIDS+=("$pid")
    wait_http "http://127.0.0.1:$port/v2/" "$pid" 60 || die "the bare $kind relay did not come up (see $log)"
    URL[$1/$kind-bare]=http://127.0.0.1:$port FRONT[$1/$kind-bare]=$pid
    log "bare $kind relay http://127.0.0.1:$port (pid $pid) in front of the $1 origin"
  done
}

setup() {
  need wrk hey nginx docker-registry redis-server java curl sha256sum getconf pgrep
  qp_init bench-small
  step "origins, nginx, proxies"
  start_registry
  start_redis
  start_postgres
  printf 'quota:\n  scopes:\n    bench: {storage-hard: 10GiB}\n' >"$QP_TMP/quota.yml"
  push_image
  ORIGIN_PIDS[registry]=$REGISTRY_PID
  URL[registry/direct]=$REGISTRY_URL
  nginx_front registry "$REGISTRY_PORT"
  URL[registry/nginx]=$NGINX_URL FRONT[registry/nginx]=$(nginx_pids "$NGINX_PID")
  proxies_in_front registry "$REGISTRY_URL"
  bare_relays registry "$REGISTRY_PORT"
  synthetic_origin
  ORIGIN_PIDS[synthetic]=$(nginx_pids "$SYNTH_PID")
  URL[synthetic/direct]=http://127.0.0.1:$SYNTH_PORT
  nginx_front synthetic "$SYNTH_PORT"
  URL[synthetic/nginx]=$NGINX_URL FRONT[synthetic/nginx]=$(nginx_pids "$NGINX_PID")
  proxies_in_front synthetic "http://127.0.0.1:$SYNTH_PORT"
  bare_relays synthetic "$SYNTH_PORT"
  local origin request path status
  for origin in "${ORIGINS[@]}"; do
    for path in "${PATHS[@]}"; do
      for request in "${REQUESTS[@]}"; do
        local -a verb=()
        # -X HEAD would make curl wait for a body that never comes.
        [[ $request == *head ]] && verb=(--head)
        status=$(curl -s -o /dev/null -w '%{http_code}' -H "Accept: $ACCEPT" "${verb[@]}" "${URL[$origin/$path]}$(request_path "$request")")
        check_eq "$origin $request through $path" 200 "$status"
      done
    done
  done
}

# ---------------------------------------------------------------- figures

# field KEY_PREFIX N: the median over rounds of field N of RESULT[KEY_PREFIX/round].
field() {
  local prefix=$1 n=$2 r values=()
  for ((r = 1; r <= ROUNDS; r++)); do
    [[ -n "${RESULT[$prefix/$r]:-}" ]] && values+=("$(awk -v n="$n" '{ print $n }' <<<"${RESULT[$prefix/$r]}")")
  done
  ((${#values[@]})) && median "${values[@]}" || echo nan
}

div() { awk -v a="$1" -v b="$2" 'BEGIN { if (b == 0 || a == "nan" || b == "nan") print "n/a"; else printf "%.2f", a / b }'; }
sub_ms() { awk -v a="$1" -v b="$2" 'BEGIN { if (a == "nan" || b == "nan") print "n/a"; else printf "%.2f", a - b }'; }

report() {
  local origin request path p
  for origin in "${ORIGINS[@]}"; do
    step "origin: $origin (${RATE:+hey -q $RATE, }$CONNS connections, ${SECS}s, median of $ROUNDS rounds; CPU in ms per 1,000 requests)"
    printf '  %-14s %-10s %9s %7s %8s %8s %9s %9s %9s\n' request path rps share p50_ms p99_ms front_cpu redis_cpu origin_cpu
    for request in "${REQUESTS[@]}"; do
      local direct_rps
      direct_rps=$(field "$origin/$request/direct" 1)
      for path in "${PATHS[@]}"; do
        p="$origin/$request/$path"
        printf '  %-14s %-10s %9s %7s %8s %8s %9s %9s %9s\n' "$request" "$path" "$(field "$p" 1)" "$(div "$(field "$p" 1)" "$direct_rps")" \
          "$(field "$p" 2)" "$(field "$p" 3)" "$(field "$p" 4)" "$(field "$p" 5)" "$(field "$p" 6)"
      done
    done
    echo
    printf '  %-14s %18s %18s %16s %16s %14s %14s\n' request "nginx share" "proxy-on share" "proxy-on/nginx" "cpu on/nginx" "add p99 nginx" "add p99 on"
    for request in "${REQUESTS[@]}"; do
      local d n on
      d=$(field "$origin/$request/direct" 1) n=$(field "$origin/$request/nginx" 1) on=$(field "$origin/$request/proxy-on" 1)
      printf '  %-14s %18s %18s %16s %16s %14s %14s\n' "$request" "$(div "$n" "$d")" "$(div "$on" "$d")" "$(div "$on" "$n")" \
        "$(div "$(field "$origin/$request/proxy-on" 4)" "$(field "$origin/$request/nginx" 4)")" \
        "$(sub_ms "$(field "$origin/$request/nginx" 3)" "$(field "$origin/$request/direct" 3)")" \
        "$(sub_ms "$(field "$origin/$request/proxy-on" 3)" "$(field "$origin/$request/direct" 3)")"
    done
    echo
    printf '  %-14s %20s %20s %20s %20s\n' request "cpu vertx-bare/nginx" "cpu netty-bare/nginx" "cpu off/vertx-bare" "cpu on/vertx-bare"
    for request in "${REQUESTS[@]}"; do
      local cpu_n cpu_vx
      cpu_n=$(field "$origin/$request/nginx" 4) cpu_vx=$(field "$origin/$request/vertx-bare" 4)
      printf '  %-14s %20s %20s %20s %20s\n' "$request" "$(div "$cpu_vx" "$cpu_n")" "$(div "$(field "$origin/$request/netty-bare" 4)" "$cpu_n")" \
        "$(div "$(field "$origin/$request/proxy-off" 4)" "$cpu_vx")" "$(div "$(field "$origin/$request/proxy-on" 4)" "$cpu_vx")"
    done
  done
}

bench_small_main() {
  setup
  local origin request path round i n=${#PATHS[@]}
  step "warm-up: every path once, ${WARMUP}s each, untimed"
  for origin in "${ORIGINS[@]}"; do
    for request in "${REQUESTS[@]}"; do
      for path in "${PATHS[@]}"; do
        measure "$origin" "$request" "$path" "" "$WARMUP"
      done
    done
  done
  for ((round = 1; round <= ROUNDS; round++)); do
    step "round $round of $ROUNDS"
    for origin in "${ORIGINS[@]}"; do
      for request in "${REQUESTS[@]}"; do
        # A rotating order: no path always runs first (or after the same neighbour).
        for ((i = 0; i < n; i++)); do
          path=${PATHS[(i + round) % n]}
          measure "$origin" "$request" "$path" "$origin/$request/$path/$round"
          log "$origin $request $path: ${RESULT[$origin/$request/$path/$round]:-failed} (rps p50 p99 front redis origin errors)"
        done
      done
    done
  done
  report
  summary bench-small
}

bench_small_main "$@"
