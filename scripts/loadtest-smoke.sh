#!/usr/bin/env bash
# The Gatling smoke simulation (loadtest/, SmokeSimulation) through the proxy in front of a real
# registry, with quotas on: pushes (monolithic and chunked), manifest PUTs and pulls by several tenants,
# generated content, assertions on errors and p99. Then what the run left behind is checked: every
# tenant is charged for what it pushed and nothing stays reserved.
#
#   scripts/loadtest-smoke.sh          (after mvn -B -DskipTests package)
#
# Environment: LOADTEST_USERS [30], LOADTEST_SECONDS [15], LOADTEST_TENANTS [3], LOADTEST_MAX_KIB [1024];
# QP_JAR, KEEP_TMP (see lib/common.sh). The HTML report is left in loadtest/target/gatling/.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
source "$HERE/lib/common.sh"

USERS=${LOADTEST_USERS:-30} SECONDS_=${LOADTEST_SECONDS:-15} TENANTS=${LOADTEST_TENANTS:-3}
MAX_KIB=${LOADTEST_MAX_KIB:-1024}

loadtest_main() {
  need mvn docker-registry redis-server curl
  qp_init loadtest
  step "registry, Redis and the proxy with a limit per tenant"
  start_registry
  start_redis
  local config=$QP_TMP/limits.yaml i
  { echo "quota:"; echo "  scopes:"; for ((i = 0; i < TENANTS; i++)); do echo "    tenant$i: {storage-hard: 10GiB}"; done; } >"$config"
  start_proxy proxy.log --config "$config" --redis.url "$REDIS_URL"

  step "Gatling: SmokeSimulation, $USERS users over ${SECONDS_}s, $TENANTS tenants"
  local out=$QP_TMP/gatling.log
  if mvn -B -q -f "$QP_ROOT/loadtest/pom.xml" gatling:test -Dgatling.simulationClass=dev.quotaproxy.loadtest.SmokeSimulation \
    -DbaseUrl="$PROXY_URL" -Dusers="$USERS" -Dseconds="$SECONDS_" -Dtenants="$TENANTS" -DmaxKib="$MAX_KIB" >"$out" 2>&1; then
    pass "the simulation's assertions hold (no failed request, p99 under its bound)"
  else
    fail "the simulation failed its assertions or did not run (see below)"
  fi
  grep -E 'request count|failed|percentile 99|Global:|KO' "$out" | sed 's/^/    /' | head -20 || true
  local report
  report=$(ls -td "$QP_ROOT"/loadtest/target/gatling/smokesimulation-*/ 2>/dev/null | head -n 1)
  [[ -n "$report" && -f "$report/index.html" ]] && pass "report written: ${report}index.html" || fail "no Gatling report"

  step "what the run left behind"
  for ((i = 0; i < TENANTS; i++)); do
    check "tenant$i is charged for what it pushed" test "$(used "tenant$i")" -gt 0
  done
  for ((i = 0; i < TENANTS; i++)); do
    check_eq "nothing of tenant$i is left reserved" 0 "$(reserved_total "tenant$i")"
  done
  summary loadtest
}

loadtest_main "$@"
