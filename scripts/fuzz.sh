#!/usr/bin/env bash
# Runs every Go fuzz target in the module for the given time each.
set -euo pipefail
cd "$(dirname "$0")/.."
t=${1:-5s}
status=0
while IFS=: read -r file target; do
  pkg="./$(dirname "$file")"
  echo "fuzz $pkg $target ($t)"
  if ! go test -run '^$' -fuzz "^${target}\$" -fuzztime "$t" "$pkg" >/tmp/hostflow-fuzz.log 2>&1; then
    cat /tmp/hostflow-fuzz.log
    status=1
  fi
done < <(git ls-files '*_test.go' | xargs grep -oE '^func (Fuzz[A-Za-z0-9_]+)' | sed -E 's/func //' | sort)
exit $status
