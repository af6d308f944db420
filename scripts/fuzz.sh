#!/usr/bin/env bash
# Differential fuzzing, the long run: RequestFuzzTest (proxy module) with many
# tries instead of the 300 that `mvn verify` runs.
#
#   scripts/fuzz.sh [TRIES] [SEED]
#
# Each try sends generated requests (valid OCI operations, then mutations of
# method, path, query, headers, body and framing) byte for byte through the
# proxy to a real docker-registry, metered in a real Redis, and checks after
# each exchange that every change to the registry's storage that only a write
# can make came from a request the proxy classifies as that write (and does not
# refuse), and after each try that the storage invariant holds. The first
# failure stops the run and prints the exact request, the storage changes, the
# classification and the seed to reproduce it with.
#
# Prints the report the test writes: tries, distinct request shapes, tries by
# operation and by mutation kind, answers, the proxy's refusals by reason, the
# registry's errors by code, the storage changes by kind, the result and the
# time; then the wall time of the whole run (build included).
#
# Arguments and environment (defaults in brackets):
#   TRIES or FUZZ_TRIES [20000]   tries
#   SEED or FUZZ_SEED [random]    the run's seed (each try's seed derives from it)
#   MVN_ARGS []                   extra Maven arguments, e.g. -o to stay offline
# Needs what the proxy module's tests need: Maven, JDK 17, docker-registry and
# the embedded Redis binary (see .ci/run). Builds with `verify`, never `install`.
set -euo pipefail

cd "$(dirname "$0")/.."
tries=${1:-${FUZZ_TRIES:-20000}}
seed=${2:-${FUZZ_SEED:-$(od -An -N4 -tu4 /dev/urandom | tr -d ' ')}}
report="target/fuzz-report-$seed.txt"
log=$(mktemp "${TMPDIR:-/tmp}/fuzz-$seed.XXXXXX.log")

command=(mvn -B ${MVN_ARGS:-} -pl proxy -am -Dsurefire.failIfNoSpecifiedTests=false -DskipITs
  -Dtest=RequestFuzzTest "-Dfuzz.tries=$tries" "-Dfuzz.seed=$seed" "-Dfuzz.report=$report" verify)
echo "command: ${command[*]}"
echo "maven log: $log"
started=$(date +%s)
set +e
"${command[@]}" >"$log" 2>&1
status=$?
set -e
elapsed=$(( $(date +%s) - started ))

if [[ -f "proxy/$report" ]]; then
  cat "proxy/$report"
else
  echo "no report written (the build or the test's start failed); the end of the maven log:"
  tail -n 60 "$log"
fi
echo "wall time, build included: ${elapsed} s; maven exit status: $status"
exit "$status"
