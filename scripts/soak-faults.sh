#!/usr/bin/env bash
# Soak run of the fault suite: the workload and faults of scripts/e2e-faults.sh, with a
# fault every few seconds for a given time (not run in CI).
#
#   scripts/soak-faults.sh [DURATION]          DURATION: 30m by default; 90s, 5m, 2h
#   FAULT_SEED=1234 scripts/soak-faults.sh 30m replay a soak
#
# Faults come in seeded random orders of the ten kinds of e2e-faults.sh, one after
# another, 2-6 s of workload apart; Postgres stays down 1-3 minutes each time. When the
# time is up the clients stop, the ledger catches up, and the same checks as e2e-faults.sh
# run. It prints its figures: the operations by client, kind and status; how long pushes
# took to be accepted again after each kind of fault; and
#
#   faults: N injected; events lost 0, double-counted 0, drift 0 bytes
#
# Environment: as scripts/e2e-faults.sh (FAULT_SEED, KEEP_TMP, QP_JAR, JAVA_OPTS).
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source-path=SCRIPTDIR source=lib/common.sh
source "$HERE/lib/common.sh"
# shellcheck source-path=SCRIPTDIR source=lib/faults.sh
source "$HERE/lib/faults.sh"

# seconds DURATION: 90, 90s, 5m, 2h as seconds.
seconds() {
  case $1 in
    *h) echo $((${1%h} * 3600)) ;;
    *m) echo $((${1%m} * 60)) ;;
    *s) echo "${1%s}" ;;
    *) echo "$1" ;;
  esac
}

[[ "${1:-30m}" =~ ^[0-9]+[smh]?$ ]] || { sed -n '2,8s/^# \{0,1\}//p' "$0" >&2; exit 2; }
FAULT_NAME=soak-faults
FAULT_SEED=${FAULT_SEED:-$((RANDOM * 32768 + RANDOM))}
FAULT_MODE=soak
FAULT_DURATION=$(seconds "${1:-30m}")
FAULT_GAP_MIN=2 FAULT_GAP_MAX=6
FAULT_PG_MIN=60 FAULT_PG_MAX=180
FAULT_SLOW_SECS=10

faults_main
