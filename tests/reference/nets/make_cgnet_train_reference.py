"""Reference training runs of a small CGNet (M=2, N=3, circular padding) in PyTorch with weighted
cross-entropy from deterministic initial weights: the loss at each of 6 Adam steps, and the losses
and final weights (running statistics included) of 3 small SGD-momentum steps (few and small,
so float32 rounding stays far below the 1e-4 tolerance: the network amplifies it quickly), for
tests/nets/test_cgnet_training.cpp.

Run:  /usr/bin/python3 tests/reference/nets/make_cgnet_train_reference.py
Writes tests/data/nets/cgnet_train_ref.h5.
"""
import os
import sys

import h5py
import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(__file__))
from cgnet_torch import CGNet  # noqa: E402

STEPS = 6
ADAM_LR = 2e-3
SGD_LR = 0.005
SGD_STEPS = 3
CLASS_WEIGHTS = [0.4, 1.7, 1.3]


def initial_value(name, shape):
    """Deterministic initial weights the C++ test regenerates (test_cgnet_training.cpp)."""
    n = int(np.prod(shape))
    phase = sum(name.encode()) * 0.01
    wave = np.sin(0.7 * np.arange(n, dtype=np.float64) + phase)
    if name.endswith("running_mean"):
        v = np.zeros(n)
    elif name.endswith("running_var"):
        v = np.ones(n)
    elif name.endswith("act.weight"):
        v = 0.25 + 0.1 * wave
    elif name.endswith("bn.weight") or name.endswith("bn.bias"):
        v = (1.0 if name.endswith("weight") else 0.0) + 0.1 * wave
    elif len(shape) >= 2:
        fan_in = int(np.prod(shape[1:]))
        v = wave * (1.5 / np.sqrt(fan_in))
    else:
        v = 0.05 * wave
    return v.astype(np.float32).reshape(shape)


def run(opt_name, x, labels):
    model = CGNet(classes=3, channels=4, M=2, N=3)
    init = {k: initial_value(k, v.shape) for k, v in model.state_dict().items() if "num_batches" not in k}
    missing, unexpected = model.load_state_dict({k: torch.from_numpy(v) for k, v in init.items()}, strict=False)
    assert not unexpected and all("num_batches" in k for k in missing)
    if opt_name == "adam":
        opt = torch.optim.Adam(model.parameters(), lr=ADAM_LR)
    else:
        opt = torch.optim.SGD(model.parameters(), lr=SGD_LR, momentum=0.9)
    losses = []
    model.train()
    for _ in range(STEPS if opt_name == "adam" else SGD_STEPS):
        opt.zero_grad()
        loss = F.cross_entropy(model(x), labels, weight=torch.tensor(CLASS_WEIGHTS))
        loss.backward()
        opt.step()
        losses.append(loss.item())
    return model, losses


def main():
    torch.set_num_threads(1)
    N, H, W = 2, 32, 48
    g = torch.Generator().manual_seed(5)
    x = torch.randn(N, 4, H, W, generator=g)
    yy, xx = torch.meshgrid(torch.arange(H), torch.arange(W), indexing="ij")
    labels = torch.zeros(N, H, W, dtype=torch.long)
    labels[:, (yy - 10) ** 2 + (xx - 15) ** 2 < 30] = 1
    labels[:, (yy - 22).abs() < 2] = 2
    x[:, 0] += 1.5 * (labels == 1).float() - 1.0 * (labels == 2).float()
    out = os.path.join(os.path.dirname(__file__), "..", "..", "data", "nets", "cgnet_train_ref.h5")
    with h5py.File(out, "w") as f:
        f.create_dataset("x", data=x.numpy())
        f.create_dataset("labels", data=labels.numpy().astype(np.int64))
        f.create_dataset("class_weights", data=np.array(CLASS_WEIGHTS))
        # Adam: the loss curve (its update is about lr * sign(g) for tiny gradients, so final
        # weights of near-zero-gradient elements are not comparable across implementations).
        _, losses = run("adam", x, labels)
        ga = f.create_group("adam")
        ga.create_dataset("losses", data=np.array(losses))
        ga.attrs["lr"] = ADAM_LR
        print("adam losses", losses)
        # SGD with momentum: linear in the gradients, so the final weights are compared too.
        model, losses = run("sgd", x, labels)
        gs = f.create_group("sgd")
        gs.create_dataset("losses", data=np.array(losses))
        gs.attrs["lr"] = SGD_LR
        gs.attrs["momentum"] = 0.9
        gf = gs.create_group("final")
        for k, v in model.state_dict().items():
            if "num_batches" not in k:
                gf.create_dataset(k, data=v.numpy())
        print("sgd losses", losses)


if __name__ == "__main__":
    main()
