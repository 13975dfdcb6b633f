#!/usr/bin/python3
"""The PyTorch side of `climseg bench train/predict`: the same CGNet, shapes, optimizer and loss,
timed the same way (median of steps after warm-up), with peak RSS. Prints one JSON line.

  /usr/bin/python3 scripts/peer/torch_cgnet.py train   --grid 192x288 --batch 4 --steps 5 --threads 2
  /usr/bin/python3 scripts/peer/torch_cgnet.py predict --grid 768x1152 --batch 1 --steps 3 --threads 2
"""
import argparse
import json
import os
import resource
import statistics
import sys
import time

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "tests", "reference", "nets"))
from cgnet_torch import CGNet  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("mode", choices=["train", "predict"])
    ap.add_argument("--grid", default="192x288")
    ap.add_argument("--batch", type=int, default=4)
    ap.add_argument("--steps", type=int, default=5)
    ap.add_argument("--warmup", type=int, default=1)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--channels", type=int, default=4)
    ap.add_argument("--classes", type=int, default=3)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    H, W = (int(v) for v in a.grid.split("x"))
    model = CGNet(classes=a.classes, channels=a.channels)
    x = torch.randn(a.batch, a.channels, H, W)
    times = []
    if a.mode == "train":
        model.train()
        opt = torch.optim.Adam(model.parameters(), lr=1e-3)
        y = torch.randint(0, a.classes, (a.batch, H, W))
        weights = torch.tensor([0.35, 1.6, 1.2][: a.classes])
        for s in range(a.warmup + a.steps):
            t = time.perf_counter()
            opt.zero_grad(set_to_none=True)
            loss = F.cross_entropy(model(x), y, weight=weights)
            loss.backward()
            opt.step()
            if s >= a.warmup:
                times.append(time.perf_counter() - t)
    else:
        model.eval()
        with torch.no_grad():
            for s in range(a.warmup + a.steps):
                t = time.perf_counter()
                torch.softmax(model(x), 1)
                if s >= a.warmup:
                    times.append(time.perf_counter() - t)
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    print(json.dumps({"peer": "pytorch " + torch.__version__, "mode": a.mode, "grid": a.grid, "batch": a.batch,
                      "threads": a.threads, "median_s": statistics.median(times), "min_s": min(times),
                      "peak_rss_mb": rss_mb}))


if __name__ == "__main__":
    main()
