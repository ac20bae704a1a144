#!/usr/bin/env bash
# run.sh - `make bench` / `make bench-quick`: run ../shared/bench/anchors.sh with cabinet as
# the third tool (through bench/cabinet-adapter.sh), write the run under bench/results/,
# print cabinet's figure and its ratio to restic and borg for every step, and update the
# matching section of bench/RESULTS.md.
#
# Env: BENCH_TOOLS   tools to run (default "restic borg cabinet"); "cabinet" alone compares
#                    with the stored anchor figures (restic 0.18.1 medians, borg).
#      QUICK=1       the ~300 MB corpus (tuning only).
#      SHARED_BENCH  the shared benchmark folder (default ../shared/bench from the checkout).
#      CABINET       the cabinet binary (default bin/cabinet).
#      BENCH_BASELINE  run CSV(s) (space-separated) to take restic/borg from when this run
#                    lacks them, before falling back to the stored anchors.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
export BENCH_COMMIT=${BENCH_COMMIT:-$(bash "$ROOT/bench/commit.sh")}   # sources of bin/cabinet
SHARED_BENCH=$(cd "${SHARED_BENCH:-$ROOT/../shared/bench}" && pwd)
CABINET=${CABINET:-$ROOT/bin/cabinet}
[[ $CABINET == /* ]] || CABINET=$ROOT/$CABINET
BENCH_TOOLS=${BENCH_TOOLS:-restic borg cabinet}
QUICK=${QUICK:-0}
RESULTS_DIR=$ROOT/bench/results

tools=()
for t in $BENCH_TOOLS; do
  case $t in
    cabinet|custom) tools+=(custom) ;;
    restic|borg) tools+=("$t") ;;
    *) echo "bench: unknown tool '$t' in BENCH_TOOLS (restic, borg, cabinet)" >&2; exit 2 ;;
  esac
done
if [[ " ${tools[*]} " == *" custom "* ]]; then
  [[ -x $CABINET ]] || { echo "bench: $CABINET not built (go build -o bin/cabinet ./cmd/cabinet)" >&2; exit 1; }
  "$CABINET" version > /dev/null || { echo "bench: '$CABINET version' failed" >&2; exit 1; }
fi

export QUICK
suffix=; [[ $QUICK == 1 ]] && suffix=-quick
RUN_ID=${RUN_ID:-$(date -u +%Y%m%dT%H%M%SZ)$suffix}
export RUN_ID
mkdir -p "$RESULTS_DIR"
echo "bench: run $RUN_ID, tools: ${tools[*]}, results in bench/results/run-$RUN_ID.csv" >&2

# anchors.sh adds the third tool whenever TOOL_CMD is set: set it only when cabinet runs
unset TOOL_CMD TOOL_ADAPTER TOOL_NAME
if [[ " ${tools[*]} " == *" custom "* ]]; then
  export TOOL_NAME=cabinet TOOL_CMD=$CABINET TOOL_ADAPTER=$ROOT/bench/cabinet-adapter.sh
fi
# How much CPU did other processes take during the run? /proc/stat busy time minus the CPU of
# anchors.sh and everything it ran (reaped children of this shell), plus hypervisor steal.
cpu_busy() { awk '/^cpu / { print $2 + $3 + $4 + $7 + $8, $9 }' /proc/stat; }
read -r busy0 steal0 < <(cpu_busy); kids0=$(awk '{ sub(/^.*\) /, ""); print $14 + $15 }' /proc/$$/stat); t0=$(date +%s)
TOOLS="${tools[*]}" RESULTS_DIR=$RESULTS_DIR "$SHARED_BENCH/anchors.sh" || echo "bench: anchors.sh exited $?" >&2
read -r busy1 steal1 < <(cpu_busy); kids1=$(awk '{ sub(/^.*\) /, ""); print $14 + $15 }' /proc/$$/stat); t1=$(date +%s)
awk -v b="$((busy1 - busy0))" -v k="$((kids1 - kids0))" -v s="$((steal1 - steal0))" -v w="$((t1 - t0))" \
    -v tck="$(getconf CLK_TCK)" -v n="$(nproc)" 'BEGIN {
  printf "wall_s=%d\ncpus=%d\nbench_cpu_s=%.1f\nother_cpu_s=%.1f\nsteal_s=%.1f\n", w, n, k / tck, (b - k) / tck, s / tck }' \
  > "$RESULTS_DIR/run-$RUN_ID.cpu"

# The restore again, into a new file system (see restore-fresh.sh), and the no-change backup
# again: not part of the CPU figures above.
if [[ " ${tools[*]} " == *" custom "* ]]; then
  corpus=/tmp/corpus; [[ $QUICK == 1 ]] && corpus=/tmp/corpus-quick
  CABINET=$CABINET CORPUS=$corpus bash "$ROOT/bench/restore-fresh.sh" "$RUN_ID" "$RESULTS_DIR/run-$RUN_ID.csv" || true
  # The no-change backup again, five rounds a tool (see nochange-rounds.sh): the medians.
  CABINET=$CABINET CORPUS=$corpus bash "$ROOT/bench/nochange-rounds.sh" "$RUN_ID" "$RESULTS_DIR/run-$RUN_ID.csv" || true
fi

section=full
[[ $QUICK == 1 ]] && section=quick
[[ " ${tools[*]} " == *" restic "* && " ${tools[*]} " == *" borg "* ]] || section=$section-cabinet-only
echo
baseline=()
for b in ${BENCH_BASELINE:-}; do baseline+=(--baseline "$b"); done
python3 "$ROOT/bench/compare.py" "$RESULTS_DIR/run-$RUN_ID.csv" --anchors "$SHARED_BENCH/results" "${baseline[@]}" \
  --update "$ROOT/bench/RESULTS.md" --section "$section"
echo
echo "bench: per-step table of all tools: bench/results/run-$RUN_ID.md; RESULTS.md section '$section' updated"
