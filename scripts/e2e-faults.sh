#!/usr/bin/env bash
# End-to-end fault suite: a mixed push/pull/delete workload from real clients while
# Redis, Postgres, the registry and the proxy itself fail under it, one fault at a time.
#
#   scripts/e2e-faults.sh                  a random seed
#   FAULT_SEED=1234 scripts/e2e-faults.sh  replay a run: same faults, same order, same points
#
# Starts docker-registry, a redis-server and a Postgres cluster of its own (so it can
# flush, restart, slow and stop them) and the proxy with an admin token and hard limits
# near what the clients push (beta, gamma/team, delta, delta/sk/app). Four clients run in
# the background (skopeo, podman, two curl clients: monolithic, PUT and chunked PATCH
# uploads, manifest PUTs, manifest and blob DELETEs, GET pulls) across the namespaces alpha,
# beta, gamma and delta, while each of these faults is injected once, in a seeded order, at
# a seeded moment, and recovered from:
#
#   flushall, flushdb         FLUSHALL / FLUSHDB on the proxy's Redis
#   redis-restart             redis-server killed (-9), started again empty on the same port
#   redis-older               an RDB saved, kill -9 2-5 s later, started again from that RDB
#   ns-keys                   one namespace's qp:{ns}:* keys deleted by hand
#   redis-slow                CLIENT PAUSE 3000 ALL, again and again, for 10 s
#   postgres-down             Postgres stopped (immediate) for 20-30 s under load
#   registry-down             the registry stopped mid-push, started again 2-5 s later
#   proxy-kill                the proxy killed (-9) mid-push, started again
#   read-only                 PUT /api/v1/system {"read_only": true} for 4-7 s
#
# Each fault is logged with its start and end time and how long it took until a push was
# accepted again. Once the clients have stopped and the ledger has caught up (every stream
# acknowledged, quota_proxy_ledger_pending_events 0), and before any reconciliation is asked
# for (the one that follows a loss of Redis writes runs 5 s after it, under the load), it
# compares per scope (namespaces, every repository path, the system scope as the sum of the
# namespaces) the registry's storage, Redis's charge and the ledger's, and prints
#
#   faults: 10 injected; events lost 0, double-counted 0, drift 0 bytes
#
# each of which must be 0; checks that no limited scope holds more than its hard limit and
# that no push was accepted while read-only was in force; then reconciles
# (POST /api/v1/reconciliations), which must find nothing. The details of each check are in
# scripts/lib/faults.sh. About 2 minutes 25 s on 2 cores.
#
# Environment:
#   FAULT_SEED         the seed (default: random); always printed first, as "seed N"
#   KEEP_TMP=1         keep the temp dir: logs of every process, each client's events
#                      (events/*.tsv), the figures per scope (check/)
#   QP_JAR, JAVA_OPTS, REQUIRE_TEST_TOOLS  see scripts/lib/common.sh
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source-path=SCRIPTDIR source=lib/common.sh
source "$HERE/lib/common.sh"
# shellcheck source-path=SCRIPTDIR source=lib/faults.sh
source "$HERE/lib/faults.sh"

FAULT_NAME=e2e-faults
FAULT_SEED=${FAULT_SEED:-$((RANDOM * 32768 + RANDOM))}
FAULT_MODE=ci
FAULT_DURATION=0
FAULT_GAP_MIN=3 FAULT_GAP_MAX=7
FAULT_PG_MIN=20 FAULT_PG_MAX=30
FAULT_SLOW_SECS=10

faults_main "$@"
