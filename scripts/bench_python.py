#!/usr/bin/python3
"""The Python module's overhead (docs/benchmarks.md#python): `m.predict(ds)` of ClimateNet's CGNet on
one in-memory 768x1152 step against `climseg bench predict` (the C++ forward + softmax alone, same
network and shape) and against the compiled predict call alone (`Model._m.predict`: the C++ path of
one step in memory, input copy, normalisation, forward, argmax, mask; no xarray), medians of --steps
calls after a warm-up, on --threads threads, --repeat times alternated. Prints one JSON line per
repetition. Run it under the build lock on a shared machine:

  PYTHONPATH=build/test/python /usr/bin/python3 scripts/bench_python.py --climseg build/test/bin/climseg \
      --model ../shared/data/climatenet/cgnet_climatenet.h5
"""
import argparse
import json
import os
import statistics
import subprocess
import time

import numpy as np
import xarray as xr

ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
ap.add_argument("--climseg", required=True, help="the climseg executable (for bench predict)")
ap.add_argument("--model", required=True, help="ClimateNet's weights (cgnet_climatenet.h5)")
ap.add_argument("--grid", default="768x1152")
ap.add_argument("--steps", type=int, default=5)
ap.add_argument("--threads", type=int, default=2)
ap.add_argument("--repeat", type=int, default=3, help="repetitions, Python and C++ alternated")
ap.add_argument("--peer", action="store_true", help="also PyTorch's forward of the same CGNet (bench predict --peer)")
args = ap.parse_args()
os.environ["OMP_NUM_THREADS"] = str(args.threads)

import climseg  # noqa: E402  (after OMP_NUM_THREADS)

H, W = map(int, args.grid.split("x"))
rng = np.random.default_rng(1)
lat = np.linspace(-90, 90, H)
lon = np.arange(W) * 360.0 / W
fields = {"TMQ": (20, 10, "kg m-2"), "U850": (0, 8, "m s-1"), "V850": (0, 8, "m s-1"), "PSL": (101000, 800, "Pa")}
ds = xr.Dataset({k: (("time", "lat", "lon"), (m + s * rng.standard_normal((1, H, W))).astype(np.float32),
                     {"units": u}) for k, (m, s, u) in fields.items()},
                coords={"time": [0.0], "lat": ("lat", lat, {"units": "degrees_north"}),
                        "lon": ("lon", lon, {"units": "degrees_east"})})
climseg.set_threads(args.threads)
climseg.set_log_level("warn")
model = climseg.load_model(args.model)
model.predict(ds)  # warm-up: the network compiled for the grid
das = [ds[k] for k in fields]
values = [np.ascontiguousarray(d.values) for d in das]
units = [d.attrs["units"] for d in das]


def median_of(f):
    times = []
    for _ in range(args.steps):
        t = time.perf_counter()
        f()
        times.append(time.perf_counter() - t)
    return statistics.median(times), min(times)


def cpp_forward():
    out = subprocess.run([args.climseg, "--threads", str(args.threads), "bench", "predict", "--model", "cgnet",
                          "--grid", args.grid, "--batch", "1", "--channels", "4", "--steps", str(args.steps)],
                         capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


for rep in range(args.repeat):
    py, py_min = median_of(lambda: model.predict(ds))
    core, core_min = median_of(lambda: model._m.predict(values, list(fields), units, "", ds.lat.values, ds.lon.values,
                                                        False, "running", False, "mask", "fp32"))
    cpp = cpp_forward()
    result = {"repetition": rep + 1, "grid": args.grid, "threads": args.threads, "steps": args.steps,
              "python_predict_median_s": round(py, 4), "python_predict_min_s": round(py_min, 4),
              "compiled_predict_median_s": round(core, 4), "compiled_predict_min_s": round(core_min, 4),
              "cpp_forward_median_s": round(cpp["median_s"], 4), "cpp_forward_min_s": round(cpp.get("min_s", 0), 4),
              "ratio": round(py / cpp["median_s"], 4), "ratio_to_compiled": round(py / core, 4)}
    if args.peer and rep == 0:
        # PyTorch's forward of the same CGNet (scripts/peer/torch_cgnet.py through bench predict --peer, which runs it
        # with glibc's allocator as it is and keeping freed memory and reports the faster: ../shared/PERFORMANCE.md).
        p = subprocess.run([args.climseg, "--threads", str(args.threads), "bench", "predict", "--model", "cgnet",
                            "--grid", args.grid, "--batch", "1", "--channels", "4", "--steps", str(args.steps),
                            "--peer"], capture_output=True, text=True, check=True)
        peer = json.loads(p.stdout.strip().splitlines()[-1])
        result["torch_forward_median_s"] = round(peer["peer_median_s"], 4)
        result.update({f"torch_{k}": v for k, v in peer.items() if k.startswith("peer_") and "keep_memory" in k
                       or k.endswith("_allocator")})
    print(json.dumps(result), flush=True)
