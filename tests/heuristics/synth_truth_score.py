#!/usr/bin/python3
"""Scores `climseg label` output against `climseg synth`'s planted truth, independently of the C++ test.

usage: synth_truth_score.py SYNTH_DIR IVT_LABEL_DIR [TMQ_LABEL_DIR]
Cyclones: planted points (synth_cyclones.csv) with a tc_tracks.csv point of the same step within 2
degrees of great-circle arc, and detected points with a planted one likewise. Rivers: IoU of class 2
(LABELS == 2) over all steps, against the synth files' LABELS.
"""
import csv
import glob
import os
import sys

import netCDF4
import numpy as np

synth, ivt_dir = sys.argv[1], sys.argv[2]
tmq_dir = sys.argv[3] if len(sys.argv) > 3 else None


def apart_deg(a, b):
    la1, lo1, la2, lo2 = map(np.deg2rad, (a[0], a[1], b[0], b[1]))
    c = np.sin(la1) * np.sin(la2) + np.cos(la1) * np.cos(la2) * np.cos(lo1 - lo2)
    return np.rad2deg(np.arccos(np.clip(c, -1.0, 1.0)))


def points(path):
    out = {}
    if os.path.exists(path):
        with open(path) as f:
            for r in csv.DictReader(f):
                out.setdefault(int(r["step"]), []).append((float(r["lat"]), float(r["lon"])))
    return out


truth = points(glob.glob(os.path.join(synth, "*_cyclones.csv"))[0])
found = points(os.path.join(ivt_dir, "tc_tracks.csv"))


def matched(a, b):
    n = m = 0
    for step, pts in a.items():
        for p in pts:
            n += 1
            m += any(apart_deg(p, q) <= 2.0 for q in b.get(step, []))
    return n, m


planted, planted_ok = matched(truth, found)
detected, detected_ok = matched(found, truth)


def iou(label_dir, cls):
    inter = union = 0
    for f in sorted(glob.glob(os.path.join(synth, "*.nc"))):
        with netCDF4.Dataset(f) as t, netCDF4.Dataset(
            os.path.join(label_dir, os.path.basename(f)[:-3] + ".labels.nc")
        ) as p:
            a = np.asarray(t["LABELS"][:]) == cls
            b = np.asarray(p["LABELS"][:]) == cls
            inter += int((a & b).sum())
            union += int((a | b).sum())
    return inter / max(union, 1)


line = "cyclone points %d/%d planted matched (%.1f%%), %d/%d detected matching (%.1f%%); IVT river IoU %.3f" % (
    planted_ok, planted, 100.0 * planted_ok / max(planted, 1), detected_ok, detected,
    100.0 * detected_ok / max(detected, 1), iou(ivt_dir, 2))
if tmq_dir:
    line += "; TMQ river IoU %.3f" % iou(tmq_dir, 2)
print(line)
