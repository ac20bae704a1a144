# shellcheck shell=bash
# cabinet-adapter.sh - sourced by ../shared/bench/anchors.sh (TOOL_ADAPTER=...) and by
# bench/scale.sh. Overrides the custom_* functions of anchors.sh for cabinet's CLI:
#
#   cabinet version
#   cabinet init    --repo REPO
#   cabinet backup  --repo REPO --device bench PATH...
#   cabinet restore --repo REPO --target DIR latest     -> DIR/<absolute PATH>
#   cabinet mount   --repo REPO --device bench MNT      (foreground until unmounted)
#                   corpus at MNT/bench/files/latest/<absolute PATH>
#   fusermount3 -u MNT
#
# The password file comes from $TOOL_PASSWORD_FILE (CABINET_PASSWORD_FILE), the local
# cache and register go in $TOOL_CACHE_DIR (global --cache-dir flag and CABINET_CACHE_DIR),
# a fresh, empty folder per run, so every run starts cold.
# Set by the caller: TOOL_CMD (path to the cabinet binary), REPO, CORPUS, PWFILE.
# Optional: CABINET_DEVICE (default "bench"), CABINET_EXTRA_BACKUP_ARGS (word-split).

CABINET_DEVICE=${CABINET_DEVICE:-bench}

# "cabinet 0.1.0-dev (repository format 3, ...)" -> "0.1.0-dev": the CSV field must hold no comma
custom_version() {
  "$TOOL_CMD" version 2>&1 | head -1 | awk '$1 == "cabinet" && NF > 1 { print $2; next } { gsub(/,/, ";"); print }'
}

custom_env() {
  export TOOL_PASSWORD_FILE=$PWFILE TOOL_REPO=$REPO
  TOOL_CACHE_DIR=$(tool_cache_dir custom)
  export TOOL_CACHE_DIR
  mkdir -p "$TOOL_CACHE_DIR"
  export CABINET_PASSWORD_FILE=$TOOL_PASSWORD_FILE CABINET_CACHE_DIR=$TOOL_CACHE_DIR
  unset CABINET_PASSWORD
}

# global flags go before the subcommand
cabinet_cmd() { CMD=("$TOOL_CMD" --cache-dir "$TOOL_CACHE_DIR" "$@"); }

custom_init() { cabinet_cmd init --repo "$REPO"; }
# shellcheck disable=SC2086  # CABINET_EXTRA_BACKUP_ARGS is a list of words on purpose
custom_backup() { cabinet_cmd backup --repo "$REPO" --device "$CABINET_DEVICE" ${CABINET_EXTRA_BACKUP_ARGS:-} "$CORPUS"; }
custom_restore() { cabinet_cmd restore --repo "$REPO" --target "$1" latest; }
custom_restored_root() { echo "$1$CORPUS"; }
custom_mount() { cabinet_cmd mount --repo "$REPO" --device "$CABINET_DEVICE" "$1"; }
custom_mount_corpus() { echo "$1/$CABINET_DEVICE/files/latest$CORPUS"; }
custom_umount() {
  if command -v fusermount3 > /dev/null 2>&1; then CMD=(fusermount3 -u "$1"); else CMD=(fusermount -u "$1"); fi
}
