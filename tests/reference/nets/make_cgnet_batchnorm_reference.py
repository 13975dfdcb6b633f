"""Reference outputs of ClimateNet's pretrained CGNet in PyTorch's train-mode forward (every
BatchNorm normalising with the statistics of the input itself), for `climseg predict --batchnorm
batch` in tests/nets/test_climatenet_predict.cpp. Same deterministic input as
make_cgnet_reference.py (whose eval-mode outputs are the `running` reference).

Run:  /usr/bin/python3 tests/reference/nets/make_cgnet_batchnorm_reference.py ../shared/data/climatenet/cgnet_climatenet.h5
Writes tests/data/nets/cgnet_climatenet_batchnorm_ref.h5: group 96x144 with prob (3, 96, 144),
argmax (96, 144) and the class pixel counts of both modes.
"""
import os
import sys

import h5py
import numpy as np
import torch

sys.path.insert(0, os.path.dirname(__file__))
from cgnet_torch import load_climatenet  # noqa: E402
from make_cgnet_reference import synthetic_input  # noqa: E402


def main():
    weights = sys.argv[1]
    out = os.path.join(os.path.dirname(__file__), "..", "..", "data", "nets", "cgnet_climatenet_batchnorm_ref.h5")
    torch.set_num_threads(2)
    model, fields, norm = load_climatenet(weights)
    assert fields == ["TMQ", "U850", "V850", "PSL"], fields
    mean = np.array([norm[f]["mean"] for f in fields], dtype=np.float32)[:, None, None]
    std = np.array([norm[f]["std"] for f in fields], dtype=np.float32)[:, None, None]
    H, W = 96, 144
    x = torch.from_numpy(((synthetic_input(H, W) - mean) / std)[None])
    with torch.no_grad():
        model.eval()
        running = torch.softmax(model(x), 1)[0].numpy()
        # train(): BatchNorm uses the batch's own statistics (and would update its running ones,
        # which nothing reads here); CGNet has no dropout, so nothing else changes.
        model.train()
        batch = torch.softmax(model(x), 1)[0].numpy()
    with h5py.File(out, "w") as f:
        g = f.create_group(f"{H}x{W}")
        g.create_dataset("prob", data=batch, compression="gzip", shuffle=True)
        g.create_dataset("argmax", data=batch.argmax(0).astype(np.uint8), compression="gzip")
        g.create_dataset("counts_batch", data=np.bincount(batch.argmax(0).ravel(), minlength=3))
        g.create_dataset("counts_running", data=np.bincount(running.argmax(0).ravel(), minlength=3))
        f.attrs["source"] = "tests/reference/nets/make_cgnet_batchnorm_reference.py with torch " + torch.__version__
    for name, p in (("running", running), ("batch", batch)):
        counts = np.bincount(p.argmax(0).ravel(), minlength=3)
        print(f"{H}x{W} {name}: class pixel counts {counts.tolist()}, max P(TC) {p[1].max():.3f}, "
              f"max P(AR) {p[2].max():.3f}")


if __name__ == "__main__":
    main()
