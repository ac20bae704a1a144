#!/usr/bin/env bash
# restore-fresh.sh RUN_ID CSV - after anchors.sh: restore the latest session of restic's and
# cabinet's benchmark repositories (left in /tmp/bench-repos by the run) into a new ext4
# image each time, and append the figures to the run's CSV as step "restore-fresh-fs".
#
# Why: the run's own restore step writes 78,581 files seconds after the benchmark deleted
# as many (each tool's previous restore, and the corpus that make-corpus.sh rebuilds before
# the second and third tool). An ext4 without a journal, as /tmp is on the benchmark
# machine, skips recently deleted inodes when it allocates new ones, scanning past them
# from the start of the block group for every new file: `perf record` of a restore there
# puts 26-48 % of its CPU in recently_deleted, find_get_block_common and their callers.
# How much each tool pays depends on its place in the run. A fresh image has no deleted inodes, so this step
# compares the tools' own restore work. It does not replace the run's restore row.
#
# The image has the features of /tmp's file system, minus any journal when /tmp has none;
# its inode tables are written by mkfs (not by a background thread during the restore) and
# its blocks stay allocated in the image file (no discard).
# Rounds alternate the tools' order (restic first, then cabinet first, ...) so a drift of
# the machine's speed during the step weighs on both. Each restore's regular files are
# counted against the corpus's; a mismatch marks the row. MB/s is of the restored bytes.
#
# Env: ROUNDS (default 3), CABINET (bin/cabinet), CORPUS (/tmp/corpus), and the paths
#      anchors.sh uses (/tmp/bench-state, /tmp/bench-repos).
set -uo pipefail

ROUNDS=${ROUNDS:-3}
IMG=/tmp/bench-restore-fresh.img
MNT=/tmp/bench-restore-fresh
STEP=restore-fresh
# shellcheck source=bench/rounds-common.sh
source "$(dirname "$0")/rounds-common.sh" "$@"
bench_tools
want=$(find "$CORPUS" -type f | wc -l)   # day 1 and day 2 have the same files
bytes=$(du -sb "$CORPUS" | cut -f1)
size_mib=$(( bytes / 1048576 * 5 / 4 + 512 ))
free_mib=$(df -m --output=avail /tmp | tail -1 | tr -d ' ')
if (( free_mib < size_mib + 1024 )); then
  log "$size_mib MiB image needs more room than /tmp has ($free_mib MiB free): skipped"
  exit 0
fi
features=()
if [[ $(findmnt -n -o FSTYPE --target /tmp) == ext4 ]] && ! ls /proc/fs/jbd2 2>/dev/null | grep -q "^$(basename "$(findmnt -n -o SOURCE --target /tmp)")"; then
  features=(-O ^has_journal)
fi

cleanup() { umount "$MNT" 2>/dev/null; rm -f "$IMG"; rmdir "$MNT" 2>/dev/null; }
trap cleanup EXIT

restore_once() { # tool round
  local tool=$1 round=$2 target=$MNT/r out err rc wall user sys rss got status
  umount "$MNT" 2>/dev/null; rm -f "$IMG"; mkdir -p "$MNT"
  fallocate -l "${size_mib}M" "$IMG" && mkfs.ext4 -q -F -E lazy_itable_init=0,nodiscard "${features[@]}" "$IMG" && mount -o loop "$IMG" "$MNT" \
    || { log "could not make the ext4 image: skipped"; return 1; }
  out=$(mktemp); err=$(mktemp)
  drop_caches
  case $tool in
    restic)
      RESTIC_REPOSITORY=$REPO_BASE/restic RESTIC_PASSWORD_FILE=$STATE_DIR/password RESTIC_CACHE_DIR=$STATE_DIR/restic-cache \
        /usr/bin/time -o "$err" -f "%e %U %S %M" restic restore latest --host benchhost --target "$target" -q > "$out" 2>&1 ;;
    cabinet)
      CABINET_PASSWORD_FILE=$STATE_DIR/password CABINET_CACHE_DIR=$STATE_DIR/custom-cache \
        /usr/bin/time -o "$err" -f "%e %U %S %M" "$CABINET" restore --quiet --repo "$REPO_BASE/custom" --target "$target" latest > "$out" 2>&1 ;;
  esac
  rc=$?
  read -r wall user sys rss < <(tail -1 "$err")
  got=$(find "$target$CORPUS" -type f 2>/dev/null | wc -l)
  local restored; restored=$(du -sb "$target$CORPUS" 2>/dev/null | cut -f1)
  status=ok
  (( rc != 0 )) && status="rc=$rc"
  [[ $status == ok && $got != "$want" ]] && status="files=$got/$want"
  local version; version=$(tool_version "$tool")
  awk -v id="$RUN_ID" -v t="$tool" -v v="$version" -v s="$status" -v w="$wall" -v u="$user" -v y="$sys" \
      -v r="$rss" -v b="${restored:-0}" -v n="$round" 'BEGIN {
    printf "%s,%s,%s,restore-fresh-fs,%s,%.2f,%.2f,%.1f,%.1f,NA,new ext4 image round %d\n", id, t, v, s, w, u + y, b / w / 1e6, r / 1024, n }' >> "$CSV"
  log "$tool round $round: ${wall}s ($status)"
  rm -f "$out" "$err"
}

alternate "$ROUNDS" restore_once
