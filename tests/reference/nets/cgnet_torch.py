"""CGNet as in ClimateNet (Kashinath et al. 2021), written independently in PyTorch from the
architecture description in shared/data/PROVENANCE.md, for reference values and peer timings.

Every convolution is unpadded after circular padding of (k-1)/2*dilation on all four sides; the
input injection is circular padding 1 then a 3x3 average pool with stride 2; BatchNorm eps 1e-3.
Module names follow ClimateNet's state_dict keys so its weights load by name.
"""
import torch
import torch.nn as nn
import torch.nn.functional as F


def circular(x, p):
    return F.pad(x, (p, p, p, p), mode="circular") if p > 0 else x


class ConvBNPReLU(nn.Module):
    def __init__(self, cin, cout, k, stride=1):
        super().__init__()
        self.p = (k - 1) // 2
        self.conv = nn.Conv2d(cin, cout, k, stride=stride, bias=False)
        self.bn = nn.BatchNorm2d(cout, eps=1e-3)
        self.act = nn.PReLU(cout)

    def forward(self, x):
        return self.act(self.bn(self.conv(circular(x, self.p))))


class BNPReLU(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.bn = nn.BatchNorm2d(c, eps=1e-3)
        self.act = nn.PReLU(c)

    def forward(self, x):
        return self.act(self.bn(x))


class Conv(nn.Module):
    """A bias-free conv with circular padding; `groups` and `d` give the depthwise/dilated kinds."""

    def __init__(self, cin, cout, k, stride=1, d=1, groups=1):
        super().__init__()
        self.p = (k - 1) // 2 * d
        self.conv = nn.Conv2d(cin, cout, k, stride=stride, dilation=d, groups=groups, bias=False)

    def forward(self, x):
        return self.conv(circular(x, self.p))


class Gate(nn.Module):
    def __init__(self, c, r):
        super().__init__()
        self.fc = nn.Sequential(nn.Linear(c, c // r), nn.ReLU(), nn.Linear(c // r, c), nn.Sigmoid())

    def forward(self, x):
        y = self.fc(x.mean(dim=(2, 3)))
        return x * y[:, :, None, None]


class CGBlockDown(nn.Module):
    def __init__(self, cin, cout, d, r):
        super().__init__()
        self.conv1x1 = ConvBNPReLU(cin, cout, 3, 2)
        self.F_loc = Conv(cout, cout, 3, groups=cout)
        self.F_sur = Conv(cout, cout, 3, d=d, groups=cout)
        self.bn = nn.BatchNorm2d(2 * cout, eps=1e-3)
        self.act = nn.PReLU(2 * cout)
        self.reduce = Conv(2 * cout, cout, 1)
        self.F_glo = Gate(cout, r)

    def forward(self, x):
        y = self.conv1x1(x)
        j = self.act(self.bn(torch.cat([self.F_loc(y), self.F_sur(y)], 1)))
        return self.F_glo(self.reduce(j))


class CGBlock(nn.Module):
    def __init__(self, c, d, r):
        super().__init__()
        n = c // 2
        self.conv1x1 = ConvBNPReLU(c, n, 1, 1)
        self.F_loc = Conv(n, n, 3, groups=n)
        self.F_sur = Conv(n, n, 3, d=d, groups=n)
        self.bn_prelu = BNPReLU(c)
        self.F_glo = Gate(c, r)

    def forward(self, x):
        y = self.conv1x1(x)
        j = self.bn_prelu(torch.cat([self.F_loc(y), self.F_sur(y)], 1))
        return x + self.F_glo(j)


def inject(x, times):
    for _ in range(times):
        x = F.avg_pool2d(circular(x, 1), 3, stride=2)
    return x


class CGNet(nn.Module):
    def __init__(self, classes=3, channels=4, M=3, N=21):
        super().__init__()
        self.level1_0 = ConvBNPReLU(channels, 32, 3, 2)
        self.level1_1 = ConvBNPReLU(32, 32, 3)
        self.level1_2 = ConvBNPReLU(32, 32, 3)
        self.b1 = BNPReLU(32 + channels)
        self.level2_0 = CGBlockDown(32 + channels, 64, 2, 8)
        self.level2 = nn.ModuleList([CGBlock(64, 2, 8) for _ in range(M - 1)])
        self.bn_prelu_2 = BNPReLU(128 + channels)
        self.level3_0 = CGBlockDown(128 + channels, 128, 4, 16)
        self.level3 = nn.ModuleList([CGBlock(128, 4, 16) for _ in range(N - 1)])
        self.bn_prelu_3 = BNPReLU(256)
        self.classifier = nn.Sequential(Conv(256, classes, 1))
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight)

    def forward(self, x):
        o0 = self.level1_2(self.level1_1(self.level1_0(x)))
        i1, i2 = inject(x, 1), inject(x, 2)
        c0 = self.b1(torch.cat([o0, i1], 1))
        o10 = self.level2_0(c0)
        o1 = o10
        for blk in self.level2:
            o1 = blk(o1)
        c1 = self.bn_prelu_2(torch.cat([o1, o10, i2], 1))
        o20 = self.level3_0(c1)
        o2 = o20
        for blk in self.level3:
            o2 = blk(o2)
        c2 = self.bn_prelu_3(torch.cat([o20, o2], 1))
        return F.interpolate(self.classifier(c2), x.shape[2:], mode="bilinear", align_corners=False)


def load_climatenet(path):
    """CGNet with ClimateNet's weights from the HDF5 conversion; returns (model, fields, normalization)."""
    import json
    import h5py

    with h5py.File(path, "r") as f:
        state = {k: torch.from_numpy(f["state_dict"][k][()]) for k in f["state_dict"].keys()}
        fields = json.loads(f.attrs["fields"])
        norm = json.loads(f.attrs["normalization"])
    model = CGNet(classes=3, channels=len(fields))
    missing, unexpected = model.load_state_dict(state, strict=False)
    missing = [k for k in missing if not k.endswith("num_batches_tracked")]
    assert not missing and not unexpected, (missing, unexpected)
    return model, fields, norm
