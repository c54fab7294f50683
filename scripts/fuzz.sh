#!/usr/bin/env bash
# Runs every Go fuzz target in the module for the given time each.
set -euo pipefail
cd "$(dirname "$0")/.."
t=${1:-5s}
log=/tmp/hostflow-fuzz.log
status=0

fuzz() { go test -run '^$' -fuzz "^$1\$" -fuzztime "$t" "$2" >"$log" 2>&1; }

# Go 1.26's fuzz coordinator can report a bare "context deadline exceeded"
# when -fuzztime expires while a worker is busy (go.dev/issue/75804, fixed in
# Go 1.27): no failing input, nothing written to testdata. Such a run is
# retried once; anything else, or the same twice, fails.
deadline_race() { grep -q 'context deadline exceeded' "$log" && ! grep -qE 'Failing input written|panic:|_test\.go:[0-9]+:' "$log"; }

while IFS=: read -r file target; do
  pkg="./$(dirname "$file")"
  echo "fuzz $pkg $target ($t)"
  if fuzz "$target" "$pkg"; then
    continue
  fi
  if deadline_race; then
    echo "  coordinator deadline race (go.dev/issue/75804), no failing input: retrying once"
    fuzz "$target" "$pkg" && continue
  fi
  cat "$log"
  status=1
done < <(git ls-files '*_test.go' | xargs grep -oE '^func (Fuzz[A-Za-z0-9_]+)' | sed -E 's/func //' | sort)
exit $status
