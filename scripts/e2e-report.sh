#!/usr/bin/env bash
# End-to-end test of usage reports with real clients, a real registry and a real
# browser.
#
#   scripts/e2e-report.sh
#
# Starts docker-registry and the proxy jar with its admin listener
# (--admin.port, --admin.token; embedded Redis and Postgres), pushes three test
# images with skopeo (acme/app, acme/team/svc, globex/web) and pulls one, waits
# for the ledger to record them, then checks:
#
#   - the JSON report's totals are the bytes pushed and pulled, and each
#     namespace's storage is its images' size, its repositories and manifests
#     the ones pushed; CSV says what JSON says
#   - a group of acme, acme/team and globex counts acme/team once
#   - /reports in headless Chromium renders its charts with those figures (read
#     from the DOM), and takes a screenshot
#   - the PDF report renders with pdftoppm and names the scopes
#   - a viewer token granted acme (admin.tokens in a YAML file) sees acme only,
#     in the API and on the page
#   - a manifest deleted through the proxy: its hour's row keeps the high and
#     ends at what the delete left, and the statement charges the hours after at that
#   - a chargeback statement of this month, with a price list that changes
#     today: its total is the sum of its lines, its quantities are the usage
#     report's (bytes, pulls, and storage integrated hour by hour); by group,
#     with acme shared 60/40, the shares add up to the whole and 110% is refused;
#     the statement's PDF has its total
#
# Environment:
#   KEEP_TMP=1           keep the temp dir (logs, DOM, screenshot, PDF)
#   SCREENSHOT_TO=FILE   also copy the page's screenshot there (docs/report-page.png
#                        is made so)
#   QP_JAR, JAVA_OPTS    see scripts/lib/common.sh
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source-path=SCRIPTDIR source=lib/common.sh
source "$HERE/lib/common.sh"

ADMIN_TOKEN=e2e-report-admin-token-0123456789
VIEWER=e2e-report-viewer-token-0123456789
LAYOUT=""
SIZE_APP=0 SIZE_SVC=0 SIZE_WEB=0
REPORT=""

# ---------------------------------------------------------------- helpers

# report_json QUERY: the hourly usage report of the last 48 hours, with QUERY added.
report_json() { admin_api GET "/reports/usage?granularity=hour&${1:-}" -f; }

# storage_of JSON SCOPE: the highest storage of SCOPE in the report JSON.
storage_of() { jq --arg k "$2" '[.rows[] | select(.key == $k) | .storage_bytes] | max // 0' <<<"$1"; }

# counts_of JSON SCOPE: "repositories manifests", the highest of each for SCOPE in the report JSON.
counts_of() {
  jq -r --arg k "$2" '[.rows[] | select(.key == $k)] | "\([.[].repositories] | max // 0) \([.[].manifests] | max // 0)"' <<<"$1"
}

# chromium_ ARGS...: headless Chromium on a fresh profile, as the issue says to start it.
chromium_() {
  local profile
  profile=$(mktemp -d "$QP_TMP/chromium.XXXXXX")
  timeout 90 chromium --headless --no-sandbox --disable-gpu --disable-quic --no-first-run \
    --disable-background-networking --disable-component-update --disable-sync \
    --user-data-dir="$profile" --window-size=1400,1000 --virtual-time-budget=10000 "$@" 2>>"$QP_TMP/chromium.log"
}

# dom_attribute FILE ID NAME: attribute NAME of the element with id ID (or of
# <body> when ID is body) in a dumped DOM, HTML entities undone.
dom_attribute() {
  local tag
  if [[ "$2" == body ]]; then
    tag=$(grep -o '<body[^>]*>' "$1" | head -n 1)
  else
    tag=$(grep -o "<[a-z]* [^>]*id=\"$2\"[^>]*>" "$1" | head -n 1)
  fi
  sed -n "s/.* $3=\"\\([^\"]*\\)\".*/\\1/p" <<<"$tag" \
    | sed -e 's/&quot;/"/g' -e 's/&lt;/</g' -e 's/&gt;/>/g' -e 's/&amp;/\&/g'
}

# ---------------------------------------------------------------- steps

e2e_report_setup() {
  need curl jq skopeo umoci docker-registry chromium pdftoppm pdftotext timeout
  qp_init e2e-report
  step "build test images (OCI layout, random layers)"
  LAYOUT=$QP_TMP/images
  "$HERE/make-test-image.sh" "$LAYOUT" app 2 300 >/dev/null
  "$HERE/make-test-image.sh" "$LAYOUT" svc 1 700 >/dev/null
  "$HERE/make-test-image.sh" "$LAYOUT" web 2 500 >/dev/null
  SIZE_APP=$(image_size "$LAYOUT" app) SIZE_SVC=$(image_size "$LAYOUT" svc) SIZE_WEB=$(image_size "$LAYOUT" web)
  log "app $SIZE_APP bytes, svc $SIZE_SVC bytes, web $SIZE_WEB bytes"

  step "start registry and proxy (admin listener, embedded Redis and Postgres)"
  start_registry
  free_admin_port
  cat >"$QP_TMP/admin.yml" <<YAML
admin:
  tokens:
    acme-view: {token: "$VIEWER", role: viewer, scopes: "acme"}
YAML
  start_proxy proxy.log --config "$QP_TMP/admin.yml" --admin.port "$ADMIN_PORT" --admin.token "$ADMIN_TOKEN"
  wait_http "$ADMIN_URL/reports" "$PROXY_PID" 60 || die "no report page on $ADMIN_URL/reports"
  log "admin    $ADMIN_URL"
}

push_and_pull() {
  local dest=127.0.0.1:$PROXY_PORT i
  step "skopeo push app -> acme/app:1, svc -> acme/team/svc:1, web -> globex/web:1; pull acme/app:1"
  skopeo copy -q --dest-tls-verify=false "oci:$LAYOUT:app" "docker://$dest/acme/app:1" || die "push acme/app"
  skopeo copy -q --dest-tls-verify=false "oci:$LAYOUT:svc" "docker://$dest/acme/team/svc:1" || die "push acme/team/svc"
  skopeo copy -q --dest-tls-verify=false "oci:$LAYOUT:web" "docker://$dest/globex/web:1" || die "push globex/web"
  skopeo copy -q --src-tls-verify=false "docker://$dest/acme/app:1" "oci:$QP_TMP/pulled:app" || die "pull acme/app"
  pass "three pushes and a pull through the proxy"

  # The ledger moves the proxy's events to Postgres in the background, each
  # request's traffic as its own event: wait until everything pushed and pulled
  # is in, and two reads a second apart agree.
  local previous="" pushed=$((SIZE_APP + SIZE_SVC + SIZE_WEB))
  for ((i = 0; i < 60; i++)); do
    REPORT=$(report_json) || REPORT=""
    if [[ -n "$REPORT" && "$REPORT" == "$previous" ]] && jq -e --argjson in "$pushed" --argjson out "$SIZE_APP" \
      '.totals | .pushes >= 3 and .pulls >= 1 and .ingress_bytes >= $in and .egress_bytes >= $out' <<<"$REPORT" >/dev/null; then
      break
    fi
    previous=$REPORT
    sleep 1
  done
  [[ -n "$REPORT" ]] || die "no report from $ADMIN_URL/api/v1/reports/usage"
  log "totals: $(jq -c .totals <<<"$REPORT")"
}

check_report() {
  local pushed=$((SIZE_APP + SIZE_SVC + SIZE_WEB)) egress csv rows
  step "the report by scope: what was pushed and pulled"
  check_eq "pushes" 3 "$(jq .totals.pushes <<<"$REPORT")"
  check_eq "ingress = the three images' bytes" "$pushed" "$(jq .totals.ingress_bytes <<<"$REPORT")"
  egress=$(jq .totals.egress_bytes <<<"$REPORT")
  check "egress ($egress) covers the image pulled ($SIZE_APP)" test "$egress" -ge "$SIZE_APP"
  check_eq "storage of acme = app + svc" "$((SIZE_APP + SIZE_SVC))" "$(storage_of "$REPORT" acme)"
  check_eq "storage of acme/team = svc" "$SIZE_SVC" "$(storage_of "$REPORT" acme/team)"
  check_eq "storage of globex = web" "$SIZE_WEB" "$(storage_of "$REPORT" globex)"
  check_eq "storage peak = acme + globex" "$pushed" "$(jq .totals.storage_peak_bytes <<<"$REPORT")"
  # One image (one manifest) into each of acme/app, acme/team/svc, globex/web.
  check_eq "acme holds 2 repositories and 2 manifests" "2 2" "$(counts_of "$REPORT" acme)"
  check_eq "acme/team holds 1 repository and 1 manifest" "1 1" "$(counts_of "$REPORT" acme/team)"
  check_eq "globex holds 1 repository and 1 manifest" "1 1" "$(counts_of "$REPORT" globex)"

  step "CSV says what JSON says"
  csv=$QP_TMP/report.csv
  admin_api GET "/reports/usage?granularity=hour&format=csv" -f -o "$csv" || fail "CSV report"
  check_eq "CSV header" \
    "bucket,scope,storage_bytes,repositories,manifests,ingress_bytes,egress_bytes,pushes,pulls,storage_end_bytes,repositories_end,manifests_end" \
    "$(head -n 1 "$csv" | tr -d '\r')"
  rows=$(jq -r '.rows[] | [.bucket, .key, .storage_bytes, .repositories, .manifests, .ingress_bytes, .egress_bytes, .pushes,
    .pulls, .storage_end_bytes, .repositories_end, .manifests_end] | @csv' <<<"$REPORT" \
    | tr -d '"')
  check_eq "CSV records = JSON rows" "$rows" "$(tail -n +2 "$csv" | tr -d '\r')"

  step "by user, by repository, by group"
  check_eq "users (no credentials: anonymous)" '["anonymous"]' "$(report_json by=user | jq -c '[.rows[].key] | unique')"
  check_eq "repositories" '["acme/app","acme/team/svc","globex/web"]' \
    "$(report_json by=repository | jq -c '[.rows[].key] | unique')"
  check_eq "PUT group uni (acme, acme/team, globex)" 201 "$(admin_api PUT /groups/uni -o "$QP_TMP/group.json" \
    -w '%{http_code}' -H 'Content-Type: application/json' \
    -d '{"scopes": ["acme", "acme/team", "globex"], "description": "e2e"}')"
  check_eq "group uni's ingress counts acme/team once" "$pushed" "$(report_json by=group | jq .totals.ingress_bytes)"
}

check_page() {
  local dom=$QP_TMP/report-dom.html png=$QP_TMP/report-page.png url totals storage top traffic
  url="$ADMIN_URL/reports#token=$ADMIN_TOKEN&period=48h"
  step "the report page in headless Chromium"
  chromium_ --dump-dom "$url" >"$dom" || fail "chromium --dump-dom"
  check_eq "the page rendered (body data-state)" rendered "$(dom_attribute "$dom" body data-state)"
  totals=$(dom_attribute "$dom" summary data-totals)
  log "summary: $totals"
  check_eq "page totals = API totals" "$(jq -c .totals <<<"$REPORT")" "$(jq -c . <<<"${totals:-null}")"
  storage=$(dom_attribute "$dom" storage-chart data-rendered)
  log "storage chart: $storage"
  check_eq "storage chart: one series per namespace" '["acme","globex"]' "$(jq -c .keys <<<"${storage:-null}")"
  check_eq "storage chart: peaks add up to the pushed images" "$((SIZE_APP + SIZE_SVC + SIZE_WEB))" \
    "$(jq .peak_bytes <<<"${storage:-null}")"
  top=$(dom_attribute "$dom" top-chart data-rendered)
  log "top scopes chart: $top"
  check_eq "top scopes chart: acme's bar" "$((SIZE_APP + SIZE_SVC))" "$(jq .values.acme <<<"${top:-null}")"
  traffic=$(dom_attribute "$dom" traffic-chart data-rendered)
  log "traffic chart: $traffic"
  check_eq "traffic chart: ingress" "$(jq .totals.ingress_bytes <<<"$REPORT")" "$(jq .ingress_bytes <<<"${traffic:-null}")"
  check_eq "traffic chart: egress" "$(jq .totals.egress_bytes <<<"$REPORT")" "$(jq .egress_bytes <<<"${traffic:-null}")"

  chromium_ --screenshot="$png" "$url" >/dev/null || fail "chromium --screenshot"
  check "screenshot taken ($png)" test -s "$png"
  if [[ -n "${SCREENSHOT_TO:-}" && -s "$png" ]]; then
    cp "$png" "$SCREENSHOT_TO"
    log "copied to $SCREENSHOT_TO"
  fi
}

check_pdf() {
  local pdf=$QP_TMP/report.pdf
  step "the PDF report"
  admin_api GET /reports/pdf -f -o "$pdf" || fail "GET /api/v1/reports/pdf"
  check "it is a PDF" grep -q '^%PDF-' "$pdf"
  pdftoppm -png -r 60 -f 1 -l 1 "$pdf" "$QP_TMP/report-pdf" || fail "pdftoppm"
  check "pdftoppm rendered page 1" test -s "$QP_TMP/report-pdf-1.png"
  pdftotext "$pdf" "$QP_TMP/report.txt" || fail "pdftotext"
  check "the PDF names the report and the scopes" grep -q 'quota-proxy usage report' "$QP_TMP/report.txt"
  check "the PDF lists acme/team/svc and globex/web" \
    bash -c "grep -q 'acme/team/svc' '$QP_TMP/report.txt' && grep -q 'globex/web' '$QP_TMP/report.txt'"
}

check_viewer() {
  local dom=$QP_TMP/viewer-dom.html code
  step "a viewer granted acme"
  # The admin API as the viewer: ADMIN_TOKEN set for these calls only.
  check_eq "its report holds acme's scopes only" '["acme","acme/app","acme/team","acme/team/svc"]' \
    "$(ADMIN_TOKEN=$VIEWER admin_api GET "/reports/usage?granularity=hour" -f | jq -c '[.rows[].key] | unique')"
  code=$(ADMIN_TOKEN=$VIEWER admin_api GET "/reports/usage?scope=globex" -o /dev/null -w '%{http_code}')
  check_eq "globex's report is refused" 403 "$code"
  chromium_ --dump-dom "$ADMIN_URL/reports#token=$VIEWER&period=48h" >"$dom" || fail "chromium --dump-dom (viewer)"
  check_eq "its page shows acme and the scopes right under it" '["acme","acme/app","acme/team"]' \
    "$(dom_attribute "$dom" storage-chart data-rendered | jq -c .keys)"
}

# cents AMOUNT...: the sum of decimal amounts with two decimals, in cents (exact: no floating point).
cents() { awk '{ for (i = 1; i <= NF; i++) { split($i, p, "."); s += p[1] * 100 + p[2] } } END { printf "%d", s }' <<<"$*"; }

# measured JSON ITEM: the sum of the measured figures of ITEM's lines, to the unit.
measured() { jq --arg i "$2" '[.lines[] | select(.item == $i) | .measured | tonumber] | add // 0 | round' <<<"$1"; }

# A delete shows in the report: the bucket of the delete keeps its high, and says what it left, which the
# buckets after it (and the statement's hours) carry.
delete_web() {
  local dest=127.0.0.1:$PROXY_PORT digest code row left i
  step "DELETE globex/web:1's manifest through the proxy: its hour shows the high and what was left"
  digest=$(curl -sS -I -H 'Accept: application/vnd.oci.image.manifest.v1+json' "http://$dest/v2/globex/web/manifests/1" \
    | tr -d '\r' | awk 'tolower($1) == "docker-content-digest:" {print $2}')
  [[ "$digest" == sha256:* ]] || die "no digest for globex/web:1"
  code=$(curl -sS -o /dev/null -w '%{http_code}' -X DELETE "http://$dest/v2/globex/web/manifests/$digest")
  check_eq "DELETE globex/web@${digest:0:19}…" 202 "$code"
  left=$(admin_api GET "/usage?scope=globex" -f | jq '.usage.storage_bytes.usage') || die "usage of globex"
  check "the delete freed globex's image" test "$left" -lt "$SIZE_WEB"
  for ((i = 0; i < 60; i++)); do
    row=$(report_json "scope=globex" | jq -c '[.rows[] | select(.key == "globex")] | last') || row=""
    [[ -n "$row" && "$(jq .storage_end_bytes <<<"$row")" == "$left" ]] && break
    sleep 1
  done
  check_eq "globex's last row: the image at its high, ending at what the delete left" "$SIZE_WEB $left" \
    "$(jq -r '"\(.storage_bytes) \(.storage_end_bytes)"' <<<"$row")"
}

check_chargeback() {
  local month today first statement to usage hourly byte_hours code grouped
  month=$(date -u +%Y-%m) today=$(date -u +%Y-%m-%d) first="$(date -u +%Y-%m)-01"
  step "a price list changing today, and this month's chargeback statement by scope"
  # The test images are a few MB: prices per GiB this high make their amounts cents, not 0.00, so that the
  # sum of the lines is a sum of something.
  check_eq "PUT prices from $first" 201 "$(admin_api PUT "/prices/$first" -o /dev/null -w '%{http_code}' \
    -H 'Content-Type: application/json' \
    -d '{"currency": "EUR", "storage_gib_month": "150000", "egress_gib": "50", "ingress_gib": "25", "pulls_1000": "600"}')"
  if [[ "$today" != "$first" ]]; then
    check_eq "PUT prices from $today" 201 "$(admin_api PUT "/prices/$today" -o /dev/null -w '%{http_code}' \
      -H 'Content-Type: application/json' \
      -d '{"currency": "EUR", "storage_gib_month": "250000", "egress_gib": "80", "ingress_gib": "40", "pulls_1000": "900"}')"
  fi
  statement=$(admin_api GET "/reports/chargeback?month=$month&by=scope" -f) || die "GET /api/v1/reports/chargeback"
  log "statement: $(jq -c '{total, totals, lines: (.lines | length)}' <<<"$statement")"
  jq -c '.lines[] | [.key, .item, .from, .quantity, .unit, .unit_price, .amount]' <<<"$statement" | while read -r line; do log "$line"; done
  check_eq "total = the sum of the lines" "$(cents "$(jq -r '.lines[].amount' <<<"$statement")")" \
    "$(cents "$(jq -r .total <<<"$statement")")"
  check "the statement has lines" test "$(jq '.lines | length' <<<"$statement")" -gt 0
  check "its total is above zero" test "$(cents "$(jq -r .total <<<"$statement")")" -gt 0
  if [[ "$today" != "$first" ]]; then
    check_eq "the lines are priced by today's version" "[\"250000\"]" \
      "$(jq -c '[.lines[] | select(.item == "storage") | .unit_price] | unique' <<<"$statement")"
  fi

  step "the statement's quantities are the usage report's"
  to=$(jq -r .to <<<"$statement")
  usage=$(admin_api GET "/reports/usage?by=scope&granularity=day&from=$first&to=$to" -f) || die "usage report"
  check_eq "ingress bytes" "$(jq .totals.ingress_bytes <<<"$usage")" "$(measured "$statement" ingress)"
  check_eq "egress bytes" "$(jq .totals.egress_bytes <<<"$usage")" "$(measured "$statement" egress)"
  check_eq "pulls" "$(jq .totals.pulls <<<"$usage")" "$(measured "$statement" pulls)"
  # Storage: every hour of the period at the level the hourly report shows for each namespace: a row's own
  # hour at its high, the hours after it up to the next row (or the statement's end) at what the row left.
  hourly=$(admin_api GET "/reports/usage?by=scope&granularity=hour&from=$first&to=$to" -f) || die "hourly usage report"
  byte_hours=$(jq --arg to "$to" '[.rows | map(select(.key | test("/") | not)) | group_by(.key)[] | sort_by(.bucket) as $r
    | range(0; $r | length) as $i
    | (((if $i + 1 < ($r | length) then $r[$i + 1].bucket else $to end) | fromdate) - ($r[$i].bucket | fromdate)) / 3600
    | . as $hours | $r[$i].storage_bytes + $r[$i].storage_end_bytes * ($hours - 1)] | add // 0 | round' <<<"$hourly")
  check_eq "storage byte-hours (the GiB-months' measure)" "$byte_hours" "$(measured "$statement" storage)"
  check "storage was charged" test "$byte_hours" -gt 0
  admin_api GET "/reports/chargeback?month=$month&by=scope&format=pdf" -f -o "$QP_TMP/statement.pdf" || fail "statement PDF"
  pdftotext "$QP_TMP/statement.pdf" "$QP_TMP/statement.txt" || fail "pdftotext (statement)"
  check "the statement's PDF names it and has its total" \
    bash -c "grep -q 'chargeback statement $month' '$QP_TMP/statement.txt' && grep -q '$(jq -r .total <<<"$statement")' '$QP_TMP/statement.txt'"

  step "by group: acme shared 60% uni / 40% corp"
  check_eq "PUT uni with acme at 60%" 200 "$(admin_api PUT /groups/uni -o /dev/null -w '%{http_code}' \
    -H 'Content-Type: application/json' \
    -d '{"scopes": ["acme", "acme/team", "globex"], "shares": {"acme": "60%"}}')"
  check_eq "PUT corp with acme at 40%" 201 "$(admin_api PUT /groups/corp -o /dev/null -w '%{http_code}' \
    -H 'Content-Type: application/json' -d '{"scopes": ["acme"], "shares": {"acme": "40%"}}')"
  code=$(admin_api PUT /groups/corp -o "$QP_TMP/over.json" -w '%{http_code}' -H 'Content-Type: application/json' \
    -d '{"scopes": ["acme"], "shares": {"acme": "50%"}}')
  check_eq "50% for corp is refused (110%)" "400 acme 110" "$code $(jq -r '.error.details | "\(.scope) \(.sum)"' "$QP_TMP/over.json")"
  grouped=$(admin_api GET "/reports/chargeback?month=$month&by=group" -f) || die "statement by group"
  log "by group: $(jq -c '{total, totals}' <<<"$grouped")"
  check_eq "by group: total = the sum of the lines" "$(cents "$(jq -r '.lines[].amount' <<<"$grouped")")" \
    "$(cents "$(jq -r .total <<<"$grouped")")"
  check_eq "uni's and corp's shares add up to the scopes' ingress" "$(measured "$statement" ingress)" \
    "$(measured "$grouped" ingress)"
  check_eq "uni's lines say acme was split at 60%" 60 \
    "$(jq '[.lines[] | select(.key == "uni") | .split.acme] | unique | .[0]' <<<"$grouped")"
}

e2e_report_main() {
  e2e_report_setup
  push_and_pull
  check_report
  check_page
  check_pdf
  check_viewer
  delete_web
  check_chargeback
  summary e2e-report
}

e2e_report_main "$@"
