#!/usr/bin/env bash
# Persona step of make demo: capture the settings of a sample home (user ann),
# apply them to another home (user bob) and show the remapped result.
# Called by demo.sh with BIN (the cabinet binary) and WORK (a scratch folder).
set -euo pipefail
OLD=$WORK/home/ann
NEW=$WORK/home/bob
mkdir -p "$OLD/.ssh" "$OLD/.config/git" "$OLD/.config/gtk-3.0" "$NEW"
printf 'export EDITOR=vim\nexport PATH="%s/bin:$PATH"\nalias ll="ls -l"\n' "$OLD" > "$OLD/.bashrc"
printf '[user]\n\tname = Ann Example\n\temail = ann@example.org\n[core]\n\texcludesfile = %s/.gitignore_global\n' "$OLD" > "$OLD/.gitconfig"
printf 'Host build\n  HostName build.example.org\n  IdentityFile %s/.ssh/id_ed25519\n' "$OLD" > "$OLD/.ssh/config"
printf 'not a real key\n' > "$OLD/.ssh/id_ed25519"
chmod 700 "$OLD/.ssh"; chmod 600 "$OLD/.ssh/config" "$OLD/.ssh/id_ed25519"
printf 'file://%s/Documents Documents\nfile://%s/Projects\n' "$OLD" "$OLD" > "$OLD/.config/gtk-3.0/bookmarks"
PROFILE=$OLD/.mozilla/firefox/abcd1234.default-release
mkdir -p "$PROFILE"
printf '[Profile0]\nName=default-release\nIsRelative=1\nPath=abcd1234.default-release\nDefault=1\n' > "$OLD/.mozilla/firefox/profiles.ini"
printf 'user_pref("browser.download.dir", "%s/Downloads");\nuser_pref("browser.startup.homepage", "https://example.org");\n' "$OLD" > "$PROFILE/prefs.js"

echo "-- capture the persona of $OLD (user ann)"
"$BIN" persona capture --home "$OLD"
"$BIN" persona show latest | head -20 || true

echo "-- apply it to $NEW (user bob), dry run first"
"$BIN" persona apply --home "$NEW" --user bob --dry-run latest | tail -15 || true
"$BIN" persona apply --home "$NEW" --user bob latest | tail -15
echo "-- remapped files in the new home:"
grep -H "bob" "$NEW/.bashrc" "$NEW/.gitconfig" "$NEW/.ssh/config" "$NEW/.config/gtk-3.0/bookmarks" 2>/dev/null || true
find "$NEW" -name prefs.js -exec grep -H download {} \; || true
stat -c '%A %n' "$NEW/.ssh" "$NEW/.ssh/config" 2>/dev/null || true
