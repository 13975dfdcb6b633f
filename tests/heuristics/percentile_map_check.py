#!/usr/bin/python3
"""numpy reference for `climseg stats --percentile-map` and the wave labels it drives.

usage: percentile_map_check.py WAVES_DIR MAP.nc [LABEL_DIR]
Checks hs_p90 and hs_p99_5 of MAP.nc against np.nanpercentile over time of hs in WAVES_DIR/*.nc
(fill values as NaN; cells never valid must be fill values in the map), to 1e-6 relative; with LABEL_DIR,
that every class-3 cell of the label files has hs above its cell's hs_p90. Exit status 0 when all hold.
"""
import glob, sys, netCDF4, numpy as np
files = sorted(glob.glob(sys.argv[1] + "/*.nc"))
hs = np.concatenate([netCDF4.Dataset(f)["hs"][:].astype(np.float64).filled(np.nan) for f in files])
with netCDF4.Dataset(sys.argv[2]) as m:
    worst = 0.0
    for p, name in ((90, "hs_p90"), (99.5, "hs_p99_5")):
        ref = np.nanpercentile(hs, p, axis=0)
        got = np.ma.filled(np.ma.asarray(m[name][0]).astype(np.float64), np.nan)
        both = np.isfinite(ref)
        assert (np.isfinite(got) == both).all(), name
        worst = max(worst, float(np.max(np.abs(got[both] - ref[both]) / np.maximum(1e-6, np.abs(ref[both])))))
    p90 = np.ma.filled(np.ma.asarray(m["hs_p90"][0]).astype(np.float64), np.nan)
print("max relative difference %.3g over %d steps" % (worst, hs.shape[0]))
ok = worst < 1e-6
if len(sys.argv) > 3:
    labels = []
    for f in files:
        name = f.split("/")[-1].replace(".ww3.", ".cam.h2.")[:-3] + ".labels.nc"
        with netCDF4.Dataset(sys.argv[3] + "/" + name) as lf:
            labels.append(np.asarray(lf["LABELS"][:]))
    labels = np.concatenate(labels)
    waves = labels == 3
    print("wave cells %d, all above their p90: %s" % (int(waves.sum()), bool((hs[waves] > p90[None].repeat(hs.shape[0], 0)[waves]).all())))
    ok = ok and waves.sum() > 0 and bool((hs[waves] > np.broadcast_to(p90, hs.shape)[waves]).all())
sys.exit(0 if ok else 1)
