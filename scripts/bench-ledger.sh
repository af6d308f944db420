#!/usr/bin/env bash
# What the ledger costs: events per second into Postgres, and the time to
# backfill and reconcile a registry of 1,000 repositories and 10,000 blobs.
#
#   scripts/bench-ledger.sh
#
# Builds the test classes, computes the modules' test classpaths with Maven,
# then runs three plain Java programs (test sources, not tests):
#
# 1. apply      dev.quotaproxy.ledger.bench.LedgerApplyBench: Ledger.apply, one
#               batch in flight as the feed applies them, batches of
#               BL_BATCH_SIZES events of a realistic mix (pushes with shared
#               layers, promotions, pulls, deletes, refusals over 1,000
#               repositories in 40 namespaces), once per BL_POSTGRES setting:
#               "embedded" is the proxy's embedded Postgres 17 (fsync off),
#               "durable" the same binaries with fsync and synchronous_commit on.
# 2. feed       dev.quotaproxy.proxy.bench.LedgerFeedBench: the proxy's Lua
#               scripts append the events to real Redis streams (untimed), then
#               LedgerFeed.feedOnce() moves them to Postgres until drained.
# 3. reconcile  dev.quotaproxy.ledger.bench.ReconcileBench: a real
#               docker-registry seeded with BL_REPOSITORIES repositories (10
#               distinct blobs each, 20 layers shared), then a backfill into an
#               empty ledger, a reconciliation with nothing changed, and one
#               after out-of-band changes, with the proxy's walker settings.
#
# Each program checks what it measured (the ledger's rows against what was
# sent or what the registry holds) and fails on any difference, so a fast
# wrong run cannot pass. Each prints its own table; a summary comes last.
#
# Environment (defaults in brackets):
#   BL_PARTS [apply feed reconcile]    which parts to run
#   BL_POSTGRES [embedded durable]     Postgres settings for the apply part
#   BL_POSTGRES_URL                    postgresql://user:password@host:port/db
#                                      of an empty database to use instead of
#                                      the embedded ones (every part)
#   BL_REDIS_URL                       a Redis to use instead of an embedded one
#   BL_BATCH_SIZES [100,500,2000]      batch sizes (apply and feed)
#   BL_ROUNDS [3]                      timed rounds per batch size
#   BL_APPLY_EVENTS [20000]            events per batch size and round (apply)
#   BL_FEED_EVENTS [40000]             entries per batch size and round (feed)
#   BL_REPOSITORIES [1000]             repositories to seed (reconcile)
#   BL_CHANGES [20]                    out-of-band changes of each kind (reconcile)
#   BL_MVN_OPTS                        extra Maven options, e.g. -o
#   KEEP_TMP=1                         keep the logs (see scripts/lib/common.sh)
# Not run in CI: it takes about 5 minutes on 2 cores.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source-path=SCRIPTDIR source=lib/common.sh
source "$HERE/lib/common.sh"

PARTS=${BL_PARTS:-apply feed reconcile}
POSTGRES_MODES=${BL_POSTGRES:-embedded durable}
BATCH_SIZES=${BL_BATCH_SIZES:-100,500,2000}
ROUNDS=${BL_ROUNDS:-3}
APPLY_EVENTS=${BL_APPLY_EVENTS:-20000}
FEED_EVENTS=${BL_FEED_EVENTS:-40000}
REPOSITORIES=${BL_REPOSITORIES:-1000}
CHANGES=${BL_CHANGES:-20}
CLASSPATH_FILE=target/bench-ledger.classpath
read -r -a MVN_OPTS <<<"${BL_MVN_OPTS:-}"

# build: the test classes of every module, and each module's test classpath
# (moved to QP_TMP, so nothing is left in the work tree).
build() {
  step "build: test classes and test classpaths (mvn test-compile dependency:build-classpath)"
  (cd "$QP_ROOT" && mvn -q -B "${MVN_OPTS[@]}" -DskipTests -Dmdep.includeScope=test \
    "-Dmdep.outputFile=$CLASSPATH_FILE" test-compile dependency:build-classpath -pl proxy -am) \
    || die "the build failed"
  local module
  for module in config ledger proxy; do
    [[ -s "$QP_ROOT/$module/$CLASSPATH_FILE" ]] || die "Maven wrote no classpath for $module"
    mv "$QP_ROOT/$module/$CLASSPATH_FILE" "$QP_TMP/$module.classpath"
  done
}

# classpath MODULE: its test and main classes, then its dependencies.
classpath() {
  printf '%s:%s:%s' "$QP_ROOT/$1/target/test-classes" "$QP_ROOT/$1/target/classes" "$(cat "$QP_TMP/$1.classpath")"
}

# run_bench NAME MODULE CLASS ARGS...: runs a benchmark's main, its output shown
# and kept in QP_TMP/NAME.log; dies when it fails (its checks included).
run_bench() {
  local name=$1 module=$2 class=$3
  shift 3
  # JAVA_OPTS is deliberately word-split: it holds several JVM options.
  # shellcheck disable=SC2086
  java ${JAVA_OPTS:-} -cp "$(classpath "$module")" "$class" "$@" 2>&1 | tee "$QP_TMP/$name.log" \
    || die "$name failed (see above)"
  grep -q '^CHECK .* ok$' "$QP_TMP/$name.log" || die "$name did not pass its checks"
}

# result NAME KEY=VALUE... FIELD: FIELD of the RESULT line of NAME.log that
# has every KEY=VALUE.
result() {
  local name=$1 field=${*: -1}
  local -a match=("${@:2:$#-2}")
  awk -v field="$field" -v want="${match[*]}" '
    $1 == "RESULT" {
      n = split(want, keys, " "); ok = 1
      for (i = 1; i <= n; i++) { found = 0; for (j = 2; j <= NF; j++) if ($j == keys[i]) found = 1; if (!found) ok = 0 }
      if (ok) for (j = 2; j <= NF; j++) { split($j, kv, "="); if (kv[1] == field) { print kv[2]; exit } }
    }' "$QP_TMP/$name.log"
}

apply_part() {
  local mode where
  for mode in $POSTGRES_MODES; do
    where=${BL_POSTGRES_URL:-$mode}
    step "ledger apply: Ledger.apply into Postgres ($mode)"
    run_bench "apply-$mode" ledger dev.quotaproxy.ledger.bench.LedgerApplyBench --postgres "$where" \
      --batch-sizes "$BATCH_SIZES" --events "$APPLY_EVENTS" --rounds "$ROUNDS"
    [[ -z "${BL_POSTGRES_URL:-}" ]] || break   # one given database: one run
  done
}

feed_part() {
  local -a extra=()
  if [[ -n "${BL_POSTGRES_URL:-}" ]]; then extra+=(--postgres-url "$BL_POSTGRES_URL"); fi
  if [[ -n "${BL_REDIS_URL:-}" ]]; then extra+=(--redis-url "$BL_REDIS_URL"); fi
  step "ledger feed: Redis streams -> LedgerFeed.feedOnce() -> Postgres"
  run_bench feed proxy dev.quotaproxy.proxy.bench.LedgerFeedBench --batch-sizes "$BATCH_SIZES" \
    --events "$FEED_EVENTS" --rounds "$ROUNDS" "${extra[@]}"
}

reconcile_part() {
  need docker-registry
  step "reconcile and backfill: $REPOSITORIES repositories in a real docker-registry"
  run_bench reconcile ledger dev.quotaproxy.ledger.bench.ReconcileBench --repositories "$REPOSITORIES" \
    --changes "$CHANGES" --postgres "${BL_POSTGRES_URL:-embedded}"
}

summary_table() {
  local mode size run label
  local -a sizes
  IFS=, read -r -a sizes <<<"$BATCH_SIZES"
  echo
  echo "==== ledger benchmark, $(date -u +%Y-%m-%d), $(nproc) cores, load average $LOAD_START at start, $(cut -d ' ' -f 1-3 /proc/loadavg) at the end"
  if [[ " $PARTS " == *" apply "* ]]; then
    echo
    echo "Ledger.apply, one batch in flight, events/s (median of $ROUNDS rounds of $APPLY_EVENTS events per batch size)"
    printf '  %-10s' postgres
    for size in "${sizes[@]}"; do printf ' %12s' "batch $size"; done
    printf '\n'
    for mode in $POSTGRES_MODES; do
      [[ -f "$QP_TMP/apply-$mode.log" ]] || continue
      label=$mode
      [[ -z "${BL_POSTGRES_URL:-}" ]] || label=given
      printf '  %-10s' "$mode"
      for size in "${sizes[@]}"; do printf ' %12s' "$(result "apply-$mode" "postgres=$label" "batch=$size" eps)"; done
      printf '\n'
    done
  fi
  if [[ " $PARTS " == *" feed "* ]]; then
    echo
    echo "LedgerFeed.feedOnce until drained, Redis streams -> Postgres, events/s (median of $ROUNDS rounds of $FEED_EVENTS entries)"
    printf '  %-10s' feed
    for size in "${sizes[@]}"; do printf ' %12s' "batch $size"; done
    printf '\n  %-10s' events/s
    for size in "${sizes[@]}"; do printf ' %12s' "$(result feed "batch=$size" eps)"; done
    printf '\n  %-10s' "mean batch"
    for size in "${sizes[@]}"; do printf ' %12s' "$(result feed "batch=$size" mean_batch)"; done
    printf '\n'
  fi
  if [[ " $PARTS " == *" reconcile "* ]]; then
    echo
    echo "registry walk: docker-registry, 8 requests in flight, every blob checked (HEAD), Postgres pool of 2"
    printf '  %-28s %8s %8s %8s %10s %8s %8s\n' run repos blobs links manifests seconds drift
    for run in backfill reconcile-unchanged reconcile-changed; do
      [[ -n "$(result reconcile "$run" seconds)" ]] || continue
      printf '  %-28s %8s %8s %8s %10s %8s %8s\n' "$run" "$(result reconcile "$run" repositories)" \
        "$(result reconcile "$run" blobs)" "$(result reconcile "$run" links)" "$(result reconcile "$run" manifests)" \
        "$(result reconcile "$run" seconds)" "$(result reconcile "$run" drift)"
    done
  fi
  echo
  echo "every part checked the ledger against what was sent or what the registry holds: all passed"
}

bench_ledger_main() {
  need java mvn
  [[ "$ROUNDS" =~ ^[1-9][0-9]*$ ]] || die "BL_ROUNDS must be a positive integer"
  qp_init bench-ledger
  # Other work on the machine shows up in every figure: say how busy it was.
  LOAD_START=$(cut -d ' ' -f 1-3 /proc/loadavg)
  log "$(nproc) cores, load average $LOAD_START at start"
  build
  if [[ " $PARTS " == *" apply "* ]]; then apply_part; fi
  if [[ " $PARTS " == *" feed "* ]]; then feed_part; fi
  if [[ " $PARTS " == *" reconcile "* ]]; then reconcile_part; fi
  summary_table
  QP_SUMMARY_DONE=1   # the checks are the programs' own: they passed or we died
  echo "bench-ledger: done"
}

LOAD_START=""
bench_ledger_main "$@"
