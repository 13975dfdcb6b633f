"""climseg from Python, as in a notebook (docs/python.md): open an archive with xarray, predict
cyclones and rivers with a model, compare with the labels the archive carries (and with the physics
detectors where climseg.detect is available), plot with matplotlib when it is installed.

    PYTHONPATH=build/test/python /usr/bin/python3 docs/examples/notebook.py \
        [--archive data/sample] [--model data/models/cgnet_synth_96x144.h5] [--out /tmp/climseg-notebook]

tests/python/test_examples.py runs it.
"""

import argparse
import pathlib

import numpy as np
import xarray as xr

import climseg

root = pathlib.Path(__file__).resolve().parents[2]
ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
ap.add_argument("--archive", default=str(root / "data" / "sample"), help="a NetCDF file or a folder of them")
ap.add_argument("--model", default=str(root / "data" / "models" / "cgnet_synth_96x144.h5"))
ap.add_argument("--out", default="/tmp/climseg-notebook")
args = ap.parse_args()
out = pathlib.Path(args.out)
out.mkdir(parents=True, exist_ok=True)

# 1. Open the archive lazily: one Dask chunk per file, time-ordered.
archive = pathlib.Path(args.archive)
files = sorted(archive.glob("*.nc")) if archive.is_dir() else [archive]
ds = xr.open_mfdataset(files, combine="by_coords", chunks={"time": 8})
print(f"{len(files)} file(s), {ds.sizes['time']} steps on a {ds.sizes['lat']}x{ds.sizes['lon']} grid")

# 2. Predict with a trained network: computed chunk by chunk, written as the command line writes it.
m = climseg.load_model(args.model)
print(m)
pred = ds.climseg.predict(m)
pred.to_netcdf(out / "prediction.nc")
pred = pred.load()
classes = m.classes
share = {c: float((pred["class_mask"] == k).mean()) for k, c in enumerate(classes)}
print("predicted area:", ", ".join(f"{c} {100 * v:.2f}%" for c, v in share.items()))

# 3. Compare with the labels the archive carries (the same scores as climseg evaluate) and, when the
#    physics detectors are available in Python, with what they find.
if "LABELS" in ds:
    scores = climseg.evaluate(m, ds.load())
    px = scores["pixels"]
    print(f"against LABELS: mean IoU {px['mean_iou']:.3f}; " +
          ", ".join(f"{c} IoU {px['iou'][c]:.3f}" for c in classes if px["iou"][c] is not None))
if hasattr(climseg, "detect"):
    det = ds.climseg.detect()
    agree = float((det["LABELS"].values == pred["class_mask"].values).mean())
    print(f"detectors and network agree on {100 * agree:.1f}% of the cells")

# 4. Plot the last step (matplotlib is optional).
try:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
except ImportError:
    print("matplotlib is not installed: no plot")
else:
    last = ds.isel(time=-1)
    fig, ax = plt.subplots(figsize=(8, 4))
    last["TMQ"].plot(ax=ax, cmap="Blues")
    pred["class_mask"].isel(time=-1).plot.contour(ax=ax, levels=[0.5, 1.5], colors=["red", "orange"])
    fig.savefig(out / "last_step.png", dpi=80)
    print(f"plot: {out / 'last_step.png'}")
print(f"prediction: {out / 'prediction.nc'}")
