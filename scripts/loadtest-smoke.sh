#!/usr/bin/env bash
# A Gatling simulation (loadtest/) through the proxy in front of a real registry, with quotas on:
# pushes (monolithic and chunked), manifest PUTs and pulls by several tenants, generated content,
# assertions on errors and p99. Then what the run left behind is checked: every tenant is charged for
# what it pushed, within its limit, and nothing stays reserved.
#
#   scripts/loadtest-smoke.sh                                     (after mvn -B -DskipTests package)
#   LOADTEST_SIMULATION=MixedTenantsSimulation scripts/loadtest-smoke.sh
#
# SmokeSimulation (the default, run by .ci/run): every tenant has room. MixedTenantsSimulation: tenant0
# has a hard limit of 3 MiB, which its pushes reach (their refusals are expected), and admins read the
# usage API meanwhile.
# Environment: LOADTEST_SIMULATION [SmokeSimulation], LOADTEST_USERS [30], LOADTEST_SECONDS [15],
# LOADTEST_TENANTS [3], LOADTEST_MAX_KIB [1024]; QP_JAR, KEEP_TMP (see lib/common.sh). The HTML report is
# left in loadtest/target/gatling/.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
source "$HERE/lib/common.sh"

USERS=${LOADTEST_USERS:-30} SECONDS_=${LOADTEST_SECONDS:-15} TENANTS=${LOADTEST_TENANTS:-3}
MAX_KIB=${LOADTEST_MAX_KIB:-1024}
SIMULATION=${LOADTEST_SIMULATION:-SmokeSimulation}
ADMIN_TOKEN=loadtest-admin-token-0123456789
LIMITED_HARD=$((3 * 1024 * 1024))

loadtest_main() {
  need mvn docker-registry redis-server curl
  qp_init loadtest
  step "registry, Redis and the proxy with a limit per tenant"
  start_registry
  start_redis
  local config=$QP_TMP/limits.yaml i
  local limited=0
  [[ "$SIMULATION" == MixedTenantsSimulation ]] && limited=1
  {
    echo "quota:"
    echo "  scopes:"
    for ((i = 0; i < TENANTS; i++)); do
      if ((i < limited)); then echo "    tenant$i: {storage-hard: $LIMITED_HARD}"; else echo "    tenant$i: {storage-hard: 10GiB}"; fi
    done
  } >"$config"
  free_admin_port
  start_proxy proxy.log --config "$config" --redis.url "$REDIS_URL" --admin.port "$ADMIN_PORT" --admin.token "$ADMIN_TOKEN"

  step "Gatling: $SIMULATION, $USERS users over ${SECONDS_}s, $TENANTS tenants ($limited at its limit)"
  local out=$QP_TMP/gatling.log
  if mvn -B -q -f "$QP_ROOT/loadtest/pom.xml" gatling:test -Dgatling.simulationClass="dev.quotaproxy.loadtest.$SIMULATION" \
    -DbaseUrl="$PROXY_URL" -DadminUrl="$ADMIN_URL" -DadminToken="$ADMIN_TOKEN" -Dusers="$USERS" -Dseconds="$SECONDS_" \
    -Dtenants="$TENANTS" -DlimitedTenants="$limited" -DmaxKib="$MAX_KIB" >"$out" 2>&1; then
    pass "the simulation's assertions hold (no failed request, p99 under its bound)"
  else
    fail "the simulation failed its assertions or did not run (see below)"
  fi
  grep -E 'request count|percentile 99|Global:|> KO|refused pushes' "$out" | sed 's/^/    /' | head -20 || true
  local report
  report=$(ls -td "$QP_ROOT"/loadtest/target/gatling/"${SIMULATION,,}"-*/ 2>/dev/null | head -n 1)
  [[ -n "$report" && -f "$report/index.html" ]] && pass "report written: ${report}index.html" || fail "no Gatling report"

  step "what the run left behind"
  for ((i = 0; i < TENANTS; i++)); do
    check "tenant$i is charged for what it pushed" test "$(used "tenant$i")" -gt 0
  done
  if ((limited)); then
    check "tenant0, at its limit, is charged within it ($(used tenant0) of $LIMITED_HARD bytes)" test "$(used tenant0)" -le "$LIMITED_HARD"
    check "tenant0's pushes were refused at its limit" grep -q 'refused pushes of limited tenants (expected, not errors): [1-9]' "$out"
  fi
  for ((i = 0; i < TENANTS; i++)); do
    check_eq "nothing of tenant$i is left reserved" 0 "$(reserved_total "tenant$i")"
  done
  summary loadtest
}

loadtest_main "$@"
