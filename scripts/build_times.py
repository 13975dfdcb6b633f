#!/usr/bin/env python3
"""Where a Ninja build's time went, from its .ninja_log (docs/development.md#build-time).

    scripts/build_times.py build/test            # totals per kind and per target, the 25 slowest jobs
    scripts/build_times.py build/test --top 60

Meaningful for a build from scratch without cache hits (CCACHE_DISABLE=1): ccache hits take no
time. Each job's wall time is what Ninja recorded from its start to its end; with -j2 on two cores
the summed job time is about twice the wall time.
"""
import argparse
import collections
import os
import re
import sys


def jobs(log):
    last = {}  # a job rerun later (incremental build) counts once, with its last time
    with open(log) as f:
        for line in f:
            if line.startswith("#"):
                continue
            start, end, _, out, _ = line.rstrip("\n").split("\t")
            last[out] = (int(start), int(end), out)
    # A job with several outputs (a link and its gtest discovery file) has one line per output.
    seen = {}
    for s, e, out in last.values():
        seen.setdefault((s, e), out)
    return [(s, e, out) for (s, e), out in seen.items()]


def kind(out):
    if out.endswith(".gch") or out.endswith(".pch"):
        return "precompiled header"
    if out.endswith(".o"):
        return "compile " + ("tests" if out.startswith("tests/") else "executable" if out.startswith("apps/") else "libraries")
    if out.endswith(".a"):
        return "archive"
    return "link and other"


def target(out):
    m = re.search(r"CMakeFiles/([^/]+)\.dir/", out)
    return m.group(1) if m else os.path.basename(out)


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("build_dir")
    p.add_argument("--top", type=int, default=25, help="how many of the slowest jobs to list")
    a = p.parse_args()
    log = os.path.join(a.build_dir, ".ninja_log")
    if not os.path.exists(log):
        sys.exit(f"build_times.py: error: {log} not found (a Ninja build folder: configure with -G Ninja)")
    rows = jobs(log)
    if not rows:
        sys.exit(f"build_times.py: error: {log} lists no jobs")
    span = (max(e for _, e, _ in rows) - min(s for s, _, _ in rows)) / 1000
    total = sum(e - s for s, e, _ in rows) / 1000
    print(f"{len(rows)} jobs, {total:.0f} s summed, {span:.0f} s from the first start to the last end")
    by_kind = collections.Counter()
    count = collections.Counter()
    for s, e, out in rows:
        by_kind[kind(out)] += (e - s) / 1000
        count[kind(out)] += 1
    for k, v in by_kind.most_common():
        print(f"  {v:7.1f} s  {count[k]:4d} jobs  {k}")
    by_target = collections.Counter()
    for s, e, out in rows:
        if out.endswith(".o") or out.endswith(".gch"):
            by_target[target(out)] += (e - s) / 1000
    print("compile time per target:")
    for t, v in by_target.most_common(a.top):
        print(f"  {v:7.1f} s  {t}")
    print(f"the {a.top} slowest jobs:")
    for s, e, out in sorted(rows, key=lambda r: r[0] - r[1])[: a.top]:
        print(f"  {(e - s) / 1000:7.1f} s  {out}")


if __name__ == "__main__":
    main()
