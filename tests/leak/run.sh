#!/usr/bin/env bash
# The log-leak suite (README: "Verifying: log-leak tests"). Runs every corpus in this folder
# through `scrubproxy verify` under every shipped pack that claims to remove its canaries, and
# checks that the known leaks in known/<pack>/ still leak (so a fix is noticed and the corpus
# moves up here).
#
#   bash tests/leak/run.sh path/to/scrubproxy [REPORT_DIR]
#
# Exit 0 when everything holds; otherwise 1, after running everything.
set -uo pipefail

bin=${1:?usage: run.sh path/to/scrubproxy [REPORT_DIR]}
here=$(cd "$(dirname "$0")" && pwd)
reports=${2:-$(mktemp -d)}
mkdir -p "$reports"
failed=0
ran=0

# verify_clean NAME PACK CANARIES CORPUS: the corpus must be clean and keep its retry ids
# (NAME.expect-keep beside the corpus, if present, lists the ids to expect instead: empty for a
# corpus whose ids sit under personal data and must go with it).
verify_clean() {
  local name=$1 pack=$2 canaries=$3 corpus=$4
  local report="$reports/$name.$pack.json"
  local expect=(--expect-keep _id,_xform_id)
  if [ -f "${corpus%.jsonl}.expect-keep" ]; then
    local list
    list=$(grep -v '^#' "${corpus%.jsonl}.expect-keep" | tr -d '[:space:]')
    expect=()
    [ -n "$list" ] && expect=(--expect-keep "$list")
  fi
  ran=$((ran + 1))
  if "$bin" verify --rules "$pack" --corpus "$corpus" --canaries "$canaries" \
      "${expect[@]}" --report "$report" >"$reports/$name.$pack.txt" 2>&1; then
    echo "ok    $name under $pack"
  else
    echo "FAIL  $name under $pack (report: $report)"
    grep -E '^(LEAK|LOST|result)|:[0-9]+:' "$reports/$name.$pack.txt" | head -20
    failed=1
  fi
}

for corpus in "$here"/*.jsonl; do
  base=${corpus%.jsonl}
  name=$(basename "$base")
  if [ ! -f "$base.canaries" ]; then
    echo "FAIL  $name: no $name.canaries beside it"
    failed=1
    continue
  fi
  # The default allowlist claims to remove everything personal.
  verify_clean "$name" openfn-retry-ids "$base.canaries" "$corpus"
  # kobo-redact claims only what its regular expressions can recognise.
  if [ -f "$base.detectable.canaries" ]; then
    verify_clean "$name" kobo-redact "$base.detectable.canaries" "$corpus"
  fi
done

# Known leaks: every line of each corpus must still be reported as a leak under its pack.
for pack_dir in "$here"/known/*/; do
  [ -d "$pack_dir" ] || continue
  pack=$(basename "$pack_dir")
  for corpus in "$pack_dir"*.jsonl; do
    [ -f "$corpus" ] || continue
    base=${corpus%.jsonl}
    name=known-$(basename "$base")
    out="$reports/$name.$pack.txt"
    ran=$((ran + 1))
    "$bin" verify --rules "$pack" --corpus "$corpus" --canaries "$base.canaries" \
      --report "$reports/$name.$pack.json" >"$out" 2>&1
    status=$?
    lines=$(grep -c . "$corpus")
    leaking=$(grep -oE '^LEAK [^ ]*:[0-9]+:' "$out" | sort -u | wc -l)
    if [ "$status" -eq 1 ] && [ "$leaking" -eq "$lines" ]; then
      echo "ok    $name under $pack still leaks ($lines lines: known, see tests/leak/README.md)"
    else
      echo "FAIL  $name under $pack: $leaking of $lines lines leak (exit $status)." \
        "If the pack was fixed, move the fixed lines to tests/leak/ as a regular corpus."
      failed=1
    fi
  done
done

echo "leak suite: $ran runs, reports in $reports"
exit $failed
