# shellcheck shell=bash
# The fault suite shared by scripts/e2e-faults.sh (CI: each fault once) and
# scripts/soak-faults.sh (faults every few seconds for a given time). Source it after
# lib/common.sh, set the FAULT_* settings below, then call faults_main.
#
# Topology, all real processes on loopback, all state under QP_TMP:
#   docker-registry   CNCF distribution 2.8, filesystem storage (start_registry)
#   redis-server      its own, in memory only, so it can be flushed, restarted empty, paused
#   postgres          its own cluster (Debian's postgresql, initdb + pg_ctl, fsync off), run as
#                     the postgres user (or nobody), so it can be stopped and started
#   the proxy jar     --redis.url, --postgres.url, an admin token, limits from a YAML file
#
# Workload: four background clients, each with repositories of its own in every namespace
# (alpha, beta, gamma, delta), so each client's operations on a repository are sequential
# and their outcomes can be folded into what the registry must hold:
#   sk   skopeo copy of small OCI images (make-test-image.sh) up, down, and deletes by digest
#   pm   podman push --storage-driver vfs (chunked PATCH uploads, cross-repository mounts)
#   c1, c2  curl: POST + PUT, POST + PATCH + PUT (with and without Content-Length), manifest
#        PUT, manifest and blob DELETE, manifest and blob GET
# Every operation is appended to $QP_TMP/events/<client>.tsv:
#   start end client kind repository digest code
# kind: push (a manifest), mdel (a manifest delete), blob (a blob no manifest references),
# bdel (its delete), pull; code: the HTTP status, "skip:<status>" when an earlier step of the
# push failed (the manifest was never sent), or x<exit code> for a client that failed without
# one. beta, gamma/team, delta and delta/sk/app sit near hard limits, so 403s are expected.
#
# Faults, one at a time, each at a seeded random moment, each followed by its recovery and a
# probe push that measures how long pushes took to be accepted again:
#   flushall, flushdb, redis-restart (kill -9, started again empty on the same port),
#   redis-older (an RDB saved, a few seconds of workload, kill -9, started again from that
#   RDB: state older than the ledger's, as an older snapshot or a truncated AOF brings back),
#   ns-keys (one namespace's qp:{ns}:* keys deleted by hand), redis-slow (CLIENT PAUSE 3000
#   ALL, again and again for ~10 s), postgres-down (immediate stop, started again later),
#   registry-down (stopped mid-push, started again), proxy-kill (kill -9 mid-push, started
#   again), read-only (PUT /api/v1/system {"read_only": true} for a few seconds).
#
# Checks, once quiet (no client running, every ledger stream read and acknowledged, the
# lag metric at 0), before any reconciliation, which would hide drift:
#   drift             per scope (namespaces, every repository path scope, and the system scope
#                     as the sum of the namespaces): the registry's storage (walked as
#                     RegistryStorage.java walks it), Redis's qp:{ns}:used, the ledger's
#                     scope_usage; drift = sum of |redis - registry| + |ledger - registry|
#   events lost       every manifest (and unreferenced blob) the clients last saw pushed (201)
#                     must be in the ledger (manifests, repository_blobs), every one they last
#                     saw deleted (202) must not
#   double-counted    bytes Redis or the ledger charges above what the registry holds, summed
#   limits            bytes the registry holds under each limited scope <= its hard limit
#   read-only         no push answered 201 that started after read-only was in force (plus
#                     one refresh) and ended before it was lifted
# printed as "faults: N injected; events lost L, double-counted D, drift B bytes", then
# POST /api/v1/reconciliations, whose drift lists must be empty.
#
# Postgres comes from lib/postgres.sh, the registry's storage walk, the per-scope figures and
# the ledger's lag from lib/storage.sh; both are sourced here.
#
# Settings (the calling script sets them):
#   FAULT_SEED       seed of every random choice (FAULT_SEED from the environment, else random)
#   FAULT_MODE       ci: the ten faults once each, in a seeded order; soak: faults until
#                    FAULT_DURATION seconds have passed, cycling through seeded orders
#   FAULT_DURATION   soak only: seconds of faults
#   FAULT_GAP_MIN, FAULT_GAP_MAX  seconds of workload before each fault
#   FAULT_PG_MIN, FAULT_PG_MAX    seconds Postgres stays down
#   FAULT_SLOW_SECS  seconds Redis is slowed

# shellcheck source-path=SCRIPTDIR source=postgres.sh
source "$QP_LIB/postgres.sh"
# shellcheck source-path=SCRIPTDIR source=storage.sh
source "$QP_LIB/storage.sh"

FAULT_KINDS=(flushall flushdb redis-restart redis-older ns-keys redis-slow postgres-down registry-down proxy-kill read-only)
NAMESPACES=(alpha beta gamma delta)
CLIENTS=(sk pm c1 c2)
ADMIN_TOKEN=fault-suite-admin-token-0123456789abcdef
# Hard limits, in bytes, of the scopes near them (images are 100-600 KiB).
declare -A LIMITS=(
  [beta]=$((1536 * KIB))
  [gamma/team]=$((1024 * KIB))
  [delta]=$((3 * MIB))
  [delta/sk/app]=$((768 * KIB))
)
POOL=(img1 img2 img3 img4 img5 img1b)   # the OCI layout's tags skopeo pushes
PODMAN_POOL=(img2 img4 img1b)           # the ones loaded into podman's storage
# quota.system.refresh: how long a proxy may take to follow a change of the system settings.
SYSTEM_REFRESH=1

LAYOUT=""
EVENTS=""
STOP_FILE=""
FAULT_LOG=""
PROXY_ARGS=()
PROXY_STARTS=0
WORKER_PIDS=()
FAULTS_INJECTED=0
RO_WINDOWS=()       # "start end" of each read-only window, epoch seconds
RECOVERY=()         # "kind seconds" of each fault
declare -A FIGURE=()

# ---------------------------------------------------------------- small helpers

hms() { date -d "@$1" +%H:%M:%S.%3N; }
# fsub A B: A - B, seconds with a fraction.
fsub() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f", a - b }'; }
# rand_between LO HI: a seeded integer in [LO, HI], into RAND. (Not a $(...) helper: a
# subshell reseeds RANDOM, and the run would no longer replay from its seed.)
rand_between() { RAND=$(($1 + RANDOM % ($2 - $1 + 1))); }

# ---------------------------------------------------------------- topology

# faults_proxy_up: the first start goes through start_proxy (which picks PROXY_PORT); later
# ones (after proxy-kill) through proxy_up, on the same ports, each logging to a file of its
# own (proxy-N.log). Then waits for the admin listener.
faults_proxy_up() {
  PROXY_STARTS=$((PROXY_STARTS + 1))
  if ((PROXY_STARTS == 1)); then
    start_proxy proxy-1.log "${PROXY_ARGS[@]}"
  else
    proxy_up "proxy-$PROXY_STARTS.log" "${PROXY_ARGS[@]}"
  fi
  wait_http "$ADMIN_URL/healthz" "$PROXY_PID" 30 || die "no admin listener on $ADMIN_URL"
}

faults_build_images() {
  step "build test images (OCI layout, random layers) and load some into podman's storage"
  LAYOUT=$QP_TMP/images
  local tag kib
  for tag in img1 img2 img3 img4 img5; do
    kib=$((64 + 64 * (RANDOM % 4)))
    "$HERE/make-test-image.sh" "$LAYOUT" "$tag" 2 "$kib" >/dev/null || die "make-test-image.sh $tag"
  done
  # img1b shares img1's layers and adds one: a shared base, counted once per scope.
  "$HERE/make-test-image.sh" "$LAYOUT" img1b 1 64 img1 >/dev/null || die "make-test-image.sh img1b"
  for tag in "${POOL[@]}"; do log "image $tag: $(image_size "$LAYOUT" "$tag") bytes"; done
  mkdir -p "$QP_TMP/podman"
  for tag in "${PODMAN_POOL[@]}"; do
    skopeo_to_podman "oci:$LAYOUT:$tag" "localhost/ft/$tag:v1" || die "skopeo copy of $tag into podman's storage"
  done
}

faults_setup() {
  need curl jq skopeo podman umoci docker-registry redis-server redis-cli psql runuser find awk sha256sum
  qp_init "$FAULT_NAME"
  trap faults_cleanup EXIT
  EVENTS=$QP_TMP/events
  STOP_FILE=$QP_TMP/stop
  FAULT_LOG=$QP_TMP/faults.log
  mkdir -p "$EVENTS" "$QP_TMP/w/injector"
  : >"$FAULT_LOG"
  faults_build_images

  local scope
  {
    echo "quota:"
    echo "  # Small increments: chunked uploads reserve, and are cut off, in several steps."
    echo "  chunk-reservation: 64KiB"
    echo "  # A kill -9'd proxy's reservations stay until they expire: short, so later pushes get the room."
    echo "  reservation-ttl: 30s"
    echo "  system:"
    echo "    refresh: ${SYSTEM_REFRESH}s"
    echo "  scopes:"
    for scope in "${!LIMITS[@]}"; do echo "    $scope: {storage-hard: ${LIMITS[$scope]}}"; done
    echo "ledger:"
    echo "  # No periodic reconciliation: it would hide drift from the checks. The one that follows a loss of"
    echo "  # Redis writes runs soon, under the suite's live load: it must not undo the pushes it races."
    echo "  reconcile-interval: 0s"
    echo "  reconcile-after-loss: 5s"
  } >"$QP_TMP/quota.yml"

  step "start registry, redis, postgres and proxy (limits from $QP_TMP/quota.yml)"
  start_registry
  start_redis
  start_postgres
  free_admin_port
  PROXY_ARGS=(--config "$QP_TMP/quota.yml" --redis.url "$REDIS_URL" --postgres.url "$PG_URL"
    --admin.port "$ADMIN_PORT" --admin.token "$ADMIN_TOKEN")
  faults_proxy_up
  log "admin    $ADMIN_URL"
  for scope in "${!LIMITS[@]}"; do log "limit    $scope: ${LIMITS[$scope]} bytes"; done
}

faults_cleanup() {
  local rc=$? pid
  set +e
  touch "$STOP_FILE" 2>/dev/null
  for pid in "${WORKER_PIDS[@]}"; do
    kill -0 "$pid" 2>/dev/null || continue
    pkill -TERM -P "$pid" 2>/dev/null
    kill -TERM "$pid" 2>/dev/null
  done
  pg_down
  ((rc == 0)) || pg_dump_log
  (exit "$rc")
  qp_cleanup
}

# ---------------------------------------------------------------- workload

# record KIND REPO DIGEST CODE START: one line of the calling client's events file.
record() {
  printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$5" "$(now)" "$WORKER" "$1" "$2" "${3:--}" "$4" >>"$EVENTS/$WORKER.tsv"
}

# as_client NAME: what follows runs as client NAME: its events file, its own directory
# (WDIR), where http keeps its last response; every request bounded to 60 s (stop_workers
# waits for the last one), curl's errors not printed (a refused connection is a status 000,
# recorded as such).
as_client() {
  WORKER=$1
  WDIR=$QP_TMP/w/$WORKER
  mkdir -p "$WDIR"
  # shellcheck disable=SC2034  # read by http (lib/http.sh)
  HTTP_DIR=$WDIR HTTP_OPTS=(--max-time 60 --no-show-error)
}

# pick ARRAY_NAME: a seeded element of the array, into PICKED (not a $(...) helper either).
pick() {
  local -n arr=$1
  PICKED=${arr[RANDOM % ${#arr[@]}]}
}

# The repositories of a client: one per namespace, gamma's under gamma/team (limited).
client_repos() {
  local c=$1
  echo "alpha/$c/app beta/$c/app gamma/team/$c delta/$c/app"
}

# curl_push REPO: config and one or two layers (each uploaded a different way), then the
# manifest. Records the manifest push; a failed blob makes it skip:<status>.
curl_push() {
  local repo=$1 start code how i n cfg manifest layers="" digest size
  start=$(now)
  n=$((1 + RANDOM % 2))
  cfg=$WDIR/config.json
  printf '{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]},"nonce":"%s"}' \
    "$(head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n')" >"$cfg"
  code=$(upload_blob "$repo" "$cfg" put)
  [[ "$code" == 201 ]] || { record push "$repo" - "skip:$code" "$start"; return; }
  for ((i = 1; i <= n; i++)); do
    random_file "$WDIR/layer$i" $(((32 + RANDOM % 224) * KIB))
    pick UPLOAD_WAYS
    code=$(upload_blob "$repo" "$WDIR/layer$i" "$PICKED")
    [[ "$code" == 201 ]] || { record push "$repo" - "skip:$code" "$start"; return; }
    digest=$(sha256_of "$WDIR/layer$i")
    size=$(stat -c %s "$WDIR/layer$i")
    layers+="${layers:+,}{\"mediaType\":\"application/vnd.oci.image.layer.v1.tar+gzip\",\"digest\":\"$digest\",\"size\":$size}"
  done
  manifest=$WDIR/manifest.json
  printf '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"%s","size":%d},"layers":[%s]}' \
    "$(sha256_of "$cfg")" "$(stat -c %s "$cfg")" "$layers" >"$manifest"
  digest=$(sha256_of "$manifest")
  code=$(http PUT "$PROXY_URL/v2/$repo/manifests/t$((RANDOM % 4))" \
    -H 'Content-Type: application/vnd.oci.image.manifest.v1+json' --data-binary "@$manifest")
  record push "$repo" "$digest" "$code" "$start"
  [[ "$code" == 201 ]] && LIVE+=("$repo@$digest")
}

# curl_blob REPO: a blob no manifest references (it stays charged until deleted).
curl_blob() {
  local repo=$1 start code file=$WDIR/blob
  start=$(now)
  random_file "$file" $(((16 + RANDOM % 112) * KIB))
  pick UPLOAD_WAYS
  code=$(upload_blob "$repo" "$file" "$PICKED")
  record blob "$repo" "$(sha256_of "$file")" "$code" "$start"
  [[ "$code" == 201 ]] && BLOBS+=("$repo@$(sha256_of "$file")")
}

# delete_one ARRAY_NAME KIND: DELETE a seeded element (repo@digest) of the array through
# the proxy, and drop it from the array unless the outcome is unknown.
delete_one() {
  local -n refs_=$1
  local kind=$2 i ref repo digest start code what=manifests
  ((${#refs_[@]} > 0)) || return 0
  [[ "$kind" == bdel ]] && what=blobs
  i=$((RANDOM % ${#refs_[@]}))
  ref=${refs_[i]}
  repo=${ref%@*} digest=${ref#*@}
  start=$(now)
  code=$(http DELETE "$PROXY_URL/v2/$repo/$what/$digest")
  record "$kind" "$repo" "$digest" "$code" "$start"
  if [[ "$code" == 202 || "$code" == 404 ]]; then refs_=("${refs_[@]:0:i}" "${refs_[@]:i+1}"); fi
}

# pull_one: GET a live manifest of this client, then its first layer.
pull_one() {
  local ref repo digest start code layer
  ((${#LIVE[@]} > 0)) || return 0
  pick LIVE
  ref=$PICKED
  repo=${ref%@*} digest=${ref#*@}
  start=$(now)
  code=$(http GET "$PROXY_URL/v2/$repo/manifests/$digest" \
    -H 'Accept: application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.v2+json')
  if [[ "$code" == 200 ]]; then
    layer=$(jq -r '.layers[0].digest // empty' "$WDIR/http.body" 2>/dev/null)
    [[ -z "$layer" ]] || code=$(http GET "$PROXY_URL/v2/$repo/blobs/$layer" -L)
  fi
  record pull "$repo" "$digest" "$code" "$start"
}

# client_code OUTPUT_FILE EXIT: what a skopeo or podman push that failed says, as a status:
# 403 (quota or read-only: the proxy refused), 503, else x<exit code> (no telling).
client_code() {
  if grep -qiE 'denied|quota exceeded|read-only' "$1"; then echo 403
  elif grep -qiE 'UNAVAILABLE|503 Service' "$1"; then echo 503
  else echo "x$2"
  fi
}

skopeo_push() {
  local repo=$1 tag start rc code digest out=$WDIR/skopeo.out
  pick POOL
  tag=$PICKED
  start=$(now)
  rm -f "$WDIR/digest"
  timeout 120 skopeo copy -q --retry-times 0 --dest-tls-verify=false --digestfile "$WDIR/digest" \
    "oci:$LAYOUT:$tag" "docker://127.0.0.1:$PROXY_PORT/$repo:$tag" >"$out" 2>&1
  rc=$?
  if ((rc == 0)); then
    digest=$(cat "$WDIR/digest")
    record push "$repo" "$digest" 201 "$start"
    [[ " ${LIVE[*]} " == *" $repo@$digest "* ]] || LIVE+=("$repo@$digest")
  else
    code=$(client_code "$out" "$rc")
    # The layout's digest: what the manifest PUT would have been, had it been sent.
    record push "$repo" "$(layout_digest "$LAYOUT" "$tag")" "$code" "$start"
    cp "$out" "$WDIR/skopeo-failed-$(date +%s%N).out"
  fi
}

skopeo_pull() {
  local ref repo digest start rc
  ((${#LIVE[@]} > 0)) || return 0
  pick LIVE
  ref=$PICKED
  repo=${ref%@*} digest=${ref#*@}
  start=$(now)
  rm -rf "$WDIR/pulled"
  timeout 120 skopeo copy -q --retry-times 0 --src-tls-verify=false \
    "docker://127.0.0.1:$PROXY_PORT/$repo@$digest" "oci:$WDIR/pulled:x" >"$WDIR/pull.out" 2>&1
  rc=$?
  record pull "$repo" "$digest" "$([[ $rc == 0 ]] && echo 200 || echo "x$rc")" "$start"
}

podman_push() {
  local repo=$1 tag start rc code out=$WDIR/podman.out
  pick PODMAN_POOL
  tag=$PICKED
  start=$(now)
  rm -f "$WDIR/digest"
  # localhost:PORT: a name podman never pulled from, so it uploads (chunked) or mounts
  # what it pushed to another repository before.
  podman_args
  timeout 120 "${PODMAN[@]}" push -q --tls-verify=false --digestfile "$WDIR/digest" "localhost/ft/$tag:v1" \
    "docker://localhost:$PROXY_PORT/$repo:$tag" >"$out" 2>&1
  rc=$?
  if ((rc == 0)); then
    record push "$repo" "$(cat "$WDIR/digest")" 201 "$start"
    [[ " ${LIVE[*]} " == *" $repo@$(cat "$WDIR/digest") "* ]] || LIVE+=("$repo@$(cat "$WDIR/digest")")
  else
    code=$(client_code "$out" "$rc")
    record push "$repo" - "$code" "$start"
    cp "$out" "$WDIR/podman-failed-$(date +%s%N).out"
  fi
}

# worker NAME: one client's loop until STOP_FILE exists, seeded by FAULT_SEED and its name.
# Runs in a subshell of its own; no command failure stops it.
worker() {
  as_client "$1"
  set +e
  local i=0 seed r repo
  seed=$(cksum <<<"$FAULT_SEED/$WORKER" | cut -d' ' -f1)
  RANDOM=$((seed % 32768))
  LIVE=() BLOBS=()
  # Read through pick's nameref: how curl uploads blobs, and this client's repositories.
  # shellcheck disable=SC2034
  UPLOAD_WAYS=(put chunked patch)
  local -a repos
  # shellcheck disable=SC2034
  read -r -a repos <<<"$(client_repos "$WORKER")"
  while [[ ! -e "$STOP_FILE" ]]; do
    i=$((i + 1))
    r=$((RANDOM % 100))
    pick repos
    repo=$PICKED
    # A client with many images deletes more, so the namespaces near a limit keep moving.
    ((${#LIVE[@]} > 6 && r < 50)) && r=$((70 + RANDOM % 15))
    case $WORKER in
      sk)
        if ((r < 50)); then skopeo_push "$repo"
        elif ((r < 70)); then skopeo_pull
        else delete_one LIVE mdel
        fi ;;
      pm)
        if ((r < 60)); then podman_push "$repo"
        elif ((r < 80)); then pull_one
        else delete_one LIVE mdel
        fi ;;
      *)
        if ((r < 40)); then curl_push "$repo"
        elif ((r < 55)); then curl_blob "$repo"
        elif ((r < 70)); then pull_one
        elif ((r < 85)); then delete_one LIVE mdel
        else delete_one BLOBS bdel
        fi ;;
    esac
    sleep "0.$((RANDOM % 4))"
  done
}

start_workers() {
  local c
  step "start the clients: ${CLIENTS[*]} (events in $EVENTS)"
  rm -f "$STOP_FILE"
  for c in "${CLIENTS[@]}"; do
    worker "$c" &
    WORKER_PIDS+=($!)
  done
}

stop_workers() {
  local pid i
  touch "$STOP_FILE"
  for pid in "${WORKER_PIDS[@]}"; do
    # Every client command is bounded (curl --max-time 60, timeout 120): wait for the last one.
    for ((i = 0; i < 1500; i++)); do
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.1
    done
    kill -0 "$pid" 2>/dev/null && { pkill -TERM -P "$pid"; kill -TERM "$pid"; }
    wait "$pid" 2>/dev/null || true
  done
  WORKER_PIDS=()
}

# ---------------------------------------------------------------- faults

# slow_upload: a PATCH of 2 MiB at 512 KiB/s into alpha/slow/app, in the background, so
# a fault injected a second later hits a push in flight. Sets SLOW_PID.
slow_upload() {
  local loc
  http POST "$PROXY_URL/v2/alpha/slow/app/blobs/uploads/" --max-time 10 -H 'Content-Length: 0' >/dev/null
  loc=$(absolute_url "$PROXY_URL" "$(header Location)")
  random_file "$QP_TMP/slow.bin" $((2 * MIB))
  curl -s -o /dev/null --max-time 30 --limit-rate 512K -X PATCH -H 'Content-Type: application/octet-stream' \
    --data-binary "@$QP_TMP/slow.bin" "${loc:-$PROXY_URL/v2/alpha/slow/app/blobs/uploads/none}" &
  SLOW_PID=$!
}

fault_flushall() { rcli FLUSHALL >/dev/null; FAULT_DETAIL="FLUSHALL"; }
fault_flushdb() { rcli FLUSHDB >/dev/null; FAULT_DETAIL="FLUSHDB"; }

fault_redis_restart() {
  kill -KILL "$REDIS_PID" 2>/dev/null
  wait "$REDIS_PID" 2>/dev/null || true
  redis_up
  FAULT_DETAIL="redis-server killed (-9) and started again empty on port $REDIS_PORT"
}

# fault_redis_older SECONDS: Redis comes back from a snapshot taken SECONDS before it died, so
# it holds older state than the ledger, which read the events of those seconds meanwhile.
fault_redis_older() {
  local secs=$1
  rcli SAVE >/dev/null
  mv "$QP_TMP/dump.rdb" "$QP_TMP/older.rdb"
  sleep "$secs"
  kill -KILL "$REDIS_PID" 2>/dev/null
  wait "$REDIS_PID" 2>/dev/null || true
  mv "$QP_TMP/older.rdb" "$QP_TMP/dump.rdb"
  redis_up
  # Loaded: a later restart must come back empty, as redis-restart means.
  rm -f "$QP_TMP/dump.rdb"
  FAULT_DETAIL="RDB saved, kill -9 $secs s later, started again from that RDB"
}

# fault_ns_keys NS
fault_ns_keys() {
  local ns=$1 n
  n=$(rcli --scan --pattern "qp:{$ns}:*" | wc -l)
  rcli --scan --pattern "qp:{$ns}:*" | xargs -r -n 100 redis-cli -h 127.0.0.1 -p "$REDIS_PORT" DEL >/dev/null
  FAULT_DETAIL="$n keys qp:{$ns}:* deleted"
}

# fault_redis_slow SECONDS
fault_redis_slow() {
  local until=$((SECONDS + $1)) n=0
  while ((SECONDS < until)); do
    rcli CLIENT PAUSE 3000 ALL >/dev/null
    n=$((n + 1))
    sleep 3
  done
  FAULT_DETAIL="CLIENT PAUSE 3000 ALL x$n"
}

# fault_postgres_down SECONDS
fault_postgres_down() {
  local secs=$1
  pg_down
  sleep "$secs"
  pg_up
  FAULT_DETAIL="stopped (immediate) for $secs s"
}

# fault_registry_down SECONDS
fault_registry_down() {
  local secs=$1
  slow_upload
  sleep 1
  kill -TERM "$REGISTRY_PID" 2>/dev/null
  wait "$REGISTRY_PID" 2>/dev/null || true
  sleep "$secs"
  registry_up
  wait "$SLOW_PID" 2>/dev/null || true
  FAULT_DETAIL="stopped 1 s into a 2 MiB PATCH, down $secs s"
}

fault_proxy_kill() {
  slow_upload
  sleep 1
  kill -KILL "$PROXY_PID" 2>/dev/null
  wait "$PROXY_PID" 2>/dev/null || true
  wait "$SLOW_PID" 2>/dev/null || true
  faults_proxy_up
  FAULT_DETAIL="kill -9 1 s into a 2 MiB PATCH, started again (log $(basename "$PROXY_LOG"))"
}

# fault_read_only SECONDS
fault_read_only() {
  local secs=$1 on forced="" i code
  admin_api PUT /system -H 'Content-Type: application/json' -d '{"read_only": true}' >/dev/null \
    || { fail "PUT /api/v1/system read_only true"; return; }
  for ((i = 0; i < 50; i++)); do
    forced=$(admin_api GET /system | jq -r '.read_only.in_force') && [[ "$forced" == true ]] && break
    sleep 0.1
  done
  on=$(now)
  sleep "$SYSTEM_REFRESH.5"
  # While it is on, a push is refused at once, saying why.
  code=$(http POST "$PROXY_URL/v2/alpha/probe/app/blobs/uploads/" --max-time 10 -H 'Content-Length: 0')
  check "a push while read-only is refused with 403 saying read-only (got $code)" \
    grep -q 'read-only' "$QP_TMP/http.body"
  sleep "$secs"
  RO_WINDOWS+=("$on $(now)")
  admin_api PUT /system -H 'Content-Type: application/json' -d '{"read_only": false}' >/dev/null \
    || fail "PUT /api/v1/system read_only false"
  FAULT_DETAIL="read-only in force $([[ "$forced" == true ]] && echo yes || echo "NOT SEEN"), on for $secs s"
}

# probe_push: a small blob into alpha/probe/app until one is accepted (201), at most 90 s.
# Prints the seconds it took. Its blobs are recorded as the injector's events.
probe_push() {
  local start code file=$QP_TMP/probe.bin t0 i
  t0=$(now)
  for ((i = 0; i < 180; i++)); do
    random_file "$file" 4096
    start=$(now)
    code=$(upload_blob alpha/probe/app "$file" put)
    if [[ "$code" == 201 ]]; then
      record blob alpha/probe/app "$(sha256_of "$file")" 201 "$start"
      fsub "$(now)" "$t0"
      return 0
    fi
    sleep 0.5
  done
  echo never
  return 1
}

# inject KIND PARAM: one fault and its recovery, logged with start and end time; then how
# long until a push is accepted again.
inject() {
  local kind=$1 param=$2 start end took
  FAULT_DETAIL=""
  FAULTS_INJECTED=$((FAULTS_INJECTED + 1))
  start=$(now)
  printf '%s fault %d %s: injecting\n' "$(hms "$start")" "$FAULTS_INJECTED" "$kind"
  "fault_${kind//-/_}" "$param"
  end=$(now)
  took=$(as_client injector; probe_push) || took=never
  printf '%s fault %d %s: %s - %s (%s s), %s; a push accepted again %s s after\n' \
    "$(hms "$end")" "$FAULTS_INJECTED" "$kind" "$(hms "$start")" "$(hms "$end")" "$(fsub "$end" "$start")" \
    "$FAULT_DETAIL" "$took" | tee -a "$FAULT_LOG"
  RECOVERY+=("$kind $took")
  if [[ "$took" == never ]]; then fail "after $kind, no push was accepted within 90 s"; fi
}

# schedule: the faults of this run, in order, as "GAP KIND PARAM": the seconds of workload
# before it, the fault, and its seeded parameter (seconds down, or the namespace), so a seed
# replays the same faults at the same points. ci: the ten kinds once, in a seeded order.
# soak: seeded orders one after another, until the gaps and the planned outages add up to
# FAULT_DURATION seconds.
schedule() {
  local -a order
  local i j tmp planned=0 param
  SCHEDULE=()
  while :; do
    order=("${FAULT_KINDS[@]}")
    for ((i = ${#order[@]} - 1; i > 0; i--)); do
      j=$((RANDOM % (i + 1)))
      tmp=${order[i]} order[i]=${order[j]} order[j]=$tmp
    done
    for i in "${order[@]}"; do
      rand_between "$FAULT_GAP_MIN" "$FAULT_GAP_MAX"
      j=$RAND
      case $i in
        postgres-down) rand_between "$FAULT_PG_MIN" "$FAULT_PG_MAX"; param=$RAND ;;
        registry-down) rand_between 2 5; param=$RAND ;;
        redis-older) rand_between 2 5; param=$RAND ;;
        read-only) rand_between 4 7; param=$RAND ;;
        redis-slow) param=$FAULT_SLOW_SECS ;;
        ns-keys) pick NAMESPACES; param=$PICKED ;;
        *) param=- ;;
      esac
      SCHEDULE+=("$j $i $param")
      planned=$((planned + j))
      [[ "$param" =~ ^[0-9]+$ ]] && planned=$((planned + param))
      [[ "$FAULT_MODE" == soak ]] && ((planned >= FAULT_DURATION)) && return
    done
    [[ "$FAULT_MODE" == ci ]] && return
  done
}

run_faults() {
  local entry gap kind param deadline=0
  [[ "$FAULT_MODE" == soak ]] && deadline=$((SECONDS + FAULT_DURATION))
  step "faults: ${#SCHEDULE[@]} planned (seconds of workload before each, then the fault)"
  if [[ "$FAULT_MODE" == ci ]]; then log "schedule (gap kind parameter): $(printf '%s, ' "${SCHEDULE[@]}")"; fi
  for entry in "${SCHEDULE[@]}"; do
    read -r gap kind param <<<"$entry"
    sleep "$gap"
    ((deadline == 0 || SECONDS < deadline)) || break
    inject "$kind" "$param"
  done
  sleep 5
}

# ---------------------------------------------------------------- quiet

# wait_quiet: no client running; the proxy ready; every namespace's state back in Redis;
# every ledger stream read and acknowledged; the lag metric at 0.
wait_quiet() {
  local i ns lag metric ok
  step "wait until quiet: clients stopped, streams applied to the ledger"
  stop_workers
  wait_http "$ADMIN_URL/readyz" "$PROXY_PID" 60 || fail "the proxy is not ready (/readyz) 60 s after the workload"
  # The state watch restores a namespace whose marker is gone within 5 s.
  for ((i = 0; i < 60; i++)); do
    ok=1
    for ns in "${NAMESPACES[@]}"; do
      [[ "$(rcli EXISTS "qp:{$ns}:epoch:3")" == 1 ]] || ok=0
    done
    ((ok)) && break
    sleep 1
  done
  check "every namespace's state is back in Redis (qp:{ns}:epoch:3)" test "$ok" = 1
  # Requests whose outcome was not recorded are settled with the registry: the proxy's own
  # within seconds, a killed proxy's once their lease (30 s) lapses.
  local intents
  for ((i = 0; i < 60; i++)); do
    intents=$(metric quota_proxy_intents_unsettled)
    for ns in "${NAMESPACES[@]}"; do
      intents=$((${intents:-0} + $(rcli HLEN "qp:{$ns}:commits")))
    done
    ((intents == 0)) && break
    sleep 1
  done
  check "every request's intent is settled (unsettled in the proxy and in Redis: $intents)" test "$intents" = 0
  for ((i = 0; i < 120; i++)); do
    lag=$(ledger_lag "${NAMESPACES[@]}")
    ((lag == 0)) && break
    sleep 1
  done
  check "every ledger stream is read and acknowledged (pending + lag = $lag)" test "$lag" = 0
  if ((lag != 0)); then
    # What is left, for the log: each stream's group, its pending entries and its last entries.
    for ns in "${NAMESPACES[@]}"; do
      log "qp:{$ns}:events listed: $(rcli SISMEMBER qp:namespaces "$ns"); groups: $(rcli XINFO GROUPS "qp:{$ns}:events" | tr '\n' ' ')"
      log "  pending: $(rcli XPENDING "qp:{$ns}:events" ledger - + 5 | tr '\n' ' ')"
      log "  last: $(rcli XREVRANGE "qp:{$ns}:events" + - COUNT 2 | tr '\n' ' ')"
    done
  fi
  # The gauge is sampled every 15 s: give it two samples.
  for ((i = 0; i < 40; i++)); do
    metric=$(metric quota_proxy_ledger_pending_events)
    [[ "$metric" == 0 ]] && break
    sleep 1
  done
  check "quota_proxy_ledger_pending_events reads 0 (${metric:-none})" test "$metric" = 0
  # Events Redis lost are applied from the proxy's outbox by a check every second.
  sleep 3
}

# ---------------------------------------------------------------- checks

check_drift() {
  local dir=$QP_TMP/check
  step "drift: the registry's storage, Redis and the ledger, per scope (before any reconciliation)"
  measure_scopes
  printf '      %-24s %12s %12s %12s\n' scope registry redis ledger
  awk -F'\t' '($2 || $3 || $4) { printf "      %-24s %12s %12s %12s%s\n", $1, $2, $3, $4, ($2 == $3 && $2 == $4) ? "" : "   <- differs" }' \
    "$dir/scopes.tsv"
  local drift double
  read -r drift double < <(awk -F'\t' '
    function abs(x) { return x < 0 ? -x : x }
    { d += abs($3 - $2) + abs($4 - $2); if ($3 > $2) o += $3 - $2; if ($4 > $2) o += $4 - $2 }
    END { print d + 0, o + 0 }' "$dir/scopes.tsv")
  FIGURE[drift]=$drift FIGURE[double]=$double
  check "Redis's system usage could be read" grep -qv null <(grep '^(system)' "$dir/redis.tsv")
}

# fold_events: the last definite outcome per (kind, repository, digest) from every client's
# events, in each client's order: present (201), absent (202 or 404 on delete), unknown (a
# failure with no status, or a 5xx, after which the registry may or may not have it). A
# refusal (4xx) changes nothing.
fold_events() {
  cat "$EVENTS"/*.tsv | sort -t$'\t' -k3,3 -s | awk -F'\t' -v OFS='\t' '
    $6 == "-" { next }
    $4 == "push" || $4 == "blob" { k = ($4 == "push" ? "manifest" : "blob") SUBSEP $5 SUBSEP $6
      if ($7 == 201) st[k] = "present"
      else if ($7 !~ /^(4|skip)/ && st[k] != "present") st[k] = "unknown" }
    $4 == "mdel" || $4 == "bdel" { k = ($4 == "mdel" ? "manifest" : "blob") SUBSEP $5 SUBSEP $6
      if ($7 == 202 || $7 == 404) st[k] = "absent"
      else if ($7 !~ /^4/ && st[k] != "absent") st[k] = "unknown" }
    END { for (k in st) { split(k, p, SUBSEP); print p[1], p[2], p[3], st[k] } }' | sort
}

check_events() {
  local dir=$QP_TMP/check lost
  step "events: what the clients saw against the ledger's manifests and blobs"
  fold_events >"$dir/expected.tsv"
  sql "select 'manifest', repository, digest from manifests
       union all select 'blob', repository, digest from repository_blobs" | sort >"$dir/ledger-has.tsv" \
    || fail "read manifests and repository_blobs from the ledger"
  awk -F'\t' '
    FILENAME ~ /ledger-has/ { has[$1, $2, $3] = 1; next }
    $4 == "present" && !(($1, $2, $3) in has) { print "      lost: " $1 " " $2 "@" $3 " was pushed (201), the ledger does not have it" }
    $4 == "absent" && (($1, $2, $3) in has) { print "      lost: " $1 " " $2 "@" $3 " was deleted (202), the ledger still has it" }' \
    "$dir/ledger-has.tsv" "$dir/expected.tsv" >"$dir/lost.txt"
  lost=$(wc -l <"$dir/lost.txt")
  FIGURE[lost]=$lost
  cat "$dir/lost.txt"
  log "$(awk -F'\t' '{ n[$1 " " $4]++ } END { for (k in n) printf "%s %s; ", n[k], k }' "$dir/expected.tsv")"
}

check_limits() {
  local scope held
  step "limits: bytes the registry holds under each limited scope"
  for scope in "${!LIMITS[@]}"; do
    held=$(awk -F'\t' -v s="$scope" '$1 == s { print $2 }' "$QP_TMP/check/registry.tsv")
    check "$scope holds ${held:-0} bytes, within its hard limit of ${LIMITS[$scope]}" test "${held:-0}" -le "${LIMITS[$scope]}"
  done
}

check_read_only() {
  local w bad=0 lines
  step "read-only: no push accepted while it was in force"
  for w in "${RO_WINDOWS[@]}"; do
    read -r on off <<<"$w"
    lines=$(cat "$EVENTS"/*.tsv | awk -F'\t' -v on="$on" -v off="$off" -v grace="$SYSTEM_REFRESH" '
      ($4 == "push" || $4 == "blob") && $7 == 201 && $1 >= on + grace && $2 <= off')
    log "window $(hms "$on") - $(hms "$off"): $(cat "$EVENTS"/*.tsv | awk -F'\t' -v on="$on" -v off="$off" -v grace="$SYSTEM_REFRESH" \
      '($4 == "push" || $4 == "blob") && $1 >= on + grace && $2 <= off { n[$7]++ } END { for (c in n) printf "%s x%d ", c, n[c] }')"
    if [[ -n "$lines" ]]; then
      bad=1
      printf '      accepted while read-only: %s\n' "$lines"
    fi
  done
  check "no push answered 201 within a read-only window (${#RO_WINDOWS[@]} windows)" test "$bad" = 0
}

check_reconciliation() {
  local out
  # The reconciliations that followed a loss of Redis writes ran under the clients' load: the checks above
  # held with them (their drift corrected what only the registry could tell).
  log "reconciliations during the run: $(sql "select count(*) || ' (' || count(*) filter (where status = 'done') || ' done), '
    || (select count(*) from drift) || ' scopes corrected' from reconciliations where kind = 'registry'")"
  step "POST /api/v1/reconciliations (after the checks above)"
  out=$(admin_api POST /reconciliations) || { fail "POST /api/v1/reconciliations"; return; }
  log "redis drift:    $(jq -c '.redis.drift' <<<"$out")"
  log "registry drift: $(jq -c '.registry.drift' <<<"$out") ($(jq -r '.registry.repositories' <<<"$out") repositories)"
  check "the reconciliation found no drift" \
    jq -e '(.redis.drift | length) == 0 and (.registry.drift | length) == 0' <<<"$out" >/dev/null
}

report_figures() {
  step "figures"
  log "operations by client, kind and status:"
  cat "$EVENTS"/*.tsv | awk -F'\t' '{ n[$3 " " $4 " " $7]++ } END { for (k in n) print k, n[k] }' | sort \
    | awk '{ printf "        %-4s %-5s %-10s %d\n", $1, $2, $3, $4 }'
  log "faults and recovery (seconds from the end of a fault until a push was accepted: min median max):"
  printf '%s\n' "${RECOVERY[@]}" | sort -k1,1 -k2,2g | awk '
    { n[$1]++; v[$1, n[$1]] = $2 }
    END { for (k in n) printf "        %-14s x%-3d %s %s %s\n", k, n[k], v[k, 1], v[k, int((n[k] + 1) / 2)], v[k, n[k]] }' | sort
  log "reserved bytes left in Redis: $(for ns in "${NAMESPACES[@]}"; do printf '%s=%s ' "$ns" "$(reserved "$ns")"; done)"
  echo
  echo "faults: $FAULTS_INJECTED injected; events lost ${FIGURE[lost]}, double-counted ${FIGURE[double]}, drift ${FIGURE[drift]} bytes"
  check_eq "events lost" 0 "${FIGURE[lost]}"
  check_eq "bytes double-counted" 0 "${FIGURE[double]}"
  check_eq "bytes of drift" 0 "${FIGURE[drift]}"
}

faults_main() {
  echo "seed $FAULT_SEED"
  [[ "$FAULT_MODE" != soak ]] || echo "soak: $FAULT_DURATION s of faults"
  RANDOM=$FAULT_SEED
  schedule
  faults_setup
  start_workers
  run_faults
  wait_quiet
  check_drift
  check_events
  check_limits
  check_read_only
  report_figures
  check_reconciliation
  summary "$FAULT_NAME"
}
