#!/usr/bin/env bash
# Slow clients against the proxy: a client holding 1,000 idle upload requests (heads sent, bodies
# never) must not stop honest pushes and pulls, and must cost the proxy little.
#
#   scripts/slow-clients.sh
#
# Starts docker-registry, redis and the proxy jar (quotas on, a hard limit on the scope both clients
# push to). Then, in one run:
#   1. baseline: an honest client pushes and pulls (POST, PATCH, PUT, manifest PUT, pulls), timed;
#   2. the slow client opens SLOW_REQUESTS connections (spread over SLOW_ADDRESSES loopback addresses,
#      so per-client limits do not simply refuse them), each starting a real upload session and then
#      sending a PATCH head with a Content-Length and no body, and keeps that many open, re-opening
#      those the proxy cuts off at its first-byte deadline;
#   3. while they are held, the honest client does the same work again, timed;
#   4. prints what the slow requests cost the proxy: resident memory, open file descriptors, upstream
#      connections and the scope's reserved bytes, beside the baseline.
# Every honest request must succeed, and nothing may stay reserved once the slow client is gone.
#
# Environment:
#   SLOW_REQUESTS   idle upload requests to hold (default 1000)
#   SLOW_ADDRESSES  loopback addresses the slow client spreads them over (default 20: 127.0.0.2 ...)
#   HOLD_SECONDS    how long the slow client holds them (default 25; longer than the first-byte deadline)
#   QP_JAR, JAVA_OPTS, KEEP_TMP  see scripts/lib/common.sh
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source-path=SCRIPTDIR source=lib/common.sh
source "$HERE/lib/common.sh"

SLOW_REQUESTS=${SLOW_REQUESTS:-1000}
SLOW_ADDRESSES=${SLOW_ADDRESSES:-20}
HOLD_SECONDS=${HOLD_SECONDS:-25}
FIRST_BYTE_TIMEOUT=${FIRST_BYTE_TIMEOUT:-10s}

need curl jq python3 docker-registry redis-server redis-cli
qp_init slow-clients

cat >"$QP_TMP/quota.yml" <<YAML
quota:
  body-first-byte-timeout: $FIRST_BYTE_TIMEOUT
  scopes:
    victim: {storage-hard: 64MiB}
YAML

step "start registry, redis and proxy"
start_registry
start_redis
start_proxy proxy.log --config "$QP_TMP/quota.yml" --redis.url "$REDIS_URL"

# proxy_state: resident memory (KiB), open descriptors, established connections to the registry.
proxy_state() {
  local rss fds upstream
  rss=$(status_kib "$PROXY_PID" VmRSS)
  fds=$(find "/proc/$PROXY_PID/fd" -mindepth 1 -maxdepth 1 | wc -l)
  upstream=$(ss -tnH state established "( dport = :$REGISTRY_PORT )" 2>/dev/null | wc -l)
  echo "$rss $fds $upstream"
}

# The honest client and the slow client, in Python: raw HTTP, so the slow one can stop after a head.
cat >"$QP_TMP/clients.py" <<'PY'
import asyncio, hashlib, json, os, sys, time, urllib.request

PROXY = sys.argv[2]
host, port = PROXY.split("//")[1].split(":")
port = int(port)

def honest(rounds, name):
    """Pushes `rounds` blobs and a manifest, pulls them back; returns each request's seconds."""
    times, failures = [], []
    def call(method, url, data=None, headers=None, expect=None):
        started = time.monotonic()
        request = urllib.request.Request(url, data=data, method=method, headers=headers or {})
        try:
            with urllib.request.urlopen(request, timeout=60) as answer:
                body, status, got = answer.read(), answer.status, answer.headers
        except urllib.error.HTTPError as e:
            body, status, got = e.read(), e.code, e.headers
        times.append(time.monotonic() - started)
        if expect is not None and status != expect:
            failures.append(f"{method} {url.split('?')[0]}: {status} {body[:200]!r}")
        return status, got, body
    layers = []
    for i in range(rounds):
        blob = os.urandom(1024 * 1024)
        digest = "sha256:" + hashlib.sha256(blob).hexdigest()
        _, got, _ = call("POST", f"{PROXY}/v2/victim/{name}/blobs/uploads/", expect=202)
        location = got.get("Location", "")
        if location.startswith("/"):
            location = PROXY + location
        _, got, _ = call("PATCH", location, blob, {"Content-Type": "application/octet-stream"}, expect=202)
        location = got.get("Location", location)
        if location.startswith("/"):
            location = PROXY + location
        sep = "&" if "?" in location else "?"
        call("PUT", f"{location}{sep}digest={digest}", b"", {"Content-Length": "0"}, expect=201)
        layers.append({"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": digest, "size": len(blob)})
    config = b"{}"
    config_digest = "sha256:" + hashlib.sha256(config).hexdigest()
    _, got, _ = call("POST", f"{PROXY}/v2/victim/{name}/blobs/uploads/", expect=202)
    location = got.get("Location", "")
    if location.startswith("/"):
        location = PROXY + location
    sep = "&" if "?" in location else "?"
    call("PUT", f"{location}{sep}digest={config_digest}", config, {"Content-Type": "application/octet-stream"}, expect=201)
    manifest = json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": config_digest, "size": len(config)},
        "layers": layers}).encode()
    call("PUT", f"{PROXY}/v2/victim/{name}/manifests/v1", manifest,
         {"Content-Type": "application/vnd.oci.image.manifest.v1+json"}, expect=201)
    call("GET", f"{PROXY}/v2/victim/{name}/manifests/v1", headers={"Accept": "application/vnd.oci.image.manifest.v1+json"}, expect=200)
    for layer in layers:
        call("GET", f"{PROXY}/v2/victim/{name}/blobs/{layer['digest']}", expect=200)
    return times, failures

async def slow(requests, addresses, hold):
    """Keeps `requests` PATCH heads open without bodies for `hold` seconds; returns how often the proxy cut one.

    Each connection first opens an upload session through the proxy, then sends PATCH heads on it again and
    again: a head the proxy cuts off (nothing of it reached the registry) leaves the session usable."""
    cut, opened, refused = 0, 0, 0
    deadline = time.monotonic() + hold

    async def session(source, n):
        reader, writer = await asyncio.open_connection(host, port, local_addr=(source, 0))
        writer.write(f"POST /v2/victim/slow{n % 7}/blobs/uploads/ HTTP/1.1\r\nHost: {host}\r\nContent-Length: 0\r\n\r\n".encode())
        head = await reader.readuntil(b"\r\n\r\n")
        writer.close()
        location = [l.split(b": ", 1)[1].strip().decode() for l in head.split(b"\r\n") if l.lower().startswith(b"location:")]
        return location[0].split(f":{port}", 1)[-1] if head.startswith(b"HTTP/1.1 202") and location else None

    async def one(n):
        nonlocal cut, opened, refused
        source = f"127.0.0.{2 + n % addresses}"
        path = None
        while time.monotonic() < deadline:
            try:
                if path is None:
                    path = await session(source, n)
                    if path is None:
                        refused += 1
                        await asyncio.sleep(1)
                        continue
                reader, writer = await asyncio.open_connection(host, port, local_addr=(source, 0))
                writer.write(f"PATCH {path} HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/octet-stream\r\n"
                             f"Content-Length: {2 * 1024 * 1024}\r\n\r\n".encode())
                opened += 1
                # Idle: wait for the proxy to cut it off (or the hold to end).
                try:
                    answer = await asyncio.wait_for(reader.read(12), timeout=max(0.1, deadline - time.monotonic()))
                    cut += 1
                    if not answer.startswith(b"HTTP/1.1 408"):
                        refused += 1
                except asyncio.TimeoutError:
                    pass
                writer.close()
            except (OSError, asyncio.IncompleteReadError):
                await asyncio.sleep(0.2)

    await asyncio.gather(*(one(n) for n in range(requests)))
    return cut, opened, refused

if sys.argv[1] == "honest":
    times, failures = honest(int(sys.argv[3]), sys.argv[4])
    times.sort()
    print(json.dumps({"requests": len(times), "failures": failures, "p50": times[len(times) // 2], "max": times[-1]}))
else:
    cut, opened, refused = asyncio.run(slow(int(sys.argv[3]), int(sys.argv[4]), float(sys.argv[5])))
    print(json.dumps({"opened": opened, "cut": cut, "refused": refused}))
PY

step "baseline: the honest client alone"
read -r rss0 fds0 up0 <<<"$(proxy_state)"
python3 "$QP_TMP/clients.py" honest "$PROXY_URL" 8 baseline >"$QP_TMP/baseline.json"
log "honest alone: $(cat "$QP_TMP/baseline.json")"
check_eq "every honest request succeeded alone" "[]" "$(jq -c .failures "$QP_TMP/baseline.json")"

step "the slow client holds $SLOW_REQUESTS idle upload requests from $SLOW_ADDRESSES addresses for ${HOLD_SECONDS}s"
python3 "$QP_TMP/clients.py" slow "$PROXY_URL" "$SLOW_REQUESTS" "$SLOW_ADDRESSES" "$HOLD_SECONDS" >"$QP_TMP/slow.json" &
SLOW_PID=$!
QP_PIDS+=("$SLOW_PID")
# Let the slow client open its sessions and send its heads before measuring and pushing.
for _ in $(seq 1 100); do
  held=$(ss -tnH state established "( sport = :$PROXY_PORT )" | wc -l)
  ((held >= SLOW_REQUESTS)) && break
  sleep 0.2
done
read -r rss1 fds1 up1 <<<"$(proxy_state)"
held=$(ss -tnH state established "( sport = :$PROXY_PORT )" | wc -l)
reserved_held=$(reserved victim)
log "client connections held open on the proxy: $held"
log "victim's reserved bytes while they are held: $reserved_held"
check "the proxy holds the slow client's $SLOW_REQUESTS connections" test "$held" -ge "$SLOW_REQUESTS"
check_eq "the idle requests reserve nothing" 0 "$reserved_held"

python3 "$QP_TMP/clients.py" honest "$PROXY_URL" 8 during >"$QP_TMP/during.json"
log "honest with the slow client: $(cat "$QP_TMP/during.json")"
check_eq "every honest request succeeded while the slow client held its requests" "[]" "$(jq -c .failures "$QP_TMP/during.json")"

wait "$SLOW_PID" || true
log "slow client: $(cat "$QP_TMP/slow.json")"
check "the proxy cut the idle requests off at its first-byte deadline" test "$(jq .cut "$QP_TMP/slow.json")" -gt 0
check_eq "every idle request the proxy cut off got 408" 0 "$(jq .refused "$QP_TMP/slow.json")"
read -r rss2 fds2 up2 <<<"$(proxy_state)"
check_eq "nothing stays reserved once the slow client is gone" 0 "$(reserved victim)"

step "what the slow requests cost the proxy"
printf '    %-34s %12s %12s %12s\n' "" "RSS (MiB)" "descriptors" "to registry"
printf '    %-34s %12.1f %12d %12d\n' "before" "$(kib_to_mib "$rss0")" "$fds0" "$up0"
printf '    %-34s %12.1f %12d %12d\n' "holding $SLOW_REQUESTS idle requests" "$(kib_to_mib "$rss1")" "$fds1" "$up1"
printf '    %-34s %12.1f %12d %12d\n' "after" "$(kib_to_mib "$rss2")" "$fds2" "$up2"
printf '    honest p50 latency: alone %.3fs, with the slow client %.3fs (max %.3fs / %.3fs)\n' \
  "$(jq .p50 "$QP_TMP/baseline.json")" "$(jq .p50 "$QP_TMP/during.json")" \
  "$(jq .max "$QP_TMP/baseline.json")" "$(jq .max "$QP_TMP/during.json")"
check "the idle requests hold no upstream connection (at most 4 more than before: $up0 -> $up1)" test "$up1" -le $((up0 + 4))

summary slow-clients
