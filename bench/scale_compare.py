#!/usr/bin/env python3
"""Table of a bench/scale.sh run: cabinet beside restic per layout, with cabinet / restic.

Usage: scale_compare.py scale-RUN.csv [--update RESULTS.md]   (section "scale")
Target (anchors-results.md): cabinet's peak RSS at most half of restic's in the same run.
"""
import argparse
import csv
import datetime
import os
import sys

ROWS = [  # label, step, field
    ("backup initial (s)", "backup1-initial", "wall_s"),
    ("backup initial peak RSS (MiB)", "backup1-initial", "rss_mib"),
    ("backup initial CPU (s)", "backup1-initial", "cpu_s"),
    ("repository (MiB)", "backup1-initial", "repo_mib"),
    ("backup no-change (s)", "backup2-nochange", "wall_s"),
    ("backup no-change peak RSS (MiB)", "backup2-nochange", "rss_mib"),
    ("mount ready (s)", "mount-ready", "wall_s"),
    ("mount ls of the flat directory (s)", "mount-ls-flat", "wall_s"),
    ("mount find over the snapshot (s)", "mount-find", "wall_s"),
    ("mount process peak RSS (MiB)", "mount-daemon", "rss_mib"),
]
RSS_TARGET = 0.5
LAYOUTS = {
    "empty": "1,000 dirs x 1,000 empty files + 1 dir of 100,000 (anchors-results.md)",
    "deep": "1-4 KiB files, 6 levels deep (fan-out 5, 64 files per leaf dir)",
    "flat": "1-4 KiB files, all in one directory",
}


def num(x):
    try:
        return float(x)
    except (TypeError, ValueError):
        return None


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("csv")
    ap.add_argument("--update")
    ap.add_argument("--tool", default="cabinet")
    a = ap.parse_args()
    rows = list(csv.DictReader(open(a.csv)))
    run_id = rows[0]["run_id"] if rows else "?"
    data, versions, layouts = {}, {}, []
    for r in rows:
        if r["layout"] not in layouts:
            layouts.append(r["layout"])
        data[(r["layout"], r["tool"], r["step"])] = r
        versions[r["tool"]] = r["version"]
    out = ["### Scale run %s, %s" % (run_id, datetime.date.today().isoformat()), ""]
    out.append("%s %s beside restic %s in the same run; page cache dropped before every step. "
               "ratio = %s / restic (below 1 is better). Target: peak RSS ratio <= %.1f." % (
                   a.tool, versions.get(a.tool, "(not run)"), versions.get("restic", "(not run)"),
                   a.tool, RSS_TARGET))
    if os.environ.get("BENCH_COMMIT"):
        out[-1] += " %s built from commit %s." % (a.tool, os.environ["BENCH_COMMIT"])
    cpu = os.path.splitext(a.csv)[0] + ".cpu"
    if os.path.exists(cpu):
        kv = dict(l.strip().split("=", 1) for l in open(cpu) if "=" in l)
        try:
            avail = float(kv["wall_s"]) * float(kv["cpus"])
            other = float(kv["other_cpu_s"])
            out.append("")
            out.append("Other processes on the machine used %.0f CPU s during the run (%.0f %% of the %.0f CPU s "
                       "available; the benchmark itself %s s)%s" % (
                           other, 100 * other / avail, avail, kv["bench_cpu_s"],
                           ": **figures disturbed by concurrent work**." if other / avail > 0.05 else "."))
        except (KeyError, ValueError, ZeroDivisionError):
            pass
    for lay in layouts:
        fs = data.get((lay, "fs", "fs-find"), {})
        out.append("")
        out.append("#### %s: %s" % (lay, LAYOUTS.get(lay, "")))
        out.append("")
        out.append("%s; cold `find -type f` on the tree itself: %s s" % (
            (fs.get("note") or "").replace("; the floor", ""), fs.get("wall_s", "NA")))
        out.append("")
        failures = {}
        out.append("| step | %s | restic | %s / restic | %s status |" % (a.tool, a.tool, a.tool))
        out.append("|---|---:|---:|---|---|")
        for label, step, field in ROWS:
            c = data.get((lay, a.tool, step))
            r = data.get((lay, "restic", step))
            if c is None and r is None:
                continue
            cv = num(c[field]) if c else None
            rv = num(r[field]) if r else None
            ratio = "NA"
            if cv is not None and rv:
                ratio = "%.2f" % (cv / rv)
                if field == "rss_mib":
                    ratio += " (target <=%.1f: %s)" % (RSS_TARGET, "met" if cv / rv <= RSS_TARGET else "MISSED")
            st = c["status"] if c else "missing"
            note = (c.get("note") or "") if c else ""
            if "files=" in note or "entries=" in note:
                st += "; " + note.split(";")[0]
            if c and c["status"] != "ok":
                failures[step] = "%s: %s" % (c["status"], note[:400])
                if step != "backup1-initial" or field != "wall_s":
                    ratio = "NA"
                st += " (see below)"
            fmt = "%.2f" if field == "wall_s" else "%.1f"
            val = fmt % cv if cv is not None else "NA"
            if c and c["status"] != "ok":
                val = "FAILED" + (" after %s" % val if cv is not None and field == "wall_s" else "")
            out.append("| %s | %s | %s | %s | %s |" % (
                label, val, fmt % rv if rv is not None else "NA", ratio, st))
        for step, msg in failures.items():
            out.append("")
            out.append("%s %s failed: %s" % (a.tool, step, msg))
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    text = ("\n".join(out) + "\n").replace(root + "/", "./").replace(root, ".")
    sys.stdout.write(text)
    if a.update:
        begin, end = "<!-- BEGIN bench:scale -->", "<!-- END bench:scale -->"
        old = open(a.update).read() if os.path.exists(a.update) else "# Benchmark results\n"
        block = begin + "\n" + text + end
        if begin in old and end in old:
            new = old[:old.index(begin)] + block + old[old.index(end) + len(end):]
        else:
            new = old.rstrip("\n") + "\n\n" + block + "\n"
        open(a.update, "w").write(new)


if __name__ == "__main__":
    main()
