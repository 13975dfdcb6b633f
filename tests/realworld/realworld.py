#!/usr/bin/python3
"""Runs the real-world variant cases (tests/realworld/cases_*.py) through every climseg command;
see harness.py for what is checked. Exit 0 all passed, 1 a failure, 77 skipped."""
import argparse
import glob
import importlib
import os
import shutil
import sys
import tempfile
import time
import traceback

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import harness  # noqa: E402  (exits 77 when numpy/netCDF4/xarray are missing)
from harness import CASES, COMMANDS, SKIP, Context, Runner  # noqa: E402


def load_cases():
    for path in sorted(glob.glob(os.path.join(HERE, "cases_*.py"))):
        importlib.import_module(os.path.splitext(os.path.basename(path))[0])


def main():
    ap = argparse.ArgumentParser(description=harness.__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--climseg", required=True)
    ap.add_argument("--data", required=True, help="the real files (../shared/data/real)")
    ap.add_argument("--model", required=True, help="a CGNet on TMQ,U850,V850,PSL (data/models)")
    ap.add_argument("--group", help="run this group's cases")
    ap.add_argument("--case", action="append", help="run only these cases")
    ap.add_argument("--keep", help="make the variants and outputs here and keep them")
    ap.add_argument("--table", help="append the results as markdown table rows to this file")
    ap.add_argument("--list", action="store_true")
    a = ap.parse_args()
    load_cases()
    cases = [c for c in CASES if (not a.group or c.group == a.group) and (not a.case or c.name in a.case)]
    if a.list:
        for c in cases:
            print(f"{c.group:10} {c.name:34} {c.made_with}")
        return 0
    if not cases:
        print(f"realworld: no case in group {a.group!r}")
        return 1
    for tool in ("cdo", "ncks", "ncrename", "ncatted"):
        if shutil.which(tool) is None:
            print(f"realworld: skipped: {tool} not installed (scripts/common.sh TEST_PACKAGES)")
            return SKIP
    if not os.path.isdir(a.data):
        print(f"realworld: skipped: {a.data} not found (the real files; CLIMSEG_SHARED_DATA)")
        return SKIP
    tmp = a.keep or tempfile.mkdtemp(prefix="climseg-realworld-")
    os.makedirs(tmp, exist_ok=True)
    ctx = Context(a.climseg, a.data, a.model, tmp)
    failed, rows = 0, []
    try:
        for c in cases:
            t0 = time.time()
            out = ctx.folder(c.name)
            try:
                v = c.make(ctx)
            except FileNotFoundError as e:
                print(f"SKIP {c.group}/{c.name}: {e} not found")
                continue
            except Exception as e:  # noqa: BLE001
                print(f"FAIL {c.group}/{c.name}: making the variant: {e}\n{traceback.format_exc()}")
                failed += 1
                continue
            if v.source is not None and not hasattr(v.source, "predicted"):
                # The source's own predictions and scores, for the comparisons.
                src_runner = Runner(ctx, c, v.source, ctx.folder(c.name + "_source"))
                src_runner.attempt("predict", src_runner.predict)
                src_runner.attempt("evaluate", src_runner.evaluate)
                v.source.predicted = getattr(src_runner, "predicted", None)
                v.source.scores = getattr(src_runner, "scores", None)
            r = Runner(ctx, c, v, out).all()
            bad = [k for k, (s, _) in r.items() if s != "ok"]
            print(f"{'FAIL' if bad else 'ok  '} {c.group}/{c.name} ({time.time() - t0:.1f} s)")
            for k in COMMANDS:
                s, text = r.get(k, ("FAIL", "not run"))
                if s != "ok" or text != "ok":
                    print(f"     {k:9} {s} {text}")
            failed += bool(bad)
            rows.append((c, r))
    finally:
        if not a.keep:
            shutil.rmtree(tmp, ignore_errors=True)
    if a.table:
        with open(a.table, "a") as f:
            for c, r in rows:
                cells = [r.get(k, ("FAIL", "not run"))[1].replace("|", "\\|").replace("\n", " ") for k in COMMANDS]
                cells = [x.replace(tmp.rstrip("/") + "/", "").replace(a.data.rstrip("/") + "/", "") for x in cells]
                f.write(f"| {c.group} | `{c.name}` | {c.made_with} | " + " | ".join(cells) + " |\n")
    print(f"realworld: {len(rows) - failed} of {len(rows)} cases passed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
