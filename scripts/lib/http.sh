# shellcheck shell=bash
# HTTP helpers shared by the scripts in scripts/: raw requests with curl, the OCI
# distribution API's upload steps, and the proxy's admin API. Sourced by lib/common.sh
# (whose QP_TMP, fail and die these use); not on its own.
#
#   HTTP_DIR        where http writes the last response: http.body, http.headers
#                   (default: QP_TMP; each fault-suite client has a directory of its own)
#   HTTP_OPTS       curl options added to every http request (e.g. a client's --max-time)
#   HTTP_LOCATIONS  a file: http appends each response's Location header to it (e2e.sh
#                   checks them all at the end); empty: not collected
#   ADMIN_URL, ADMIN_TOKEN  the admin listener and its token (admin_api, metric)

HTTP_DIR=""
HTTP_OPTS=()
HTTP_LOCATIONS=""
UPLOAD_URL=""
PUT_SECS=""

# http METHOD URL [CURL_ARGS...]: send one request; print the status code (000: no answer).
# Returns 0 whatever the answer: callers judge the status, and a script under set -e carries
# on to report it as a failed check.
http() {
  local method=$1 url=$2 dir=${HTTP_DIR:-$QP_TMP}
  shift 2
  local -a verb=(-X "$method")
  # -X HEAD would make curl wait for a body that never comes.
  [[ "$method" == HEAD ]] && verb=(--head)
  # A request that gets no answer (or no body) must not leave the previous one's behind.
  rm -f "$dir/http.body" "$dir/http.headers"
  curl -sS -o "$dir/http.body" -D "$dir/http.headers" -w '%{http_code}' \
    "${HTTP_OPTS[@]}" "${verb[@]}" "$@" "$url" || true
  if [[ -n "$HTTP_LOCATIONS" ]]; then header Location >>"$HTTP_LOCATIONS" || true; fi
}

# header NAME: the value of header NAME in the last http response; returns 1 if it has none.
header() {
  awk -v name="${1,,}" '
    /^HTTP\// { value = ""; found = 0 }           # a 100 Continue precedes the real response
    { line = $0; sub(/\r$/, "", line) }
    tolower(substr(line, 1, index(line, ":") - 1)) == name {
      value = substr(line, index(line, ":") + 1); sub(/^[ \t]+/, "", value); found = 1
    }
    END { if (found) print value; exit !found }' "${HTTP_DIR:-$QP_TMP}/http.headers"
}

# absolute_url BASE LOCATION: a Location header made absolute against BASE (empty stays empty).
absolute_url() {
  if [[ -z "$2" || "$2" == http://* || "$2" == https://* ]]; then echo "$2"; else echo "$1$2"; fi
}

# with_digest URL DIGEST: URL plus the digest query parameter.
with_digest() {
  if [[ "$1" == *\?* ]]; then echo "$1&digest=$2"; else echo "$1?digest=$2"; fi
}

# start_upload BASE REPO: POST an upload session to the registry API at BASE; set UPLOAD_URL
# to its absolute Location. On a refusal, fail (a failed check) and return 1. It sets a
# global rather than print: in $(...) the failure would be counted in the subshell only.
start_upload() {
  local code loc
  UPLOAD_URL=""
  code=$(http POST "$1/v2/$2/blobs/uploads/" -H 'Content-Length: 0')
  [[ "$code" == 202 ]] || { fail "POST upload to $2: expected 202, got $code"; return 1; }
  loc=$(header Location) || { fail "POST upload to $2: no Location header"; return 1; }
  UPLOAD_URL=$(absolute_url "$1" "$loc")
}

# put_blob BASE REPO FILE DIGEST: the benchmarks' monolithic push: POST, then one PUT
# ?digest= with FILE as the body, bounded by MAX_TIME seconds (the caller sets it); dies on
# any failure. Sets PUT_SECS to the seconds the PUT took (curl's time_total).
put_blob() {
  local base=$1 repo=$2 file=$3 digest=$4 out
  start_upload "$base" "$repo" || die "POST upload to $base/v2/$repo"
  # 'Expect:' switches curl's automatic Expect: 100-continue off: this measures
  # streaming, not the 100-continue round trip (e2e.sh tests that).
  out=$(curl -sS -o /dev/null --max-time "$MAX_TIME" -X PUT -T "$file" -H 'Expect:' \
    -H 'Content-Type: application/octet-stream' -w '%{http_code} %{time_total}' \
    "$(with_digest "$UPLOAD_URL" "$digest")") \
    || die "PUT of $file to $base ($repo) failed"
  [[ "${out%% *}" == 201 ]] || die "PUT of $file to $base ($repo): status ${out%% *}"
  # shellcheck disable=SC2034  # read by the calling benchmark
  PUT_SECS=${out#* }
}

# upload_blob REPO FILE HOW: push one blob to PROXY_URL (a proxy, or the load balancer in front
# of several: lib/faults.sh's and e2e-scale.sh's clients) the way HOW says (put: POST, then PUT ?digest=
# with the body; patch: POST, PATCH with Content-Length, PUT ?digest=; chunked: POST, PATCH
# without Content-Length, PUT ?digest=). Prints the last status.
upload_blob() {
  local repo=$1 file=$2 how=$3 digest code loc
  digest=$(sha256_of "$file")
  # Not start_upload: a refusal here is an outcome to record, not a failed check.
  code=$(http POST "$PROXY_URL/v2/$repo/blobs/uploads/" -H 'Content-Length: 0')
  [[ "$code" == 202 ]] || { echo "$code"; return; }
  loc=$(absolute_url "$PROXY_URL" "$(header Location)")
  if [[ "$how" == chunked || "$how" == patch ]]; then
    if [[ "$how" == chunked ]]; then
      # -T - reads standard input: curl sends it chunked, without Content-Length.
      code=$(http PATCH "$loc" -H 'Content-Type: application/octet-stream' -T - <"$file")
    else
      code=$(http PATCH "$loc" -H 'Content-Type: application/octet-stream' --data-binary "@$file")
    fi
    [[ "$code" == 202 ]] || { echo "$code"; return; }
    loc=$(absolute_url "$PROXY_URL" "$(header Location)")
    http PUT "$(with_digest "$loc" "$digest")" -H 'Content-Length: 0'
  else
    http PUT "$(with_digest "$loc" "$digest")" -H 'Content-Type: application/octet-stream' \
      --data-binary "@$file"
  fi
}

# admin_api METHOD PATH [CURL_ARGS...]: a call to the admin API, ADMIN_URL/api/v1PATH, with
# ADMIN_TOKEN; the body on stdout (add -f to fail on an error status, -o to keep it).
admin_api() {
  local method=$1 path=$2
  shift 2
  curl -sS --max-time 120 -X "$method" -H "Authorization: Bearer $ADMIN_TOKEN" "$@" "$ADMIN_URL/api/v1$path"
}

# metric NAME: the value of NAME on the admin listener's /metrics, as an integer (empty if absent).
metric() {
  curl -sS --max-time 5 "$ADMIN_URL/metrics" | awk -v name="$1" '$1 == name { printf "%d", $2 }'
}
