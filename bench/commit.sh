#!/usr/bin/env bash
# commit.sh - the commit the cabinet sources are at (bench's own commits excluded), with
# "-dirty" when sources outside bench/ have uncommitted changes: the label of a run's binary.
cd "$(dirname "$0")/.." || exit 1
c=$(git log -1 --format=%h -- . ':(exclude)bench' ':(exclude)bench.mk' 2>/dev/null) || { echo unknown; exit 0; }
[[ -n $(git status --porcelain --untracked-files=no -- . ':(exclude)bench' ':(exclude)bench.mk' 2>/dev/null) ]] && c=$c-dirty
echo "${c:-unknown}"
