"""Reference outputs of ClimateNet's pretrained CGNet (PyTorch, eval mode) on a deterministic
768x1152 input, for tests/nets/test_cgnet_climatenet.cpp.

Run:  /usr/bin/python3 tests/reference/nets/make_cgnet_reference.py ../shared/data/climatenet/cgnet_climatenet.h5
Writes tests/data/nets/cgnet_climatenet_ref.h5.

At 768x1152 the probabilities are kept every 4th pixel (prob_strided, rows and columns 0, 4, 8,
...: phases 0 and 4 of CGNet's x8 upsampling) and at full resolution in WINDOWS, 48x48 blocks
(group windows/r<row>_c<col>, (3, 48, 48)) that cover every upsampling phase, both poles, the
longitude seam and a cyclone; tests/nets/test_climatenet_predict.cpp reads them.

The input uses only + - * / and max in float64, then a cast to float32, so C++ regenerates it
bit for bit (see synthetic_input in the test); the test also checks channel sums stored here.
"""
import os
import sys

import h5py
import numpy as np
import torch

sys.path.insert(0, os.path.dirname(__file__))
from cgnet_torch import load_climatenet  # noqa: E402

# (x0, y0, radius, hemisphere sign) in the unit coordinates below: x latitude-like in [-1, 1],
# y longitude-like in [-1, 1).
STORMS = [(0.18, -0.62, 0.035, 1.0), (0.25, 0.10, 0.030, 1.0), (-0.16, 0.44, 0.040, -1.0),
          (0.12, 0.81, 0.025, 1.0), (-0.22, -0.30, 0.030, -1.0)]
# Atmospheric rivers: a ridge along x = a*y + b for |y - yc| < half_length, of width w.
# Full-resolution 48x48 windows at 768x1152, (first row, first column): the south pole at the
# longitude seam, the north pole at the seam's other side, and storm 0 (rows ~452, columns ~219).
WINDOWS = [(0, 0), (720, 1104), (429, 195)]
RIVERS = [(0.55, 0.05, -0.45, 0.22, 0.025), (-0.40, -0.55, 0.60, 0.20, 0.03)]


def synthetic_input(H, W):
    i = np.arange(H, dtype=np.float64)[:, None]
    j = np.arange(W, dtype=np.float64)[None, :]
    x = (2.0 * i - (H - 1)) / (H - 1) + 0.0 * j
    y = (2.0 * j - W) / W + 0.0 * i
    c = 1.0 - x * x
    tmq = 55.0 * c * c * c + 5.0
    u = 30.0 * x * x * c - 8.0 * c
    v = 3.0 * c * y
    psl = 101325.0 - 1500.0 * x * x + 600.0 * x * x * x * x
    for (x0, y0, r, h) in STORMS:
        dx = x - x0
        dy = (y - y0) * 2.0
        g = 1.0 / (1.0 + (dx * dx + dy * dy) / (r * r))
        tmq = tmq + 25.0 * g
        psl = psl - 4000.0 * g
        u = u - 24.0 * h * dx / r * g * g
        v = v + 24.0 * h * dy / r * g * g
    for (a, b, yc, half, w) in RIVERS:
        d = (x - (a * y + b)) / w
        t = (y - yc) / half
        along = np.maximum(0.0, 1.0 - t * t)
        ridge = along / (1.0 + d * d)
        tmq = tmq + 20.0 * ridge
        v = v + 12.0 * ridge
    return np.stack([tmq, u, v, psl]).astype(np.float32)  # (4, H, W): TMQ, U850, V850, PSL


def main():
    weights = sys.argv[1]
    out = os.path.join(os.path.dirname(__file__), "..", "..", "data", "nets", "cgnet_climatenet_ref.h5")
    torch.set_num_threads(2)
    model, fields, norm = load_climatenet(weights)
    model.eval()
    assert fields == ["TMQ", "U850", "V850", "PSL"], fields
    mean = np.array([norm[f]["mean"] for f in fields], dtype=np.float32)[:, None, None]
    std = np.array([norm[f]["std"] for f in fields], dtype=np.float32)[:, None, None]
    with h5py.File(out, "w") as f:
        for (H, W, step) in [(768, 1152, 4), (96, 144, 1)]:
            raw = synthetic_input(H, W)
            x = torch.from_numpy(((raw - mean) / std)[None])
            with torch.no_grad():
                prob = torch.softmax(model(x), 1)[0].numpy()
            g = f.create_group(f"{H}x{W}")
            g.create_dataset("input_channel_sums", data=raw.astype(np.float64).sum(axis=(1, 2)))
            g.create_dataset("input_corner", data=raw[:, :3, :3])
            g.create_dataset("prob_strided", data=prob[:, ::step, ::step], compression="gzip")
            g.attrs["stride"] = step
            g.create_dataset("argmax", data=prob.argmax(0).astype(np.uint8), compression="gzip")
            if H == 768:
                for (r0, c0) in WINDOWS:
                    g.create_dataset(f"windows/r{r0}_c{c0}", data=prob[:, r0:r0 + 48, c0:c0 + 48],
                                     compression="gzip", shuffle=True)
            counts = np.bincount(prob.argmax(0).ravel(), minlength=3)
            print(f"{H}x{W}: class pixel counts {counts.tolist()}, max P(TC) {prob[1].max():.3f}, max P(AR) {prob[2].max():.3f}")
        f.attrs["source"] = "tests/reference/nets/make_cgnet_reference.py with torch " + torch.__version__


if __name__ == "__main__":
    main()
