#!/usr/bin/env python3
"""Print cabinet's figures from an anchors.sh run CSV with its ratio to restic and borg.

Usage:
  compare.py RUN.csv [--anchors DIR] [--tool cabinet] [--update RESULTS.md --section NAME]

restic and borg figures come from the same run when the run has them; otherwise (a
cabinet-only run, BENCH_TOOLS=cabinet) from the stored anchors in DIR (default
../shared/bench/results): the median of the restic 0.18.1 runs (run-r018-*.csv) and of
the borg runs (run-run*.csv). A ratio is cabinet / other: below 1 means cabinet is faster
(or smaller); "3.1x faster" is other / cabinet.
With --update, the table (with the date) replaces the section NAME of RESULTS.md, between
the markers <!-- BEGIN bench:NAME --> and <!-- END bench:NAME --> (appended if missing).
"""
import argparse
import csv
import datetime
import glob
import os
import re
import statistics
import sys

# (label, step(s), field, how, target vs restic (x faster), target vs borg)
# how: "wall" = wall seconds, "repo" = repo MiB, "rss" = peak RSS MiB (max over steps),
#      "mbs" = MB/s (higher is better)
ROWS = [
    ("backup initial (s)", ["backup1-initial"], "wall_s", 3.0, None),
    ("backup no-change (s)", ["backup2-nochange"], "wall_s", 5.0, None),
    ("backup no-change, median of rounds (s)", ["backup-nochange-rounds"], "wall_s", 5.0, None),
    ("backup day 2 (s)", ["backup3-day2"], "wall_s", 4.0, None),
    ("restore (s)", ["restore"], "wall_s", 2.5, None),
    ("restore into a new file system (s)", ["restore-fresh-fs"], "wall_s", 2.5, None),
    ("repository size after day 2 (MiB)", ["backup3-day2"], "repo_mib", None, None),
    ("mount ready (s)", ["mount-ready"], "wall_s", None, None),
    ("mount find (s)", ["mount-find"], "wall_s", 5.0, 3.0),
    ("mount du -sb (s)", ["mount-du-sb"], "wall_s", 5.0, 3.0),
    ("mount cat 1 GiB (s)", ["mount-cat-1g"], "wall_s", None, None),
    ("mount cat 1 GiB (MB/s)", ["mount-cat-1g"], "mb_s", None, None),
    ("peak RSS backup (MiB)", ["backup1-initial", "backup2-nochange", "backup3-day2"], "rss_mib", None, None),
    ("peak RSS restore (MiB)", ["restore"], "rss_mib", None, None),
    ("peak RSS mount daemon (MiB)", ["mount-daemon"], "rss_mib", None, None),
]
HIGHER_IS_BETTER = {"mb_s"}
# absolute targets from anchors-results.md
ABS_TARGETS = {
    "mount cat 1 GiB (MB/s)": (">=", 600.0),
    "peak RSS mount daemon (MiB)": ("<=", 150.0),
}
OK = ("ok", "ok(warn)", "identical", "rc=0")


def num(x):
    try:
        return float(x)
    except (TypeError, ValueError):
        return None


def load(paths):
    rows = []
    for p in paths:
        with open(p) as f:
            rows.extend(csv.DictReader(f))
    return rows


class Figures:
    """Figures of one tool: from one run, or the median over stored runs."""

    def __init__(self, rows, source):
        self.source = source
        self.version = rows[0]["version"] if rows else "?"
        self.by_step = {}
        for r in rows:
            self.by_step.setdefault(r["step"], []).append(r)

    def status(self, steps):
        bad = []
        for s in steps:
            rs = self.by_step.get(s)
            if not rs:
                bad.append("%s missing" % s)
                continue
            for r in rs:
                if r["status"] not in OK:
                    bad.append("%s %s" % (s, r["status"]))
        return "; ".join(sorted(set(bad)))

    def value(self, steps, field):
        vals = []
        for s in steps:
            v = [num(r[field]) for r in self.by_step.get(s, [])]
            v = [x for x in v if x is not None]
            if v:
                vals.append(statistics.median(v))
        if not vals:
            return None
        return max(vals) if len(vals) > 1 else vals[0]


def fmt(v, field):
    if v is None:
        return "NA"
    if field == "wall_s":
        return "%.2f" % v
    return "%.1f" % v


def ratio_cell(c, o, field, target):
    if c is None or o is None or c == 0 or o == 0:
        return "NA"
    r = c / o
    if abs(r - 1) < 0.02:
        words = "about equal"
    elif field in HIGHER_IS_BETTER:
        words = "%.1fx faster" % r if r >= 1 else "%.1fx slower" % (1 / r)
    elif field == "wall_s":
        words = "%.1fx faster" % (1 / r) if r <= 1 else "%.1fx slower" % r
    else:
        words = "%.1fx smaller" % (1 / r) if r <= 1 else "%.1fx larger" % r
    cell = "%.2f (%s)" % (r, words)
    if target:
        speedup = (r if field in HIGHER_IS_BETTER else 1 / r)
        cell += " target >=%gx: %s" % (target, "met" if speedup >= target else "MISSED")
    return cell


def sanitize(text, here):
    """Keep this machine's checkout path out of RESULTS.md: paths relative to the checkout."""
    root = os.path.dirname(here)
    shared = os.path.realpath(os.path.join(root, "..", "shared", "bench"))
    return text.replace(shared, "../shared/bench").replace(root + "/", "./").replace(root, ".")


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    ap = argparse.ArgumentParser()
    ap.add_argument("csv")
    ap.add_argument("--anchors", default=os.path.join(here, "..", "..", "shared", "bench", "results"))
    ap.add_argument("--tool", default="cabinet")
    ap.add_argument("--baseline", action="append", default=[],
                    help="run CSV(s) to take restic/borg from when this run lacks them (before the stored anchors)")
    ap.add_argument("--update")
    ap.add_argument("--section", default="full")
    ap.add_argument("--title", default="")
    a = ap.parse_args()

    run = load([a.csv])
    run_id = run[0]["run_id"] if run else os.path.basename(a.csv)
    quick = run_id.endswith("-quick")
    tools = {}
    for r in run:
        tools.setdefault(r["tool"], []).append(r)

    figs = {}
    for name in (a.tool, "restic", "borg"):
        if name in tools:
            figs[name] = Figures(tools[name], "this run")
    notes = []
    if a.baseline and ("restic" not in figs or "borg" not in figs):
        base = load(a.baseline)
        ids = sorted(set(r["run_id"] for r in base))
        for name in ("restic", "borg"):
            rows = [r for r in base if r["tool"] == name]
            if name not in figs and rows:
                figs[name] = Figures(rows, "baseline run(s) %s on this machine (median), not this run" % ", ".join(ids))
    if "restic" not in figs or "borg" not in figs:
        if quick:
            notes.append("restic/borg not in this run and the stored anchors are full-corpus figures: "
                         "no ratios for a QUICK=1 cabinet-only run.")
        else:
            r018 = sorted(glob.glob(os.path.join(a.anchors, "run-r018-*.csv")))
            old = sorted(glob.glob(os.path.join(a.anchors, "run-run*.csv")))
            if "restic" not in figs and r018:
                rows = [r for r in load(r018) if r["tool"] == "restic"]
                figs["restic"] = Figures(rows, "stored anchors: median of %s" % ", ".join(
                    os.path.basename(p) for p in r018))
            if "borg" not in figs and old:
                rows = [r for r in load(old) if r["tool"] == "borg"]
                figs["borg"] = Figures(rows, "stored anchors: median of %s" % ", ".join(
                    os.path.basename(p) for p in old))

    anchor = None
    r018 = sorted(glob.glob(os.path.join(a.anchors, "run-r018-*.csv")))
    if r018 and not quick and figs.get("restic") and figs["restic"].source == "this run":
        anchor = Figures([r for r in load(r018) if r["tool"] == "restic"], "stored anchors")
    out = []
    title = a.title or ("Quick run (QUICK=1, ~300 MB corpus: for tuning only)" if quick else "Full run")
    out.append("### %s: %s, %s" % (title, run_id, datetime.date.today().isoformat()))
    out.append("")
    for name in (a.tool, "restic", "borg"):
        if name in figs:
            extra = ""
            if name == a.tool and os.environ.get("BENCH_COMMIT"):
                extra = ", built from commit %s" % os.environ["BENCH_COMMIT"]
            out.append("- %s %s: %s%s" % (name, figs[name].version, figs[name].source, extra))
        else:
            out.append("- %s: not in this run" % name)
    md = os.path.splitext(a.csv)[0] + ".md"
    if os.path.exists(md):
        with open(md) as f:
            for line in f:
                if line.startswith("- host:") or line.startswith("- corpus:"):
                    out.append(line.rstrip())
    cpu = os.path.splitext(a.csv)[0] + ".cpu"
    if os.path.exists(cpu):
        kv = dict(l.strip().split("=", 1) for l in open(cpu) if "=" in l)
        try:
            avail = float(kv["wall_s"]) * float(kv["cpus"])
            other = float(kv["other_cpu_s"])
            out.append("- other processes on the machine used %.0f CPU s during the run (%.0f %% of the %.0f CPU s available; "
                       "the benchmark itself %s s, steal %s s)%s" % (
                           other, 100 * other / avail, avail, kv["bench_cpu_s"], kv["steal_s"],
                           ": **figures disturbed by concurrent work**" if other / avail > 0.05 else ""))
        except (KeyError, ValueError, ZeroDivisionError):
            pass
    out.extend("- " + n for n in notes)
    out.append("- ratio = %s / other: below 1 is better for times, sizes and RSS; for MB/s above 1 is better" % a.tool)
    c = figs.get(a.tool)
    r, b = figs.get("restic"), figs.get("borg")
    if anchor:
        out.append("- last two columns: restic 0.18.1's stored anchor (median of its four runs on a quiet machine, "
                   "anchors-results.md) and cabinet's ratio to it, for when this run was disturbed")
    out.append("")
    head = "| step | %s | restic | borg | %s / restic | %s / borg | %s status |" % ((a.tool,) * 4)
    rule = "|---|---:|---:|---:|---|---|---|"
    if anchor:
        head += " restic anchor | %s / restic anchor |" % a.tool
        rule += "---:|---|"
    out.append(head)
    out.append(rule)
    for label, steps, field, t_restic, t_borg in ROWS:
        cv = c.value(steps, field) if c else None
        failed = bool(c and c.status(steps))
        if failed:
            cv = None
        rv = r.value(steps, field) if r else None
        bv = b.value(steps, field) if b else None
        st = (c.status(steps) or "ok") if c else "not run"
        if label in ABS_TARGETS and cv is not None:
            op, lim = ABS_TARGETS[label]
            met = cv >= lim if op == ">=" else cv <= lim
            st += "; target %s%g: %s" % (op, lim, "met" if met else "MISSED")
        line = "| %s | %s | %s | %s | %s | %s | %s |" % (
            label, "FAILED" if failed else fmt(cv, field), fmt(rv, field), fmt(bv, field),
            ratio_cell(cv, rv, field, t_restic), ratio_cell(cv, bv, field, t_borg), st)
        if anchor:
            av = anchor.value(steps, field)
            line += " %s | %s |" % (fmt(av, field), ratio_cell(cv, av, field, t_restic))
        out.append(line)
    # correctness
    if c:
        ver = c.by_step.get("restore-verify", [{}])[0].get("status", "missing")
        find = c.by_step.get("mount-find", [{}])[0].get("note", "")
        m = re.search(r"files=(\S*) \(expect (\d+)\)", find or "")
        out.append("")
        out.append("Restore verify (diff -r against the day-2 corpus): **%s**." % ver)
        if m:
            out.append("Files listed through the mount: %s (expected %s)." % (m.group(1) or "none", m.group(2)))
        failed = [x for x in run if x["tool"] == a.tool and x["status"] not in OK]
        if failed:
            out.append("")
            out.append("Failed steps of %s: %s (logs under /tmp/bench-logs/%s/)." % (
                a.tool, ", ".join("%s (%s)" % (x["step"], x["status"]) for x in failed), run_id))
            logdir = os.path.join("/tmp/bench-logs", run_id)
            for x in failed:
                for suffix in (".cmd", ".err", ".out"):
                    p = os.path.join(logdir, "custom-%s%s" % (x["step"], suffix))
                    if x["step"] == "mount-ready":
                        p = os.path.join(logdir, "custom-mount-daemon%s" % suffix)
                    if suffix == ".out" and x["step"] != "mount-ready":
                        continue
                    if os.path.exists(p) and os.path.getsize(p) > 0:
                        lines = open(p, errors="replace").read().splitlines()[-6:]
                        out.append("")
                        out.append("%s (%s):" % (x["step"], os.path.basename(p)))
                        out.append("```")
                        out.extend(l[:300] for l in lines)
                        out.append("```")
    text = sanitize("\n".join(out) + "\n", here)
    sys.stdout.write(text)

    if a.update:
        begin, end = "<!-- BEGIN bench:%s -->" % a.section, "<!-- END bench:%s -->" % a.section
        old = open(a.update).read() if os.path.exists(a.update) else "# Benchmark results\n"
        block = begin + "\n" + text + end
        if begin in old and end in old:
            new = old[:old.index(begin)] + block + old[old.index(end) + len(end):]
        else:
            new = old.rstrip("\n") + "\n\n" + block + "\n"
        with open(a.update, "w") as f:
            f.write(new)


if __name__ == "__main__":
    main()
