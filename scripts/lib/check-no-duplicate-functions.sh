#!/usr/bin/env bash
# Fails if a shell function name is defined more than once under scripts/ (lib/ included),
# whether in one file or in two: the scripts share lib/common.sh, lib/http.sh, lib/layout.sh
# and lib/faults.sh, and a second definition (a copy, or a redefinition with other
# arguments) silently replaces the first one for whoever sources both, or drifts from it.
# Entry points are named after their script (e2e_main, bench_quota_main, ...) for the same
# reason. Run by .ci/run before anything else.
#
#   scripts/lib/check-no-duplicate-functions.sh [DIR]   DIR: default, the scripts/ directory
#
# Definitions are found by pattern (NAME() or function NAME, at any indentation), outside
# here-documents (slow-clients.sh carries Python in one).
set -euo pipefail

dir=${1:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)}
mapfile -t files < <(find "$dir" -type f -name '*.sh' | sort)
((${#files[@]} > 0)) || { echo "no *.sh files under $dir" >&2; exit 1; }

awk '
  FNR == 1 { heredoc = "" }
  heredoc != "" {
    line = $0
    if (strip_tabs) sub(/^\t+/, "", line)
    if (line == heredoc) heredoc = ""
    next
  }
  {
    line = $0
    sub(/^[ \t]*#.*/, "", line)
    name = ""
    # (function NAME must be followed by (), { or the line end: in an awk program
    # inside a shell string, "function abs(x)" is not a shell definition.)
    if (match(line, /^[ \t]*function[ \t]+[A-Za-z_][A-Za-z0-9_:-]*[ \t]*(\(\)|\{|$)/)) {
      name = substr(line, RSTART, RLENGTH); sub(/^[ \t]*function[ \t]+/, "", name)
      sub(/[ \t]*(\(\)|\{)?$/, "", name)
    } else if (match(line, /^[ \t]*[A-Za-z_][A-Za-z0-9_:-]*[ \t]*\(\)/)) {
      name = substr(line, RSTART, RLENGTH); sub(/^[ \t]+/, "", name); sub(/[ \t]*\(\)$/, "", name)
    }
    if (name != "") { count[name]++; where[name] = where[name] "\n  " FILENAME ":" FNR }
    # A here-document starts: skip its body (<<< is a here-string, not one).
    if (match(line, /(^|[^<])<<-?[ \t]*["\047]?[A-Za-z_][A-Za-z0-9_]*["\047]?/)) {
      tag = substr(line, RSTART, RLENGTH)
      strip_tabs = (tag ~ /<<-/)
      sub(/^.*<<-?[ \t]*["\047]?/, "", tag); sub(/["\047]$/, "", tag)
      heredoc = tag
    }
  }
  END {
    for (name in count) {
      total++
      if (count[name] > 1) { dup++; printf "function %s is defined %d times:%s\n", name, count[name], where[name] }
    }
    if (dup) { printf "%d function name(s) defined more than once under scripts/: keep one (in scripts/lib if shared)\n", dup; exit 1 }
    printf "check-no-duplicate-functions: %d functions, each defined once\n", total
  }' "${files[@]}"
