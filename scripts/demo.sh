#!/usr/bin/env bash
# The main job on the embedded default repository: back up a sample tree,
# list sessions, restore and compare, mount and copy a file out.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=$PWD/bin/cabinet
WORK=$(mktemp -d "${TMPDIR:-/tmp}/cabinet-demo.XXXXXX")
MNT=$WORK/mnt
MOUNT_PID=
cleanup() {
  if [ -n "$MOUNT_PID" ]; then
    kill -TERM "$MOUNT_PID" 2>/dev/null || true
    wait "$MOUNT_PID" 2>/dev/null || true
  fi
  mountpoint -q "$MNT" 2>/dev/null && { fusermount3 -uz "$MNT" 2>/dev/null || umount -l "$MNT" 2>/dev/null || true; }
  rm -rf "$WORK"
}
trap cleanup EXIT
step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
unset CABINET_REPOSITORY CABINET_PASSWORD_FILE CABINET_PASSWORD_COMMAND

step "cabinet version"
"$BIN" version

step "the embedded default repository"
if "$BIN" sessions >/dev/null 2>&1; then
  echo "the default repository exists already: using it"
else
  "$BIN" init
fi

step "a sample tree: $WORK/sample"
S=$WORK/sample
mkdir -p "$S/docs/notes" "$S/photos" "$S/empty dir"
for i in $(seq 1 200); do printf 'note %d: %s\n' "$i" "$(head -c 300 /dev/urandom | base64 -w0)" > "$S/docs/notes/note-$i.txt"; done
head -c 8388608 /dev/urandom > "$S/photos/big.raw"
: > "$S/docs/empty.txt"
printf 'hello from cabinet\n' > "$S/docs/hello.txt"
ln -s hello.txt "$S/docs/link-to-hello"
ln "$S/docs/hello.txt" "$S/docs/hard-link-to-hello"
printf 'name with spaces and ünïcødé\n' > "$S/docs/ünïcødé name.txt"
du -sh "$S"

step "cabinet backup (first session)"
"$BIN" backup "$S"
step "cabinet backup (nothing changed: no file is read again)"
"$BIN" backup "$S"
step "change one file, back up again"
echo "one more line" >> "$S/docs/hello.txt"
"$BIN" backup "$S"

step "cabinet sessions"
"$BIN" sessions

step "cabinet restore latest --target $WORK/restore"
"$BIN" restore --verify --target "$WORK/restore" latest
diff -r --no-dereference "$S" "$WORK/restore$S" && echo "restored tree is identical to the source (diff -r)"

step "cabinet check --read-data"
"$BIN" check --read-data

if "$BIN" mount --help >/dev/null 2>&1; then
  step "cabinet mount $MNT"
  mkdir -p "$MNT"
  "$BIN" mount "$MNT" &
  MOUNT_PID=$!
  for _ in $(seq 1 100); do grep -q " $MNT " /proc/self/mountinfo 2>/dev/null && break; sleep 0.1; done
  # The device whose latest session holds the sample (a default repository
  # used before may hold other devices too).
  DEV=
  for d in "$MNT"/*; do [ -e "$d/files/latest$S" ] && DEV=$(basename "$d"); done
  echo "devices: $(ls "$MNT")"
  echo "sessions of $DEV:"; ls -1 "$MNT/$DEV/files"
  ls -la "$MNT/$DEV/files/latest$S/docs" | head -8
  cp "$MNT/$DEV/files/latest$S/docs/hello.txt" "$WORK/copied-out.txt"
  echo "copied out of the mount: $(cat "$WORK/copied-out.txt" | tail -1)"
  kill -TERM "$MOUNT_PID"; wait "$MOUNT_PID"; MOUNT_PID=
  echo "unmounted"
fi

if "$BIN" persona --help >/dev/null 2>&1 && [ -x scripts/demo-persona.sh ]; then
  step "persona: capture one home, apply it to another user"
  BIN=$BIN WORK=$WORK scripts/demo-persona.sh
fi

step "done"
