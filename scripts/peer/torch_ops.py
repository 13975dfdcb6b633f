#!/usr/bin/python3
"""The PyTorch side of `climseg bench ops --peer`: the same op shapes, timed the same way (median
of `repeats` runs after one warm-up), printed as one JSON line per (op, shape, pass).

  /usr/bin/python3 scripts/peer/torch_ops.py CASES.json --threads 2 --repeats 5

CASES.json is a list of objects written by climseg: op, shape (the label to echo back), n, c, h, w,
cout, k, stride, dilation, pad ("zeros", "circular", or "spherical" ones). PyTorch has no padding
inside its convolutions other than zeros, so circular padding is F.pad(mode='circular') before an
unpadded convolution, exactly as ClimateNet's CGNet does it.
"""
import argparse
import json
import statistics
import time

import torch
import torch.nn.functional as F


def build(c):
    n, ch, h, w = c["n"], c["c"], c["h"], c["w"]
    x = torch.randn(n, ch, h, w, requires_grad=True)
    op = c["op"]
    p = (c["k"] - 1) // 2 * c["dilation"]
    if op in ("conv2d", "depthwise"):
        groups = ch if op == "depthwise" else 1
        cout = ch if op == "depthwise" else c["cout"]
        wt = (torch.randn(cout, ch // groups, c["k"], c["k"]) * 0.1).requires_grad_(True)
        if c["pad"] == "zeros":
            f = lambda: F.conv2d(x, wt, None, c["stride"], p, c["dilation"], groups)
        else:
            f = lambda: F.conv2d(F.pad(x, (p, p, p, p), mode="circular"), wt, None, c["stride"], 0, c["dilation"],
                                 groups)
        return x, [wt], f
    gamma = torch.ones(ch, requires_grad=True)
    beta = torch.zeros(ch, requires_grad=True)
    alpha = torch.full((ch,), 0.25, requires_grad=True)
    rm, rv = torch.zeros(ch), torch.ones(ch)
    if op == "batch_norm":
        return x, [gamma, beta], lambda: F.batch_norm(x, rm, rv, gamma, beta, True, 0.1, 1e-3)
    if op == "prelu":
        return x, [alpha], lambda: F.prelu(x, alpha)
    if op == "batch_norm_prelu":
        return x, [gamma, beta, alpha], lambda: F.prelu(F.batch_norm(x, rm, rv, gamma, beta, True, 0.1, 1e-3), alpha)
    raise SystemExit(f"torch_ops.py: unknown op {op}")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("cases")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--repeats", type=int, default=5)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    with open(a.cases) as fh:
        cases = json.load(fh)
    for c in cases:
        x, params, f = build(c)
        fwd, both = [], []
        with torch.no_grad():
            f()
        y = f()
        g = torch.ones_like(y)
        y.backward(g)
        for _ in range(a.repeats):
            with torch.no_grad():
                t = time.perf_counter()
                f()
                fwd.append(time.perf_counter() - t)
            x.grad = None
            for p in params:
                p.grad = None
            t = time.perf_counter()
            y = f()
            y.backward(g)
            both.append(time.perf_counter() - t)
        for name, ts in (("fwd", fwd), ("fwd+bwd", both)):
            print(json.dumps({"op": c["op"], "shape": c["shape"], "pass": name, "seconds": statistics.median(ts),
                              "peer": "pytorch " + torch.__version__}), flush=True)


if __name__ == "__main__":
    main()
