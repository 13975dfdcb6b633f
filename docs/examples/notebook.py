"""climseg from Python, as in a notebook (docs/python.md): open an archive with xarray, detect
cyclones and rivers with the physics detectors (climseg.detect: tracks and river tables as pandas
DataFrames), predict them with a model, compare the two (and with the labels the archive carries),
follow the detected objects in time (climseg.events), plot with matplotlib when it is installed.

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

# 3. Detect cyclones and rivers with the physics detectors (climseg label's, in memory: Dask chunks
#    are read one at a time, the cyclone tracks stitched over all of them).
labels, tracks, rivers = ds.climseg.detect()
print(f"detectors: {tracks['track_id'].nunique()} cyclone tracks, {len(rivers)} river objects")
print(tracks.groupby("track_id").agg(steps=("step", "size"), psl_min_pa=("psl_min_pa", "min")).to_string())

# 4. Compare the network with the detectors (class by class: share of each where the other sees it)
#    and with the labels the archive carries (the same scores as climseg evaluate).
det, net = labels["LABELS"].values, pred["class_mask"].values
for k, c in enumerate(classes):
    if k == 0 or not (det == k).any():
        continue
    both = np.logical_and(det == k, net == k).sum()
    print(f"{c}: detectors {int((det == k).sum())} cells, network {int((net == k).sum())}, "
          f"IoU {both / np.logical_or(det == k, net == k).sum():.3f}")
print(f"detectors and network agree on {100 * float((det == net).mean()):.1f}% of the cells")
if "LABELS" in ds:
    scores = climseg.evaluate(m, ds.load())
    px = scores["pixels"]
    print(f"against LABELS: mean IoU {px['mean_iou']:.3f}; " +
          ", ".join(f"{c} IoU {px['iou'][c]:.3f}" for c in classes if px["iou"][c] is not None))
events, ids = climseg.events(labels)
print(f"events: {len(events)} (climseg events' table), e.g.\n{events.head(3).to_string()}")

# 5. Plot the last step: TMQ, the network's classes (filled) and the detectors' (contours), the
#    cyclone tracks (matplotlib is optional).
try:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
except ImportError:
    print("matplotlib is not installed: no plot")
else:
    last = ds.isel(time=-1)
    fig, ax = plt.subplots(figsize=(9, 4.5))
    last["TMQ"].plot(ax=ax, cmap="Blues")
    pred["class_mask"].isel(time=-1).plot.contourf(ax=ax, levels=[0.5, 1.5, 2.5], colors=["red", "orange"],
                                                   alpha=0.3, add_colorbar=False)
    labels["LABELS"].isel(time=-1).plot.contour(ax=ax, levels=[0.5, 1.5, 2.5], colors=["darkred", "darkorange"])
    for _, t in tracks.groupby("track_id"):
        ax.plot(t["lon"], t["lat"], "k.-", lw=1)
    ax.set_title("TMQ; network (filled) and detectors (contours); cyclone tracks")
    fig.savefig(out / "last_step.png", dpi=80)
    print(f"plot: {out / 'last_step.png'}")
print(f"prediction: {out / 'prediction.nc'}")
