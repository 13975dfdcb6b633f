#!/usr/bin/python3
"""Independent numpy references for the real-data detector tests (outputs committed beside this file).

merra_ivt_reference.txt: on MERRA-2 IVT of 2017-02-28 00Z, the number of cells with IVT >= 250
  kg m-1 s-1, their total area (exact spherical cell areas, R = 6371.22 km, cells bounded halfway
  between latitudes and clipped at the poles), and the number of 8-connected objects they form
  (scipy.ndimage.label, joined across the 180° seam); the same for IVT damped in the tropics by
  1 - exp(-lat^2 / 2 10^2), which is what the detector thresholds.
storm_reference.txt: for the January 1996 storm in geocat_Pstorm.cdf, at the steps where it is inside
  the domain (8..19), the grid point of the minimum of p over a 5x5-cell window (scipy
  minimum_filter) nearest the previous position: step, lat, lon (0..360), p (Pa).
Run: /usr/bin/python3 tests/reference/heuristics/real_references.py [../shared/data/real]
"""
import os
import sys

import netCDF4
import numpy as np
from scipy import ndimage

here = os.path.dirname(os.path.abspath(__file__))
real = sys.argv[1] if len(sys.argv) > 1 else os.path.join(here, "../../../../shared/data/real")
R = 6371.22

with netCDF4.Dataset(os.path.join(real, "climdeeplearn_IWV_IVT_MERRA_20170228_00.nc")) as nc:
    ivt = np.asarray(nc["IVT"][0], dtype=np.float64)
    lat = np.asarray(nc["lat"][:], dtype=np.float64)
    lon = np.asarray(nc["lon"][:], dtype=np.float64)
edges = np.concatenate([[-90.0], 0.5 * (lat[1:] + lat[:-1]), [90.0]])
dlon = np.deg2rad(360.0 / lon.size)
row_km2 = R * R * dlon * np.abs(np.sin(np.deg2rad(edges[1:])) - np.sin(np.deg2rad(edges[:-1])))
above = ivt >= 250.0
area = float((above * row_km2[:, None]).sum())


def count_objects(mask):
    """8-connected objects of mask, joined across the seam (last column next to the first)."""
    labels, n = ndimage.label(mask, structure=np.ones((3, 3)))
    parent = list(range(n + 1))

    def find(x):
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    W = mask.shape[1]
    for i in range(mask.shape[0]):
        for di in (-1, 0, 1):
            j = i + di
            if 0 <= j < mask.shape[0] and labels[i, W - 1] and labels[j, 0]:
                a, b = find(labels[i, W - 1]), find(labels[j, 0])
                if a != b:
                    parent[max(a, b)] = min(a, b)
    return len({find(k) for k in range(1, n + 1)})


objects = count_objects(above)
# The detector thresholds IVT damped in the tropics: IVT * (1 - exp(-lat^2 / (2 * 10^2))) >= 250.
damped = (ivt * (1.0 - np.exp(-lat[:, None] ** 2 / (2 * 10.0 ** 2)))) >= 250.0
with open(os.path.join(here, "merra_ivt_reference.txt"), "w") as out:
    out.write("cells_at_or_above_250 %d\n" % int(above.sum()))
    out.write("area_km2_at_or_above_250 %.6f\n" % area)
    out.write("objects_at_or_above_250 %d\n" % objects)
    out.write("damped_cells_at_or_above_250 %d\n" % int(damped.sum()))
    out.write("damped_objects_at_or_above_250 %d\n" % count_objects(damped))
print("MERRA: %d cells, %.0f km2, %d objects" % (above.sum(), area, objects))

with netCDF4.Dataset(os.path.join(real, "geocat_Pstorm.cdf")) as nc:
    p = nc["p"][:].filled(np.nan).astype(np.float64)
    plat = np.asarray(nc["lat"][:], dtype=np.float64)
    plon = np.asarray(nc["lon"][:], dtype=np.float64)
prev = (30.0, -87.5)
rows = []
for t in range(8, 20):
    a = np.nan_to_num(p[t], nan=1e9)
    mins = a == ndimage.minimum_filter(a, size=5, mode="nearest")
    cand = [(plat[i], plon[j], a[i, j]) for i, j in zip(*np.nonzero(mins)) if 1 <= i < plat.size - 1 and 1 <= j < plon.size - 1]
    best = min(cand, key=lambda c: (c[0] - prev[0]) ** 2 + (c[1] - prev[1]) ** 2)
    rows.append((t, best[0], best[1] % 360.0, best[2]))
    prev = (best[0], best[1])
with open(os.path.join(here, "storm_reference.txt"), "w") as out:
    out.write("# step lat lon p_pa  (tests/reference/heuristics/real_references.py)\n")
    for r in rows:
        out.write("%d %.2f %.2f %.2f\n" % r)
print("\n".join(str(r) for r in rows))
