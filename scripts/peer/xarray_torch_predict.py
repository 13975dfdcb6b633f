#!/usr/bin/python3
"""The ClimateNet user's loop, the peer of `climseg bench archive --peer`: xarray opens each file of
an archive, numpy normalizes each step's channels with the checkpoint's normalization, PyTorch
(eval mode, --threads threads) runs ClimateNet's CGNet (tests/reference/nets/cgnet_torch.py) and
takes the argmax, and xarray writes each file's masks as a deflated class_mask. Prints one JSON
line: steps, setup_s (imports done, model loaded), loop_s (files opened to masks written),
loop_s_per_step, torch.

  /usr/bin/python3 scripts/peer/xarray_torch_predict.py --in ARCHIVE_DIR \
      --model ../shared/data/climatenet/cgnet_climatenet.h5 --out OUT_DIR --threads 2

Run it also with GLIBC_TUNABLES=glibc.malloc.mmap_threshold=4294967295:glibc.malloc.trim_threshold=4294967295
(freed memory kept: this VM's first-touch page faults are slow) and quote the faster run.
"""
import argparse
import glob
import json
import os
import sys
import time

t_start = time.perf_counter()
import numpy as np  # noqa: E402
import torch  # noqa: E402
import xarray as xr  # noqa: E402

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "tests", "reference", "nets"))
from cgnet_torch import load_climatenet  # noqa: E402


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--in", dest="inputs", required=True, help="a folder of NetCDF files (or one file)")
    ap.add_argument("--model", required=True, help="ClimateNet's weights (cgnet_climatenet.h5)")
    ap.add_argument("--out", required=True, help="output folder")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--complevel", type=int, default=1)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    files = sorted(glob.glob(os.path.join(a.inputs, "*.nc"))) if os.path.isdir(a.inputs) else [a.inputs]
    if not files:
        sys.exit(f"{a.inputs}: no .nc files")
    os.makedirs(a.out, exist_ok=True)
    model, fields, norm = load_climatenet(a.model)
    model.eval()
    mean = np.array([norm[f]["mean"] for f in fields], dtype=np.float32)[:, None, None]
    std = np.array([norm[f]["std"] for f in fields], dtype=np.float32)[:, None, None]
    setup = time.perf_counter() - t_start

    t0 = time.perf_counter()
    steps = 0
    for path in files:
        with xr.open_dataset(path) as ds:
            masks = []
            for t in range(ds.sizes["time"]):
                x = np.stack([ds[f].isel(time=t).values for f in fields]).astype(np.float32)
                x = (x - mean) / std
                with torch.no_grad():
                    prob = torch.softmax(model(torch.from_numpy(x[None])), 1)[0]
                masks.append(prob.argmax(0).numpy().astype(np.int8))
                steps += 1
            out = xr.Dataset({"class_mask": (("time", "lat", "lon"), np.stack(masks))},
                             coords={"time": ds["time"], "lat": ds["lat"], "lon": ds["lon"]})
            target = os.path.join(a.out, os.path.basename(path)[:-3] + ".mask.nc")
            out.to_netcdf(target, encoding={"class_mask": {"zlib": True, "complevel": a.complevel}})
    loop = time.perf_counter() - t0
    print(json.dumps({"steps": steps, "files": len(files), "threads": a.threads, "setup_s": round(setup, 4),
                      "loop_s": round(loop, 4), "loop_s_per_step": round(loop / max(steps, 1), 4),
                      "torch": torch.__version__,
                      "glibc_tunables": os.environ.get("GLIBC_TUNABLES", "")}))


if __name__ == "__main__":
    main()
