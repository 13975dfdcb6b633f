#!/usr/bin/python3
"""Independent reference for Hs from the WAVEWATCH III spectra in ../shared/data/real/wavespectra_ww3file.nc.

Hs = 4 sqrt(m0), m0 = double integral of efth(f, theta) over frequency (Hz) and direction (radians).
Computed here with numpy in float64: the direction integral by numpy.trapz over the circle closed by
repeating the first direction 360 degrees on, the frequency integral by numpy.trapz. Output (committed):
ww3_hs_reference.txt, one line per time and station: "time_index station_index hs_m".
Run: /usr/bin/python3 tests/reference/heuristics/ww3_hs_reference.py [path/to/wavespectra_ww3file.nc]
"""
import os
import sys

import netCDF4
import numpy as np

here = os.path.dirname(os.path.abspath(__file__))
path = sys.argv[1] if len(sys.argv) > 1 else os.path.join(here, "../../../../shared/data/real/wavespectra_ww3file.nc")
with netCDF4.Dataset(path) as nc:
    efth = np.asarray(nc["efth"][:], dtype=np.float64)  # (time, station, frequency, direction), m2 s rad-1
    freq = np.asarray(nc["frequency"][:], dtype=np.float64)
    dirs = np.asarray(nc["direction"][:], dtype=np.float64)

order = np.argsort(np.mod(dirs, 360.0))
theta = np.deg2rad(np.mod(dirs[order], 360.0))
theta_closed = np.concatenate([theta, [theta[0] + 2 * np.pi]])
e_sorted = efth[..., order]
e_closed = np.concatenate([e_sorted, e_sorted[..., :1]], axis=-1)
e_f = np.trapz(e_closed, theta_closed, axis=-1)  # (time, station, frequency)
m0 = np.trapz(e_f, freq, axis=-1)
hs = 4.0 * np.sqrt(m0)

with open(os.path.join(here, "ww3_hs_reference.txt"), "w") as out:
    out.write("# time_index station_index hs_m  (tests/reference/heuristics/ww3_hs_reference.py)\n")
    for t in range(hs.shape[0]):
        for s in range(hs.shape[1]):
            out.write("%d %d %.10g\n" % (t, s, hs[t, s]))
print(hs)
