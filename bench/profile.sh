#!/usr/bin/env bash
# profile.sh - `make bench-profile`: an initial backup of the corpus by cabinet (fresh repo,
# fresh cache, page cache dropped) with CABINET_CPUPROFILE and CABINET_MEMPROFILE set, then
# `go tool pprof -top` summaries, each stage's share of the CPU samples (samples whose stack
# passes through the stage's functions; stages overlap where one calls another), and the
# machine's limits (disk read/write with dd/cat, per-core CPU stages with bench/limits).
#
# Env: QUICK=1 (the ~300 MB corpus), CABINET (bin/cabinet), SHARED_BENCH (../shared/bench),
#      PROFILE_LIMITS=0 skips the machine-limit measurements.
# Output: bench/results/profile-<RUN_ID>/ (cpu.pprof, mem.pprof, *.txt, summary.md).
set -uo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
export BENCH_COMMIT=${BENCH_COMMIT:-$(bash "$ROOT/bench/commit.sh")}   # sources of bin/cabinet
SHARED_BENCH=$(cd "${SHARED_BENCH:-$ROOT/../shared/bench}" && pwd)
CABINET=${CABINET:-$ROOT/bin/cabinet}
[[ $CABINET == /* ]] || CABINET=$ROOT/$CABINET
QUICK=${QUICK:-0}
export QUICK
if [[ $QUICK == 1 ]]; then CORPUS=/tmp/corpus-quick; else CORPUS=/tmp/corpus; fi
suffix=; [[ $QUICK == 1 ]] && suffix=-quick
RUN_ID=${RUN_ID:-$(date -u +%Y%m%dT%H%M%SZ)$suffix}
OUT=$ROOT/bench/results/profile-$RUN_ID
REPO=/tmp/bench-repos/profile
CACHE=/tmp/bench-state/profile-cache
PWFILE=/tmp/bench-state/password
PROFILE_LIMITS=${PROFILE_LIMITS:-1}
mkdir -p "$OUT" /tmp/bench-state /tmp/bench-repos
printf 'bench-password-not-a-secret\n' > "$PWFILE"; chmod 600 "$PWFILE"
log() { echo "[profile $(date -u +%H:%M:%S)] $*" >&2; }
drop_caches() { sync; echo 3 > /proc/sys/vm/drop_caches 2>/dev/null || true; }

"$SHARED_BENCH/make-corpus.sh" || { log "make-corpus failed"; exit 1; }
BYTES=$(grep '^regular_bytes=' "$CORPUS.stats" | cut -d= -f2)
rm -rf "$REPO" "$CACHE"; mkdir -p "$CACHE"
export CABINET_PASSWORD_FILE=$PWFILE CABINET_CACHE_DIR=$CACHE
"$CABINET" --cache-dir "$CACHE" init --repo "$REPO" > "$OUT/init.out" 2>&1 || { log "init failed: $(tail -5 "$OUT/init.out")"; exit 1; }
drop_caches
log "backup of $CORPUS with profiles into $OUT"
CABINET_CPUPROFILE=$OUT/cpu.pprof CABINET_MEMPROFILE=$OUT/mem.pprof \
  /usr/bin/time -v -o "$OUT/backup.timev" "$CABINET" --cache-dir "$CACHE" backup --repo "$REPO" --device bench "$CORPUS" \
  > "$OUT/backup.out" 2> "$OUT/backup.err"
rc=$?
[[ $rc == 0 ]] || log "backup exited $rc: $(tail -5 "$OUT/backup.err")"
wall=$(awk -F': ' '/Elapsed/ { n = split($NF, p, ":"); w = 0; for (i = 1; i <= n; i++) w = w * 60 + p[i]; printf "%.2f", w }' "$OUT/backup.timev")
cpu=$(awk -F': ' '/User time/ { u = $2 } /System time/ { s = $2 } END { printf "%.2f", u + s }' "$OUT/backup.timev")
usr=$(awk -F': ' '/User time/ { printf "%.2f", $2 }' "$OUT/backup.timev")
sys=$(awk -F': ' '/System time/ { printf "%.2f", $2 }' "$OUT/backup.timev")
rss=$(awk -F': ' '/Maximum resident/ { printf "%.1f", $2 / 1024 }' "$OUT/backup.timev")
repo=$(du -sb "$REPO" | awk '{ printf "%.1f", $1 / 1048576 }')
mbs=$(awk -v b="$BYTES" -v w="$wall" 'BEGIN { if (w > 0) printf "%.1f", b / 1e6 / w; else print "NA" }')

pp() { go tool pprof "$@" 2>/dev/null; }
if [[ -s $OUT/cpu.pprof ]]; then
  pp -top -nodecount=40 "$CABINET" "$OUT/cpu.pprof" > "$OUT/cpu-top.txt"
  pp -top -cum -nodecount=40 "$CABINET" "$OUT/cpu.pprof" > "$OUT/cpu-top-cum.txt"
else
  echo "no CPU profile written (CABINET_CPUPROFILE not supported by this binary?)" | tee "$OUT/cpu-top.txt" > "$OUT/cpu-top-cum.txt"
fi
if [[ -s $OUT/mem.pprof ]]; then
  pp -top -nodecount=25 -sample_index=alloc_space "$CABINET" "$OUT/mem.pprof" > "$OUT/mem-alloc-top.txt"
  pp -top -nodecount=25 -sample_index=inuse_space "$CABINET" "$OUT/mem.pprof" > "$OUT/mem-inuse-top.txt"
else
  echo "no memory profile written (CABINET_MEMPROFILE not supported by this binary?)" | tee "$OUT/mem-alloc-top.txt" > "$OUT/mem-inuse-top.txt"
fi

# stage share: CPU samples whose stack passes through a function matching the regexp
STAGES=(
  "scan (walk, lstat, readdir)|Lstat|lstat|fstatat|ReadDir|readdir|Getdents|getdents|Readdirnames"
  "read (file reads)|os\\.\\(\\*File\\)\\.Read|os\\.\\(\\*File\\)\\.ReadAt|syscall\\.Pread|unix\\.Pread|syscall\\.Mmap"
  "chunk (content-defined boundary scan)|(?i)chunker\\..*\\.cut$|fastcdc|gearhash|rabin|buzhash|boundary"
  "hash (content ids)|sha256|blake2|blake3|hmac|xxhash|highwayhash|sha512"
  "compress (zstd/lz4/...)|zstd|lz4|flate|snappy|/s2\\.|huff0|fse\\."
  "encrypt (AEAD)|aes|gcm|GCM|chacha|poly1305|xorKeyStream|cipher\\."
  "write (files, fsync)|os\\.\\(\\*File\\)\\.Write|syscall\\.write$|syscall\\.Write$|Fsync|fsync|Fdatasync|Pwrite|unix\\.Write|Rename"
  "runtime: GC|runtime\\.gcBgMarkWorker|runtime\\.gcDrain|runtime\\.scanobject|runtime\\.gcAssist|runtime\\.bgsweep"
  "runtime: malloc|runtime\\.mallocgc"
  "runtime: scheduler/idle|runtime\\.schedule|runtime\\.findRunnable|runtime\\.mcall|runtime\\.park_m"
  "register/index (bbolt)|bbolt|bolt\\."
)
{
  echo "### Profile run $RUN_ID, $(date -u +%F)"
  echo
  echo "- \`cabinet backup\` (initial, cold cache) of $CORPUS: $BYTES bytes in ${wall} s = ${mbs} MB/s;" \
       "CPU ${cpu} s (user ${usr}, sys ${sys}) on $(nproc) cores = $(awk -v c="$cpu" -v w="$wall" -v n="$(nproc)" 'BEGIN { if (w > 0) printf "%.0f", 100 * c / w / n; else print "NA" }') % of the machine;" \
       "peak RSS ${rss} MiB; repository ${repo} MiB; exit status $rc"
  echo "- \`cabinet version\`: $("$CABINET" version 2>&1 | head -1); built from commit $BENCH_COMMIT"
  echo
  if [[ -s $OUT/cpu.pprof ]]; then
    total=$(pp -top -nodecount=1 "$CABINET" "$OUT/cpu.pprof" | awk '/Showing nodes accounting for/ { print $8 }' | head -1)
    echo "CPU samples in the profile: ${total:-?}. Share of samples whose stack passes through each stage (stages overlap where one calls another):"
    echo
    echo "| stage | CPU s | % of samples | functions matched (regexp) |"
    echo "|---|---:|---:|---|"
    for st in "${STAGES[@]}"; do
      name=${st%%|*}; re=${st#*|}
      # with every node shown, "Showing nodes accounting for X" is the focused samples' total
      read -r foc pct < <(pp -top -nodecount=1000000 -nodefraction=0 -edgefraction=0 -focus="$re" "$CABINET" "$OUT/cpu.pprof" |
        awk '/Showing nodes accounting for/ { print tosec($5), $6 } function tosec(v, m) {
          sub(/,$/, "", v); m = 1
          if (v ~ /ms$/) m = 0.001; else if (v ~ /us$/) m = 1e-6; else if (v ~ /ns$/) m = 1e-9; else if (v ~ /mins$/) m = 60; else if (v ~ /hrs$/) m = 3600
          gsub(/[a-z]+$/, "", v); return sprintf("%.2f", v * m) }' | head -1)
      echo "| $name | ${foc:-0} | ${pct:-0%} | \`${re//|/\\|}\` |"
    done
    echo
  fi
  echo "<details><summary>go tool pprof -top (CPU, flat)</summary>"; echo; echo '```'; head -50 "$OUT/cpu-top.txt"; echo '```'; echo "</details>"
  echo
  echo "<details><summary>go tool pprof -top -cum (CPU)</summary>"; echo; echo '```'; head -50 "$OUT/cpu-top-cum.txt"; echo '```'; echo "</details>"
  echo
  echo "<details><summary>go tool pprof -top -sample_index=alloc_space / inuse_space (memory)</summary>"; echo; echo '```'
  head -35 "$OUT/mem-alloc-top.txt"; echo; head -35 "$OUT/mem-inuse-top.txt"; echo '```'; echo "</details>"
} > "$OUT/summary.md"

if [[ $PROFILE_LIMITS == 1 ]]; then
  log "measuring the machine's limits"
  {
    echo
    echo "Machine limits (same machine, page cache dropped before each disk read):"
    echo
    echo "| limit | figure |"
    echo "|---|---:|"
    drop_caches
    t0=$(date +%s.%N); cat "$CORPUS/big/random-1g.bin" > /dev/null; t1=$(date +%s.%N)
    n=$(stat -c %s "$CORPUS/big/random-1g.bin")
    echo "| disk: cold sequential read of big/random-1g.bin | $(awk -v n="$n" -v a="$t0" -v b="$t1" 'BEGIN { printf "%.0f MB/s", n / 1e6 / (b - a) }') |"
    drop_caches
    t0=$(date +%s.%N); find "$CORPUS" -type f -print0 | xargs -0 -P 8 -n 256 cat > /dev/null; t1=$(date +%s.%N)
    echo "| disk: cold read of the whole corpus, 8 readers ($BYTES bytes) | $(awk -v n="$BYTES" -v a="$t0" -v b="$t1" 'BEGIN { printf "%.2f s = %.0f MB/s", b - a, n / 1e6 / (b - a) }') |"
    drop_caches
    t0=$(date +%s.%N); find "$CORPUS" -printf '%s\n' > /dev/null; t1=$(date +%s.%N)
    echo "| disk: cold walk with stat (find -printf %s) | $(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.2f s", b - a }') |"
    t0=$(date +%s.%N); dd if=/dev/zero of=/tmp/bench-repos/ddtest bs=1M count=1024 conv=fsync status=none; t1=$(date +%s.%N)
    rm -f /tmp/bench-repos/ddtest
    echo "| disk: sequential write of 1 GiB with fsync | $(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.0f MB/s", 1073741824 / 1e6 / (b - a) }') |"
    echo "| CPU: cores | $(nproc) |"
    echo
    (cd "$ROOT" && go run bench/limits/main.go 2>&1) || echo "(bench/limits failed)"
  } >> "$OUT/summary.md"
fi
cat "$OUT/summary.md"
python3 - "$OUT/summary.md" "$ROOT/bench/RESULTS.md" "$ROOT" <<'EOF'
import os, sys
root = sys.argv[3]
text = open(sys.argv[1]).read().rstrip("\n") + "\n"
text = text.replace(root + "/", "./").replace(root, ".")   # no machine paths in RESULTS.md
path = sys.argv[2]
begin, end = "<!-- BEGIN bench:profile -->", "<!-- END bench:profile -->"
old = open(path).read() if os.path.exists(path) else "# Benchmark results\n"
block = begin + "\n" + text + end
if begin in old and end in old:
    new = old[:old.index(begin)] + block + old[old.index(end) + len(end):]
else:
    new = old.rstrip("\n") + "\n\n" + block + "\n"
open(path, "w").write(new)
EOF
rm -rf "$REPO" "$CACHE"
exit $rc
