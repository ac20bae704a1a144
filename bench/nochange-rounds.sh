#!/usr/bin/env bash
# nochange-rounds.sh RUN_ID CSV - after anchors.sh: back up the unchanged corpus again with
# restic and cabinet, several rounds, each tool into its benchmark repository (left in
# /tmp/bench-repos by the run, with its cache), and append the figures to the run's CSV as
# step "backup-nochange-rounds"; compare.py takes each tool's median.
#
# Why: the run's no-change step is one sample of a step that takes well under a second for
# cabinet and 2.4-4.3 s for restic on the same 2-vCPU machines, cold, from one run to the
# next: one sample of each swung cabinet's ratio between 3.6x and 5.9x for the same code.
# Medians of rounds in the same run, order alternating (restic first, then cabinet first,
# ...) so a drift of the machine's speed weighs on both, say what the single sample cannot.
# It does not replace the run's no-change row.
#
# First one backup a tool, not recorded: anchors.sh leaves the corpus rebuilt, so new to
# both. Then each round: page cache dropped, then the backup of the corpus as the run's no-change step
# makes it (same flags). Its summary must report no new and no changed file, or the row is
# marked: a no-change round that read files would measure something else.
#
# Env: ROUNDS (default 5), CABINET (bin/cabinet), CORPUS (/tmp/corpus), and the paths
#      anchors.sh uses (/tmp/bench-state, /tmp/bench-repos).
set -uo pipefail

ROUNDS=${ROUNDS:-5}
STEP=nochange-rounds
# shellcheck source=bench/rounds-common.sh
source "$(dirname "$0")/rounds-common.sh" "$@"
bench_tools
bytes=$(find "$CORPUS" -type f -printf '%s\n' | awk '{s += $1} END {printf "%.0f", s}')

backup_once() { # tool round
  local tool=$1 round=$2 out err rc wall user sys rss status version
  out=$(mktemp); err=$(mktemp)
  drop_caches
  case $tool in
    restic)
      RESTIC_REPOSITORY=$REPO_BASE/restic RESTIC_PASSWORD_FILE=$STATE_DIR/password RESTIC_CACHE_DIR=$STATE_DIR/restic-cache \
        /usr/bin/time -o "$err" -f "%e %U %S %M" restic backup --compression auto --host benchhost --tag "nochange-round-$round" "$CORPUS" > "$out" 2>&1 ;;
    cabinet)
      CABINET_PASSWORD_FILE=$STATE_DIR/password \
        /usr/bin/time -o "$err" -f "%e %U %S %M" "$CABINET" --cache-dir "$STATE_DIR/custom-cache" backup --repo "$REPO_BASE/custom" --device bench "$CORPUS" > "$out" 2>&1 ;;
  esac
  rc=$?
  version=$(tool_version "$tool")
  read -r wall user sys rss < <(tail -1 "$err")
  status=ok
  if (( rc != 0 )); then
    status="rc=$rc"
  elif ! grep -Eiq 'files: +0 new, +0 changed' "$out"; then
    status="files read (not a no-change backup)"
  fi
  if (( round == 0 )); then
    log "$tool: the rebuilt corpus backed up in ${wall}s (not recorded)"
    rm -f "$out" "$err"
    return
  fi
  awk -v id="$RUN_ID" -v t="$tool" -v v="$version" -v s="$status" -v w="$wall" -v u="$user" -v y="$sys" \
      -v r="$rss" -v b="$bytes" -v n="$round" 'BEGIN {
    printf "%s,%s,%s,backup-nochange-rounds,%s,%.2f,%.2f,%.1f,%.1f,NA,round %d; caches dropped\n", id, t, v, s, w, u + y, b / w / 1e6, r / 1024, n }' >> "$CSV"
  log "$tool round $round: ${wall}s ($status)"
  rm -f "$out" "$err"
}

# anchors.sh rebuilds the corpus at its end (new inodes, new change times): a first backup
# of it, not recorded, makes it the tools' latest state.
for t in "${tools[@]}"; do backup_once "$t" 0 > /dev/null; done
alternate "$ROUNDS" backup_once
