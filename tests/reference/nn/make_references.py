#!/usr/bin/python3
"""PyTorch references for the engine's tests (tests/nn), written to tests/data/nn/*.h5.

Run with Debian's interpreter, which has torch 1.13 and h5py:
    /usr/bin/python3 tests/reference/nn/make_references.py
The C++ tests read the files; they never run Python. Inputs are float32; references are computed
by PyTorch in float64 from those float32 inputs (so they are the exact answer for the float32 data)
and stored as float32, except where PyTorch's float32 index arithmetic defines the result
(nearest upsampling), and the 20-step training run, which is PyTorch's own float32 run.

ops.h5      /cases/<name>: attribute `spec` (JSON: op and options), datasets in0..inK (the op's
            inputs, int32 for labels), dy (seed of the backward), out, grad0..gradK (gradient of
            sum(out * dy) for each float input), and for BatchNorm the running statistics before
            and after (rm0, rv0, rm1, rv1).
optim.h5    /<case>: attribute `spec`, params p0 (tensor per parameter), grads g<step>, and p<step>
            the parameters after each step.
train.h5    a small net (conv/BN/PReLU, a skip, a squeeze-excitation gate) trained 20 steps with Adam:
            /init state_dict, /x<step>, /y<step> batches, /loss (20), /final state_dict.
"""
import json
import math
import os

import h5py
import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "data", "nn")
rng = np.random.default_rng(20261128)


def randn(*shape, scale=1.0):
    return (rng.standard_normal(shape) * scale).astype(np.float32)


def pad_spherical(x, p_h, p_w, poles):
    """Circular in W; zeros or reflect in H."""
    if p_w:
        x = F.pad(x, (p_w, p_w, 0, 0), mode="circular")
    if p_h:
        x = F.pad(x, (0, 0, p_h, p_h), mode="reflect") if poles == "reflect" else F.pad(x, (0, 0, p_h, p_h))
    return x


def conv_forward(spec, x, w, b=None):
    ph, pw = spec["pad"]
    mode = spec["pad_mode"]
    st, dl, g = spec["stride"], spec["dilation"], spec["groups"]
    if mode == "zeros":
        return F.conv2d(x, w, b, stride=st, padding=(ph, pw), dilation=dl, groups=g)
    if mode == "circular":
        # Index gather instead of F.pad, which refuses padding that wraps more than once.
        ih = torch.tensor(np.mod(np.arange(-ph, x.shape[2] + ph), x.shape[2]))
        iw = torch.tensor(np.mod(np.arange(-pw, x.shape[3] + pw), x.shape[3]))
        x = x[:, :, ih][:, :, :, iw]
    else:  # spherical_zeros / spherical_reflect
        x = pad_spherical(x, ph, pw, mode.split("_")[1])
    return F.conv2d(x, w, b, stride=st, dilation=dl, groups=g)


class Writer:
    def __init__(self, path):
        self.f = h5py.File(path, "w")
        self.cases = self.f.create_group("cases")

    def case(self, name, spec, inputs, fn, grads_for=None, dtype=torch.float64, extra=None):
        """inputs: list of numpy arrays (float32 or int32). fn(*tensors) -> output tensor."""
        g = self.cases.create_group(name)
        g.attrs["spec"] = json.dumps(spec)
        ts = []
        for i, a in enumerate(inputs):
            g.create_dataset(f"in{i}", data=a)
            if a.dtype == np.float32:
                ts.append(torch.tensor(a, dtype=dtype, requires_grad=True))
            else:
                ts.append(torch.tensor(a.astype(np.int64)))
        out = fn(*ts)
        dy = randn(*out.shape) if out.dim() > 0 else np.array(1.0, dtype=np.float32)
        g.create_dataset("dy", data=dy)
        g.create_dataset("out", data=out.detach().numpy().astype(np.float32))
        (out * torch.tensor(dy, dtype=dtype)).sum().backward()
        for i, t in enumerate(ts):
            if t.dtype != torch.int64 and t.grad is not None:
                g.create_dataset(f"grad{i}", data=t.grad.numpy().astype(np.float32))
        if extra:
            for k, v in extra().items():
                g.create_dataset(k, data=np.asarray(v, dtype=np.float32))
        return g


def make_ops():
    global rng  # swapped for the depthwise row-group cases at the end
    wr = Writer(os.path.join(OUT, "ops.h5"))

    # ---- conv2d: every padding mode, stride, dilation, groups, depthwise, 1x1, non-square
    convs = [
        ("conv_zeros_bias", dict(cin=3, cout=4, k=(3, 3), stride=1, dilation=1, groups=1, pad=[1, 1], pad_mode="zeros",
                                 bias=True), (2, 7, 9)),
        ("conv_circular_s2_d2", dict(cin=3, cout=5, k=(3, 3), stride=2, dilation=2, groups=1, pad=[2, 2],
                                     pad_mode="circular", bias=False), (2, 9, 11)),
        ("conv_depthwise_d2_circular", dict(cin=6, cout=6, k=(3, 3), stride=1, dilation=2, groups=6, pad=[2, 2],
                                            pad_mode="circular", bias=False), (2, 8, 10)),
        ("conv_depthwise_s2_zeros", dict(cin=4, cout=4, k=(3, 3), stride=2, dilation=1, groups=4, pad=[1, 1],
                                         pad_mode="zeros", bias=True), (1, 9, 8)),
        ("conv_spherical_zeros", dict(cin=3, cout=4, k=(3, 3), stride=1, dilation=1, groups=1, pad=[1, 1],
                                      pad_mode="spherical_zeros", bias=False), (2, 6, 9)),
        ("conv_spherical_reflect_d2", dict(cin=2, cout=3, k=(3, 3), stride=1, dilation=2, groups=1, pad=[2, 2],
                                           pad_mode="spherical_reflect", bias=True), (1, 7, 10)),
        ("conv_groups2", dict(cin=4, cout=6, k=(3, 3), stride=1, dilation=1, groups=2, pad=[1, 1], pad_mode="zeros",
                              bias=True), (2, 5, 7)),
        ("conv_1x1_bias", dict(cin=8, cout=5, k=(1, 1), stride=1, dilation=1, groups=1, pad=[0, 0], pad_mode="zeros",
                               bias=True), (2, 5, 6)),
        ("conv_3x5_zeros", dict(cin=3, cout=2, k=(3, 5), stride=1, dilation=1, groups=1, pad=[1, 2],
                                pad_mode="zeros", bias=False), (1, 6, 9)),
        ("conv_s2_circular_even", dict(cin=4, cout=8, k=(3, 3), stride=2, dilation=1, groups=1, pad=[1, 1],
                                       pad_mode="circular", bias=False), (2, 10, 12)),
        ("conv_1x1_s2", dict(cin=3, cout=4, k=(1, 1), stride=2, dilation=1, groups=1, pad=[0, 0], pad_mode="zeros",
                             bias=False), (1, 7, 9)),
        ("conv_circular_wraps_twice", dict(cin=2, cout=2, k=(3, 3), stride=1, dilation=3, groups=1, pad=[3, 3],
                                           pad_mode="circular", bias=False), (1, 2, 3)),
    ]
    for name, s, (n, h, w) in convs:
        spec = dict(op="conv2d", **s)
        kh, kw = s["k"]
        ins = [randn(n, s["cin"], h, w), randn(s["cout"], s["cin"] // s["groups"], kh, kw, scale=0.5)]
        if s["bias"]:
            ins.append(randn(s["cout"]))
        spec["k"] = [kh, kw]
        wr.case(name, spec, ins, lambda x, wt, b=None, sp=spec: conv_forward(sp, x, wt, b))

    # ---- conv_transpose2d
    tconvs = [
        ("tconv_s2_p1_op1_bias", dict(cin=4, cout=3, k=3, stride=2, padding=1, output_padding=1, dilation=1, groups=1,
                                      bias=True), (2, 5, 6)),
        ("tconv_k2_s2_groups2", dict(cin=4, cout=6, k=2, stride=2, padding=0, output_padding=0, dilation=1, groups=2,
                                     bias=False), (1, 4, 5)),
        ("tconv_d2_p2", dict(cin=3, cout=2, k=3, stride=1, padding=2, output_padding=0, dilation=2, groups=1,
                             bias=True), (2, 6, 5)),
    ]
    for name, s, (n, h, w) in tconvs:
        spec = dict(op="conv_transpose2d", **s)
        ins = [randn(n, s["cin"], h, w), randn(s["cin"], s["cout"] // s["groups"], s["k"], s["k"], scale=0.5)]
        if s["bias"]:
            ins.append(randn(s["cout"]))
        wr.case(name, spec, ins,
                lambda x, wt, b=None, s=s: F.conv_transpose2d(x, wt, b, stride=s["stride"], padding=s["padding"],
                                                              output_padding=s["output_padding"], groups=s["groups"],
                                                              dilation=s["dilation"]))

    # ---- batch norm (train: batch statistics + running update; eval: running statistics), with PReLU
    for name, prelu, training, na in [("bn_train", False, True, 0), ("bn_eval", False, False, 0),
                                      ("bn_prelu_train", True, True, 4), ("bn_prelu_eval", True, False, 4),
                                      ("bn_prelu_train_shared", True, True, 1)]:
        c = 4
        x = randn(3, c, 5, 6, scale=2.0) + 0.5
        gamma, beta = randn(c) * 0.5 + 1, randn(c) * 0.3
        rm0, rv0 = randn(c) * 0.2, (np.abs(randn(c)) + 0.5).astype(np.float32)
        ins = [x, gamma, beta] + ([randn(na) * 0.2 + 0.25] if prelu else [])
        spec = dict(op="batch_norm_prelu" if prelu else "batch_norm2d", eps=1e-3, momentum=0.1, training=training)
        state = {}

        def fn(x, g, b, a=None, rm0=rm0, rv0=rv0, training=training, state=state):
            rm = torch.tensor(rm0, dtype=torch.float64)
            rv = torch.tensor(rv0, dtype=torch.float64)
            y = F.batch_norm(x, rm, rv, g, b, training=training, momentum=0.1, eps=1e-3)
            state["rm1"], state["rv1"] = rm.numpy(), rv.numpy()
            return F.prelu(y, a) if a is not None else y

        g = wr.case(name, spec, ins, fn, extra=lambda state=state: {"rm1": state["rm1"], "rv1": state["rv1"]})
        g.create_dataset("rm0", data=rm0)
        g.create_dataset("rv0", data=rv0)

    # ---- activations
    x = randn(2, 3, 4, 5)
    wr.case("relu", dict(op="relu"), [x], F.relu)
    wr.case("leaky_relu", dict(op="leaky_relu", slope=0.2), [x], lambda t: F.leaky_relu(t, 0.2))
    wr.case("prelu_channels", dict(op="prelu"), [x, randn(3) * 0.3], F.prelu)
    wr.case("prelu_shared", dict(op="prelu"), [x, np.array([0.25], np.float32)], F.prelu)
    wr.case("sigmoid", dict(op="sigmoid"), [x], torch.sigmoid)
    wr.case("tanh", dict(op="tanh"), [x], torch.tanh)
    wr.case("softmax", dict(op="softmax"), [randn(2, 4, 3, 5, scale=2)], lambda t: F.softmax(t, dim=1))

    # ---- pooling
    xp = randn(2, 3, 9, 11)
    wr.case("max_pool_k3_s2_p1", dict(op="max_pool2d", k=3, stride=2, pad=1), [xp],
            lambda t: F.max_pool2d(t, 3, 2, 1))
    wr.case("max_pool_k2_s2", dict(op="max_pool2d", k=2, stride=2, pad=0), [xp], lambda t: F.max_pool2d(t, 2, 2))
    wr.case("avg_pool_circular_k3_s2", dict(op="avg_pool2d", k=3, stride=2, pad=[1, 1], pad_mode="circular",
                                            count_include_pad=True), [xp],
            lambda t: F.avg_pool2d(F.pad(t, (1, 1, 1, 1), mode="circular"), 3, 2))
    wr.case("avg_pool_zeros_cip", dict(op="avg_pool2d", k=3, stride=2, pad=[1, 1], pad_mode="zeros",
                                       count_include_pad=True), [xp], lambda t: F.avg_pool2d(t, 3, 2, 1))
    wr.case("avg_pool_zeros_nocip", dict(op="avg_pool2d", k=3, stride=2, pad=[1, 1], pad_mode="zeros",
                                         count_include_pad=False), [xp],
            lambda t: F.avg_pool2d(t, 3, 2, 1, count_include_pad=False))
    wr.case("avg_pool_k2", dict(op="avg_pool2d", k=2, stride=2, pad=[0, 0], pad_mode="zeros",
                                count_include_pad=True), [xp], lambda t: F.avg_pool2d(t, 2, 2))
    wr.case("global_avg_pool", dict(op="global_avg_pool"), [xp], lambda t: t.mean(dim=(2, 3)))

    # ---- linear, upsampling, structure
    wr.case("linear_bias", dict(op="linear"), [randn(3, 7), randn(5, 7), randn(5)], F.linear)
    wr.case("linear_nobias", dict(op="linear"), [randn(2, 6), randn(4, 6)], F.linear)
    xu = randn(2, 3, 3, 5)
    wr.case("upsample_bilinear", dict(op="upsample_bilinear", size=[9, 13], align_corners=False), [xu],
            lambda t: F.interpolate(t, size=(9, 13), mode="bilinear", align_corners=False))
    wr.case("upsample_bilinear_x8", dict(op="upsample_bilinear", size=[24, 40], align_corners=False), [xu],
            lambda t: F.interpolate(t, size=(24, 40), mode="bilinear", align_corners=False))
    wr.case("upsample_bilinear_ac", dict(op="upsample_bilinear", size=[7, 12], align_corners=True), [xu],
            lambda t: F.interpolate(t, size=(7, 12), mode="bilinear", align_corners=True))
    wr.case("upsample_bilinear_down", dict(op="upsample_bilinear", size=[2, 3], align_corners=False), [xu],
            lambda t: F.interpolate(t, size=(2, 3), mode="bilinear", align_corners=False))
    wr.case("upsample_nearest", dict(op="upsample_nearest", size=[7, 11]), [xu],
            lambda t: F.interpolate(t, size=(7, 11), mode="nearest"), dtype=torch.float32)
    wr.case("concat3", dict(op="concat"), [randn(2, 2, 3, 4), randn(2, 3, 3, 4), randn(2, 1, 3, 4)],
            lambda a, b, c: torch.cat([a, b, c], 1))
    wr.case("add", dict(op="add"), [randn(2, 3, 4), randn(2, 3, 4)], torch.add)
    wr.case("mul", dict(op="mul"), [randn(2, 3, 4), randn(2, 3, 4)], torch.mul)
    wr.case("scale_channels", dict(op="scale_channels"), [randn(2, 3, 4, 5), randn(2, 3)],
            lambda x, g: x * g[:, :, None, None])

    # ---- losses
    n, c, h, w = 2, 3, 5, 7
    logits = randn(n, c, h, w, scale=2)
    labels = rng.integers(0, c, size=(n, h, w)).astype(np.int32)
    labels[0, 1, 2] = labels[1, 3, 4] = labels[1, 0, 0] = -1  # ignored pixels
    cw = np.array([0.3, 1.5, 2.0], np.float32)
    rw = np.cos(np.linspace(-1.2, 1.2, h)).astype(np.float32)

    def ce(x, y, cw=cw, rw=None):
        valid = y != -1
        yy = torch.where(valid, y, torch.zeros_like(y))
        nll = -F.log_softmax(x, 1).gather(1, yy[:, None]).squeeze(1)
        wt = torch.tensor(cw, dtype=x.dtype)[yy] * valid
        if rw is not None:
            wt = wt * torch.tensor(rw, dtype=x.dtype)[None, :, None]
        return (wt * nll).sum() / wt.sum()

    spec = dict(op="cross_entropy", class_weights=cw.tolist(), ignore_index=-1)
    g = wr.case("cross_entropy_weighted", spec, [logits, labels],
                lambda x, y: F.cross_entropy(x, y, weight=torch.tensor(cw, dtype=x.dtype), ignore_index=-1))
    spec = dict(op="cross_entropy", class_weights=cw.tolist(), row_weights=rw.tolist(), ignore_index=-1)
    wr.case("cross_entropy_rows", spec, [logits, labels], lambda x, y: ce(x, y, rw=rw))
    wr.case("cross_entropy_plain", dict(op="cross_entropy", ignore_index=-100), [logits, np.abs(labels)],
            lambda x, y: F.cross_entropy(x, y))

    def overlap(x, y, kind, rw=None, eps=1e-7):
        valid = (y != -1).to(x.dtype)
        yy = torch.where(y != -1, y, torch.zeros_like(y))
        p = F.softmax(x, 1)
        t = F.one_hot(yy, x.shape[1]).permute(0, 3, 1, 2).to(x.dtype)
        r = valid[:, None]
        if rw is not None:
            r = r * torch.tensor(rw, dtype=x.dtype)[None, None, :, None]
        inter = (r * p * t).sum(dim=(0, 2, 3))
        card = (r * (p + t)).sum(dim=(0, 2, 3))
        if kind == "jaccard":
            score = inter / (card - inter + eps)
        else:
            score = 2 * inter / (card + eps)
        return 1 - score.mean()

    for kind in ["jaccard", "dice"]:
        wr.case(f"{kind}_rows", dict(op=f"{kind}_loss", row_weights=rw.tolist(), ignore_index=-1), [logits, labels],
                lambda x, y, kind=kind: overlap(x, y, kind, rw))
        wr.case(f"{kind}_plain", dict(op=f"{kind}_loss", ignore_index=-100), [logits, np.abs(labels)],
                lambda x, y, kind=kind: overlap(x, y, kind))

    # ---- depthwise 3x3 on rows of 16 or more columns: the engine's row-group kernels (groups of
    # rows spaced by the dilation, permuted edge taps, the one-sweep backward). A generator of their
    # own, so every case above and the other files keep their inputs.
    saved, rng = rng, np.random.default_rng(20261129)
    rows = [
        ("conv_depthwise_rows_d2_circular", dict(cin=5, cout=5, k=(3, 3), stride=1, dilation=2, groups=5, pad=[2, 2],
                                                 pad_mode="circular", bias=False), (2, 11, 37)),
        ("conv_depthwise_rows_d1_zeros_bias", dict(cin=3, cout=3, k=(3, 3), stride=1, dilation=1, groups=3,
                                                   pad=[1, 1], pad_mode="zeros", bias=True), (2, 9, 33)),
        ("conv_depthwise_rows_d4_spherical_zeros", dict(cin=4, cout=4, k=(3, 3), stride=1, dilation=4, groups=4,
                                                        pad=[4, 4], pad_mode="spherical_zeros", bias=False),
         (1, 13, 20)),
        ("conv_depthwise_rows_d4_spherical_reflect", dict(cin=3, cout=3, k=(3, 3), stride=1, dilation=4, groups=3,
                                                          pad=[4, 4], pad_mode="spherical_reflect", bias=True),
         (2, 10, 48)),
    ]
    for name, s, (n, h, w) in rows:
        spec = dict(op="conv2d", **s)
        kh, kw = s["k"]
        ins = [randn(n, s["cin"], h, w), randn(s["cout"], 1, kh, kw, scale=0.5)]
        if s["bias"]:
            ins.append(randn(s["cout"]))
        spec["k"] = [kh, kw]
        wr.case(name, spec, ins, lambda x, wt, b=None, sp=spec: conv_forward(sp, x, wt, b))
    rng = saved
    wr.f.close()


def make_optim():
    f = h5py.File(os.path.join(OUT, "optim.h5"), "w")
    shapes = [(4, 3), (5,), (2, 2, 3)]
    cases = [
        ("sgd_momentum_wd", lambda ps: torch.optim.SGD(ps, lr=0.1, momentum=0.9, weight_decay=0.01),
         dict(type="sgd", lr=0.1, momentum=0.9, weight_decay=0.01, nesterov=False)),
        ("sgd_nesterov", lambda ps: torch.optim.SGD(ps, lr=0.05, momentum=0.8, nesterov=True),
         dict(type="sgd", lr=0.05, momentum=0.8, weight_decay=0.0, nesterov=True)),
        ("sgd_plain", lambda ps: torch.optim.SGD(ps, lr=0.2), dict(type="sgd", lr=0.2, momentum=0.0,
                                                                   weight_decay=0.0, nesterov=False)),
        ("adam_wd", lambda ps: torch.optim.Adam(ps, lr=0.01, betas=(0.9, 0.99), eps=1e-8, weight_decay=0.1),
         dict(type="adam", lr=0.01, beta1=0.9, beta2=0.99, eps=1e-8, weight_decay=0.1)),
        ("adamw", lambda ps: torch.optim.AdamW(ps, lr=0.01, betas=(0.8, 0.999), eps=1e-6, weight_decay=0.05),
         dict(type="adamw", lr=0.01, beta1=0.8, beta2=0.999, eps=1e-6, weight_decay=0.05)),
    ]
    steps = 5
    for name, make, spec in cases:
        g = f.create_group(name)
        spec["steps"] = steps
        spec["shapes"] = [list(s) for s in shapes]
        g.attrs["spec"] = json.dumps(spec)
        ps = [torch.tensor(randn(*s)) for s in shapes]
        for i, p in enumerate(ps):
            g.create_dataset(f"p0_{i}", data=p.numpy())
            p.requires_grad_(True)
        opt = make(ps)
        for step in range(1, steps + 1):
            for i, p in enumerate(ps):
                gr = randn(*p.shape)
                g.create_dataset(f"g{step}_{i}", data=gr)
                p.grad = torch.tensor(gr)
            opt.step()
            for i, p in enumerate(ps):
                g.create_dataset(f"p{step}_{i}", data=p.detach().numpy())
    f.close()


class SmallNet(nn.Module):
    """A few Conv-BN-PReLU layers with circular padding, a depthwise dilated conv, a squeeze-excitation
    gate, a skip connection and a concat, a 1x1 classifier and bilinear upsampling (as in CGNet)."""

    def __init__(self):
        super().__init__()
        self.c1 = nn.Sequential()
        self.c1.conv = nn.Conv2d(3, 8, 3, bias=False)
        self.c1.bn = nn.BatchNorm2d(8, eps=1e-3)
        self.c1.act = nn.PReLU(8)
        self.c2 = nn.Sequential()
        self.c2.conv = nn.Conv2d(8, 8, 3, stride=2, bias=False)
        self.c2.bn = nn.BatchNorm2d(8, eps=1e-3)
        self.c2.act = nn.PReLU(8)
        self.dw = nn.Conv2d(8, 8, 3, dilation=2, groups=8, bias=False)
        self.fc = nn.Sequential(nn.Linear(8, 4), nn.ReLU(), nn.Linear(4, 8), nn.Sigmoid())
        self.bn_prelu = nn.Sequential()
        self.bn_prelu.bn = nn.BatchNorm2d(16, eps=1e-3)
        self.bn_prelu.act = nn.PReLU(16)
        self.classifier = nn.Conv2d(16, 3, 1)

    def forward(self, x):
        circ = lambda t, p: F.pad(t, (p, p, p, p), mode="circular")
        a = self.c1.act(self.c1.bn(self.c1.conv(circ(x, 1))))
        b = self.c2.act(self.c2.bn(self.c2.conv(circ(a, 1))))
        d = self.dw(circ(b, 2))
        gate = self.fc(d.mean(dim=(2, 3)))
        s = b + d * gate[:, :, None, None]
        j = self.bn_prelu.act(self.bn_prelu.bn(torch.cat([s, b], 1)))
        return F.interpolate(self.classifier(j), size=x.shape[2:], mode="bilinear", align_corners=False)


def make_train():
    torch.manual_seed(7)
    net = SmallNet()
    # Non-default PReLU slopes and BN affine values, so every parameter matters from step 1.
    with torch.no_grad():
        for name, p in net.named_parameters():
            if name.endswith("act.weight"):
                p.copy_(torch.tensor(randn(*p.shape) * 0.1 + 0.25))
    f = h5py.File(os.path.join(OUT, "train.h5"), "w")
    sd = {k: v for k, v in net.state_dict().items() if not k.endswith("num_batches_tracked")}
    gi = f.create_group("init")
    for k, v in sd.items():
        gi.create_dataset(k, data=v.numpy())
    cw = torch.tensor([0.5, 2.0, 3.0])
    opt = torch.optim.Adam(net.parameters(), lr=5e-3)
    losses = []
    steps = 20
    for step in range(steps):
        x = torch.tensor(randn(2, 3, 12, 16))
        y = torch.tensor(rng.integers(0, 3, size=(2, 12, 16)))
        f.create_dataset(f"x{step}", data=x.numpy())
        f.create_dataset(f"y{step}", data=y.numpy().astype(np.int32))
        opt.zero_grad()
        loss = F.cross_entropy(net(x), y, weight=cw)
        loss.backward()
        opt.step()
        losses.append(loss.item())
    f.create_dataset("loss", data=np.array(losses, np.float64))
    f.attrs["class_weights"] = json.dumps(cw.tolist())
    f.attrs["lr"] = 5e-3
    gf = f.create_group("final")
    for k, v in net.state_dict().items():
        if not k.endswith("num_batches_tracked"):
            gf.create_dataset(k, data=v.numpy())
    f.close()


if __name__ == "__main__":
    os.makedirs(OUT, exist_ok=True)
    torch.set_num_threads(1)
    make_ops()
    make_optim()
    make_train()
    for name in ["ops.h5", "optim.h5", "train.h5"]:
        print(name, os.path.getsize(os.path.join(OUT, name)), "bytes")
