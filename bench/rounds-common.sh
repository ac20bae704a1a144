# shellcheck shell=bash
# rounds-common.sh - sourced by restore-fresh.sh and nochange-rounds.sh: the steps that run
# after anchors.sh, a few rounds a tool, on the benchmark repositories it leaves.
# Arguments: RUN_ID CSV (the run's, which the step appends to). The caller sets STEP (its name
# in the log) and ROUNDS, sources this with its arguments, then calls bench_tools.

RUN_ID=$1
CSV=$2
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
CABINET=${CABINET:-$ROOT/bin/cabinet}
CORPUS=${CORPUS:-/tmp/corpus}
STATE_DIR=/tmp/bench-state
REPO_BASE=/tmp/bench-repos
export PATH=$STATE_DIR/bin:$PATH

log() { echo "[$STEP $(date -u +%H:%M:%S)] $*" >&2; }
drop_caches() { sync; echo 3 > /proc/sys/vm/drop_caches 2>/dev/null || true; }

# bench_tools sets tools to those of restic and cabinet whose repository the run left, and
# exits the script (status 0: the step is optional) when there are none or no corpus.
bench_tools() {
  tools=()
  [[ -d $REPO_BASE/restic ]] && command -v restic > /dev/null && tools+=(restic)
  [[ -d $REPO_BASE/custom && -x $CABINET ]] && tools+=(cabinet)
  if (( ${#tools[@]} == 0 )); then
    log "no restic or cabinet repository from the run: skipped"
    exit 0
  fi
  [[ -d $CORPUS ]] || { log "no corpus at $CORPUS: skipped"; exit 0; }
}

# tool_version TOOL prints the version the CSV records.
tool_version() {
  if [[ $1 == restic ]]; then restic version | awk '{print $2}'; else "$CABINET" version | awk '{print $2}'; fi
}

# alternate ROUNDS FN runs FN TOOL ROUND for every tool, ROUNDS rounds, the tools' order
# reversed every other round so a drift of the machine's speed weighs on both; it stops
# when FN fails.
alternate() {
  local rounds=$1 fn=$2 round t order
  for round in $(seq 1 "$rounds"); do
    order=("${tools[@]}")
    (( round % 2 == 0 )) && order=($(printf '%s\n' "${tools[@]}" | tac))
    for t in "${order[@]}"; do "$fn" "$t" "$round" || return 0; done
  done
}
