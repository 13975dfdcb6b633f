"""The figures of docs/training.md on `predict --batchnorm running|batch` with ClimateNet's weights.

  /usr/bin/python3 tests/reference/nets/batchnorm_figures.py input OUT.nc H W
      writes the deterministic input of make_cgnet_reference.py (TMQ kg m-2, U850/V850 m s-1,
      PSL Pa) at H x W as a CF NetCDF file for `climseg predict`;
  /usr/bin/python3 tests/reference/nets/batchnorm_figures.py fractions FILE:VAR ...
      prints the percentage of cells of class 1 (cyclone) and 2 (river) in each class map
      (class_mask of predict, LABELS of synth), counted with numpy;
  /usr/bin/python3 tests/reference/nets/batchnorm_figures.py torch WEIGHTS H W
      the same fractions from PyTorch's eval-mode and train-mode forward on that input.
"""
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(__file__))
from make_cgnet_reference import synthetic_input  # noqa: E402


def write_input(path, H, W):
    import netCDF4

    x = synthetic_input(H, W)
    with netCDF4.Dataset(path, "w") as d:
        d.createDimension("time", None)
        d.createDimension("lat", H)
        d.createDimension("lon", W)
        t = d.createVariable("time", "f8", ("time",))
        t.units = "days since 2000-01-01 00:00:00"
        t.calendar = "noleap"
        t[0] = 0
        lat = d.createVariable("lat", "f8", ("lat",))
        lat.units = "degrees_north"
        lat[:] = np.linspace(-90, 90, H)
        lon = d.createVariable("lon", "f8", ("lon",))
        lon.units = "degrees_east"
        lon[:] = np.arange(W) * 360.0 / W
        for k, (name, units) in enumerate([("TMQ", "kg m-2"), ("U850", "m s-1"), ("V850", "m s-1"), ("PSL", "Pa")]):
            v = d.createVariable(name, "f4", ("time", "lat", "lon"))
            v.units = units
            v[0] = x[k]


def fractions(items):
    import netCDF4

    for item in items:
        path, var = item.rsplit(":", 1)
        with netCDF4.Dataset(path) as d:
            m = np.ma.filled(d[var][:].astype(np.int64), -1)
        n = m.size
        print(f"{item}: cyclone {100.0 * (m == 1).sum() / n:.2f}%  river {100.0 * (m == 2).sum() / n:.2f}%  "
              f"({n} cells)")


def torch_fractions(weights, H, W):
    import torch
    from cgnet_torch import load_climatenet

    torch.set_num_threads(2)
    model, fields, norm = load_climatenet(weights)
    mean = np.array([norm[f]["mean"] for f in fields], dtype=np.float32)[:, None, None]
    std = np.array([norm[f]["std"] for f in fields], dtype=np.float32)[:, None, None]
    x = torch.from_numpy(((synthetic_input(H, W) - mean) / std)[None])
    with torch.no_grad():
        for mode in ("eval", "train"):
            getattr(model, mode)()
            p = torch.softmax(model(x), 1)[0].numpy().argmax(0)
            print(f"PyTorch {mode} mode, {H}x{W}: cyclone {100.0 * (p == 1).mean():.2f}%  "
                  f"river {100.0 * (p == 2).mean():.2f}%")


if __name__ == "__main__":
    if sys.argv[1] == "input":
        write_input(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]))
    elif sys.argv[1] == "fractions":
        fractions(sys.argv[2:])
    else:
        torch_fractions(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]))
