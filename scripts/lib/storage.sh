# shellcheck shell=bash
# The three figures the threat model's invariant compares, per scope: what the registry's storage
# holds (its files walked, as RegistryStorage.java walks them), what Redis charges (qp:{ns}:used)
# and what the ledger charges (scope_usage); and whether the ledger feed has caught up. Shared by
# lib/faults.sh and e2e-scale.sh. Source it after lib/common.sh and lib/postgres.sh; it reads
# REGISTRY_DATA, rcli's Redis, sql's Postgres, admin_api's proxy and the caller's NAMESPACES.

# registry_held: every digest each repository holds, as RegistryStorage.java reads the
# storage: "repo<TAB>digest<TAB>size" lines. held(R) = live manifests, their references,
# and the linked layers that no deleted manifest of R referenced; only digests whose data
# exists. One refinement: a layer that a deleted manifest referenced but that was linked
# again after that delete (a mount or an upload committed later, with no manifest pushed
# after it) is held, as the proxy counts it (a blob uploaded but never referenced). The files
# tell them apart by time: distribution rewrites a layer's link file on every commit and
# mount, and removing a revision's link changes its directory's mtime.
registry_held() {
  local v2=$REGISTRY_DATA/docker/registry/v2 dir repo d s t r
  declare -A size refs
  while read -r d s; do size[$d]=$s; done < <(find "$v2/blobs" -mindepth 4 -maxdepth 4 -name data -type f \
    -printf '%h %s\n' 2>/dev/null | awk '{ n = split($1, p, "/"); print p[n-2] ":" p[n], $2 }')
  # references DIGEST: config, layers, blobs and manifests digests of a manifest's data (cached).
  references() {
    if [[ -z "${refs[$1]+x}" ]]; then
      local hex=${1#*:} alg=${1%%:*}
      refs[$1]=$(jq -r 'try ([.config.digest?, (.layers[]?.digest?), (.blobs[]?.digest?), (.manifests[]?.digest?)]
        | .[] | strings) catch empty' "$v2/blobs/$alg/${hex:0:2}/$hex/data" 2>/dev/null | tr '\n' ' ')
    fi
    echo "${refs[$1]}"
  }
  while read -r dir; do
    repo=${dir#"$v2/repositories/"}
    # held: digest -> 1; freed: digest -> when the last deleted manifest referencing it was
    # deleted. Times are find's %T@ (10 integer and 10 fraction digits): compared as strings.
    local -A held=() freed=()
    while read -r t d; do
      d=${d%%/*}:${d#*/}
      if [[ -f "$dir/_manifests/revisions/${d%%:*}/${d#*:}/link" ]]; then
        held[$d]=1
        for r in $(references "$d"); do held[$r]=1; done
      else
        for r in $(references "$d"); do
          [[ "$t" > "${freed[$r]:-}" ]] && freed[$r]=$t
        done
      fi
    done < <(cd "$dir/_manifests/revisions" 2>/dev/null && find . -mindepth 2 -maxdepth 2 -type d -printf '%T@ %P\n')
    while read -r t d; do
      d=${d%/link}
      d=${d%%/*}:${d#*/}
      [[ -z "${freed[$d]:-}" || "$t" > "${freed[$d]}" ]] && held[$d]=1
    done < <(cd "$dir/_layers" 2>/dev/null && find . -mindepth 3 -maxdepth 3 -name link -type f -printf '%T@ %P\n')
    for d in "${!held[@]}"; do
      [[ -n "${size[$d]+x}" ]] && printf '%s\t%s\t%s\n' "$repo" "$d" "${size[$d]}"
    done
    unset held freed
  done < <(find "$v2/repositories" -mindepth 1 -type d -name '_*' -prune -printf '%h\n' 2>/dev/null | sort -u)
}

# scope_bytes: "scope<TAB>bytes" from registry_held's lines on standard input: the distinct
# digests of the repositories at or under each scope. "(system)" is the sum of the namespaces.
scope_bytes() {
  awk -F'\t' '
    { n = split($1, part, "/"); scope = ""
      for (i = 1; i <= n; i++) {
        scope = scope (i > 1 ? "/" : "") part[i]
        if (!((scope, $2) in seen)) { seen[scope, $2] = 1; bytes[scope] += $3 }
      } }
    END { for (s in bytes) { print s "\t" bytes[s]; if (s !~ /\//) sys += bytes[s] }
          print "(system)\t" sys + 0 }'
}

# measure_scopes [DIR]: the three figures per scope into DIR/scopes.tsv (DIR: default
# QP_TMP/check): scope registry redis ledger. The namespaces are those the registry holds, those
# Redis lists, and NAMESPACES (the calling script's).
measure_scopes() {
  local dir=${1:-$QP_TMP/check} ns sys
  mkdir -p "$dir"
  registry_held >"$dir/held.tsv"
  scope_bytes <"$dir/held.tsv" >"$dir/registry.tsv"
  : >"$dir/redis.tsv"
  for ns in $( (cut -f1 "$dir/registry.tsv" | grep -v '^(system)' | cut -d/ -f1
    rcli SMEMBERS qp:namespaces | grep -v '^='
    printf '%s\n' "${NAMESPACES[@]}") | sort -u); do
    rcli HGETALL "qp:{$ns}:used" | paste - - >>"$dir/redis.tsv"
  done
  sys=$(admin_api GET /system | jq -r '.usage.used // "null"')
  printf '(system)\t%s\n' "$sys" >>"$dir/redis.tsv"
  sql "select scope, used_bytes from scope_usage" >"$dir/ledger.tsv" || fail "read scope_usage from the ledger"
  sys=$(awk -F'\t' '$1 !~ /\// { s += $2 } END { print s + 0 }' "$dir/ledger.tsv")
  printf '(system)\t%s\n' "$sys" >>"$dir/ledger.tsv"
  awk -F'\t' -v OFS='\t' '
    FILENAME ~ /registry/ { reg[$1] = $2; all[$1] = 1 }
    FILENAME ~ /redis/    { red[$1] = $2; all[$1] = 1 }
    FILENAME ~ /ledger/   { led[$1] = $2; all[$1] = 1 }
    END { for (s in all) print s, reg[s] + 0, (s in red) ? red[s] : 0, led[s] + 0 }' \
    "$dir/registry.tsv" "$dir/redis.tsv" "$dir/ledger.tsv" | sort >"$dir/scopes.tsv"
}

# ledger_lag NS...: events of the namespaces' streams the ledger feed has not applied yet:
# pending (delivered, not acknowledged) plus lag (not yet delivered) of its group "ledger"; a
# stream with entries and no group at all is read by nobody, so all of it waits.
ledger_lag() {
  local ns lag=0 pending
  for ns in "$@"; do
    [[ "$(rcli EXISTS "qp:{$ns}:events")" == 1 ]] || continue
    pending=$(rcli XINFO GROUPS "qp:{$ns}:events" | awk -v len="$(rcli XLEN "qp:{$ns}:events")" '
      p == "name" && $0 == "ledger" { group = 1 }
      p == "pending" || p == "lag" { s += $1 }
      { p = $0 }
      END { print group ? s + 0 : len + 0 }')
    lag=$((lag + pending))
  done
  echo "$lag"
}
