#!/usr/bin/python3
"""Seeds for the fuzz corpora (tests/fuzz/corpus/<target>/): small copies of the real files in
../shared/data/real (every dimension cut to a few entries, same format, types, attributes, packing,
fill values, chunking and compression), a DeepCAM-layout HDF5 file, and hand-made edge cases.
climseg's own outputs were added beside them (commands in docs/reliability.md): a synth file with
pressure levels (archive_open, sample_load), a `climseg stats` file (stats) and a checkpoint of the
fuzz target's model (checkpoint, via CLIMSEG_FUZZ_WRITE_SEED).
Run once with Debian's python3 (netCDF4, h5py, numpy); the outputs are committed."""
import json
import os
import struct
import sys

import h5py
import netCDF4
import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
REAL = sys.argv[1] if len(sys.argv) > 1 else os.path.join(HERE, "../../../shared/data/real")
OUT = os.path.join(HERE, "corpus")


def cut(name, n):
    low = name.lower()
    if low in ("lat", "latitude", "lon", "longitude", "y", "x"):
        return min(n, 6)
    if low in ("ncol",):
        return min(n, 10)
    if low in ("lev", "level", "plev", "levels"):
        return min(n, 3)
    return min(n, 2)


def shrink(src_path, dst_path):
    src = netCDF4.Dataset(src_path)
    fmt = src.data_model
    dst = netCDF4.Dataset(dst_path, "w", format=fmt)
    sizes = {}
    for name, d in src.dimensions.items():
        sizes[name] = cut(name, len(d))
        dst.createDimension(name, None if d.isunlimited() else sizes[name])
    dst.setncatts({k: src.getncattr(k) for k in src.ncattrs()})
    for name, v in src.variables.items():
        src.variables[name].set_auto_maskandscale(False)
        kw = {}
        if "_FillValue" in v.ncattrs():
            kw["fill_value"] = v.getncattr("_FillValue")
        if fmt.startswith("NETCDF4"):
            f = v.filters() or {}
            if f.get("zlib"):
                kw["zlib"] = True
                kw["complevel"] = f.get("complevel", 4)
                kw["shuffle"] = f.get("shuffle", False)
            ch = v.chunking()
            if isinstance(ch, list):
                kw["chunksizes"] = [max(1, min(c, sizes[dn])) for c, dn in zip(ch, v.dimensions)]
        dt = v.datatype
        nv = dst.createVariable(name, dt, v.dimensions, **kw)
        nv.set_auto_maskandscale(False)
        nv.setncatts({k: v.getncattr(k) for k in v.ncattrs() if k != "_FillValue"})
        idx = tuple(slice(0, sizes[dn]) for dn in v.dimensions)
        if v.dimensions:
            nv[idx] = v[idx]
        else:
            nv.assignValue(v.getValue())
    dst.close()
    src.close()


def deepcam(path, h=6, w=8):
    rng = np.random.default_rng(1)
    with h5py.File(path, "w") as f:
        g = f.create_group("climate")
        g.create_dataset("data", data=rng.standard_normal((h, w, 16)).astype(np.float32))
        g.create_dataset("labels_0", data=rng.integers(0, 3, (h, w)).astype(np.float32))


def classic_header(dims, variables):
    """A netCDF-3 classic header (and zero data) by hand: dims [(name, len)], variables
    [(name, nc_type, [dim ids], vsize)]; lengths and sizes are written as given, so they can lie."""

    def name(s):
        b = s.encode()
        return struct.pack(">i", len(b)) + b + b"\0" * ((4 - len(b) % 4) % 4)

    out = b"CDF\x01" + struct.pack(">i", 0)
    out += struct.pack(">ii", 0x0A, len(dims)) if dims else struct.pack(">ii", 0, 0)
    for n, length in dims:
        out += name(n) + struct.pack(">i", length)
    out += struct.pack(">ii", 0, 0)  # no global attributes
    out += struct.pack(">ii", 0x0B, len(variables)) if variables else struct.pack(">ii", 0, 0)
    begin = len(out) + sum(4 + len(n) + 3 + 4 + 4 * len(d) + 8 + 4 + 4 + 4 for n, _, d, _ in variables) + 64
    for n, t, d, vsize in variables:
        out += name(n) + struct.pack(">i", len(d)) + b"".join(struct.pack(">i", i) for i in d)
        out += struct.pack(">ii", 0, 0) + struct.pack(">i", t) + struct.pack(">i", vsize) + struct.pack(">i", begin)
        begin += max(vsize, 0)
    return out + b"\0" * (begin - len(out) if 0 < begin - len(out) < 4096 else 256)


def main():
    nc_dirs = [os.path.join(OUT, t) for t in ("archive_open", "sample_load")]
    for d in nc_dirs + [os.path.join(OUT, t) for t in ("checkpoint", "stats", "train_config")]:
        os.makedirs(d, exist_ok=True)
    seeds = {}
    for f in sorted(os.listdir(REAL)):
        dst = os.path.join(nc_dirs[0], "real_" + os.path.splitext(f)[0] + ".nc")
        shrink(os.path.join(REAL, f), dst)
        seeds[os.path.basename(dst)] = open(dst, "rb").read()
    deepcam(os.path.join(nc_dirs[0], "deepcam_6x8.h5"))
    seeds["deepcam_6x8.h5"] = open(os.path.join(nc_dirs[0], "deepcam_6x8.h5"), "rb").read()
    NC_FLOAT, NC_DOUBLE, NC_CHAR = 5, 6, 2
    edges = {
        "edge_empty.nc": b"",
        "edge_magic_only.nc": b"CDF\x01",
        "edge_hdf5_magic_only.h5": b"\x89HDF\r\n\x1a\n",
        "edge_text.nc": b"lat,lon,value\n1,2,3\n",
        # Header claims: a 10^12-cell field, a negative and a zero dimension, a char "field".
        "edge_huge_dim.nc": classic_header([("lat", 1000000), ("lon", 1000000)],
                                           [("lat", NC_DOUBLE, [0], 8000000), ("lon", NC_DOUBLE, [1], 8000000),
                                            ("TMQ", NC_FLOAT, [0, 1], -4)]),
        "edge_negative_dim.nc": classic_header([("lat", -4), ("lon", 8)],
                                               [("lat", NC_DOUBLE, [0], 32), ("TMQ", NC_FLOAT, [0, 1], 128)]),
        "edge_zero_dim.nc": classic_header([("lat", 0), ("lon", 8)],
                                           [("lat", NC_DOUBLE, [0], 0), ("lon", NC_DOUBLE, [1], 64),
                                            ("TMQ", NC_FLOAT, [0, 1], 0)]),
        "edge_char_field.nc": classic_header([("lat", 4), ("lon", 8)],
                                             [("lat", NC_DOUBLE, [0], 32), ("lon", NC_DOUBLE, [1], 64),
                                              ("TMQ", NC_CHAR, [0, 1], 32)]),
    }
    for n, b in edges.items():
        with open(os.path.join(nc_dirs[0], n), "wb") as f:
            f.write(b)
        seeds[n] = b
    # netCDF-4 / HDF5 hostile headers: a 10^12-cell chunked field never written (the file stays
    # tiny), a zero-length latitude, an integer DeepCAM block, a DeepCAM block with 3 channels.
    p = os.path.join(nc_dirs[0], "edge_nc4_huge_dim.nc")
    with netCDF4.Dataset(p, "w", format="NETCDF4") as d:
        d.createDimension("lat", 100000)
        d.createDimension("lon", 100000)
        d.createVariable("lat", "f8", ("lat",), chunksizes=(1000,))
        d.createVariable("lon", "f8", ("lon",), chunksizes=(1000,))
        d.createVariable("TMQ", "f4", ("lat", "lon"), zlib=True, chunksizes=(100, 100))
    seeds[os.path.basename(p)] = open(p, "rb").read()
    p = os.path.join(nc_dirs[0], "edge_h5_zero_height.h5")
    with h5py.File(p, "w") as f:
        f.create_group("climate").create_dataset("data", shape=(0, 8, 16), dtype=np.float32)
    seeds[os.path.basename(p)] = open(p, "rb").read()
    p = os.path.join(nc_dirs[0], "edge_h5_int_data.h5")
    with h5py.File(p, "w") as f:
        f.create_group("climate").create_dataset("data", data=np.zeros((4, 8, 16), np.int32))
    seeds[os.path.basename(p)] = open(p, "rb").read()
    p = os.path.join(nc_dirs[0], "edge_h5_three_channels.h5")
    with h5py.File(p, "w") as f:
        f.create_group("climate").create_dataset("data", data=np.zeros((4, 8, 3), np.float32))
    seeds[os.path.basename(p)] = open(p, "rb").read()
    for n, b in seeds.items():
        with open(os.path.join(nc_dirs[1], n), "wb") as f:
            f.write(b)
    # Stats: climseg's format and ClimateNet's, plus edges.
    stats = {
        "climseg.json": {"format": "climseg-stats", "samples": 2, "area_weighted": False,
                         "channels": [{"name": "TMQ", "units": "kg m-2", "count": 10, "mean": 20.0, "std": 5.0,
                                       "min": 1.0, "max": 60.0, "percentiles": [[50, 19.0], [99, 55.0]]}]},
        "climatenet.json": {"TMQ": {"mean": 19.2, "std": 15.8}, "U850": {"mean": 1.5, "std": 8.3}},
        "edge_wrong_types.json": {"format": "climseg-stats", "channels": [{"name": 3, "mean": "x"}]},
        "edge_negative_std.json": {"format": "climseg-stats", "channels": [{"name": "A", "mean": 0, "std": -1,
                                                                            "count": -5}]},
    }
    for n, j in stats.items():
        with open(os.path.join(OUT, "stats", n), "w") as f:
            json.dump(j, f)
    with open(os.path.join(OUT, "stats", "edge_not_json.json"), "w") as f:
        f.write("{\"TMQ\": {\"mean\": 1,")
    # Train configs.
    configs = {
        "minimal.json": {"data": {"train": ["a.nc"]}},
        "full.json": {"data": {"train": "synth/*.nc", "channels": ["TMQ", "U850"], "labels": "LABELS",
                               "val_fraction": 0.25, "normalization": "zscore", "fill": "mask"},
                      "model": {"type": "cgnet", "M": 3, "N": 21, "channels": ["TMQ", "U850"],
                                "classes": ["bg", "tc", "ar"], "padding": "circular"},
                      "loss": {"type": "cross_entropy", "class_weights": "frequency^-0.125"},
                      "optimizer": {"type": "adam", "lr": 0.001}, "schedule": {"kind": "cosine"},
                      "epochs": 2, "batch_size": 4, "seed": 1},
        "unet.json": {"data": {"train": ["a.nc"]}, "model": {"type": "unet", "depth": 2, "width": 4}},
        "deeplab.json": {"data": {"train": ["a.nc"]},
                         "model": {"type": "deeplabv3plus", "width": 8, "blocks": [1, 1, 1, 1], "output_stride": 16}},
    }
    for n, j in configs.items():
        with open(os.path.join(OUT, "train_config", n), "w") as f:
            json.dump(j, f)
    with open(os.path.join(OUT, "train_config", "override.txt"), "w") as f:
        f.write("model.width\n64")
    # Checkpoint edges (real checkpoints come from climseg itself, scripts/fuzz.sh --seed).
    with h5py.File(os.path.join(OUT, "checkpoint", "edge_attrs_only.h5"), "w") as f:
        f.attrs["format"] = "climseg-checkpoint-1"
        f.attrs["model"] = json.dumps({"type": "unet", "depth": 1, "width": 2, "channels": ["A"],
                                       "classes": ["x", "y"]})
        f.attrs["normalization"] = json.dumps({"kind": "none"})
        f.create_group("state_dict").create_dataset("head.weight", data=np.zeros((2, 2, 1, 1), np.float32))
    with h5py.File(os.path.join(OUT, "checkpoint", "edge_climatenet_like.h5"), "w") as f:
        f.attrs["architecture"] = "cgnet"
        f.attrs["fields"] = json.dumps(["TMQ"])
        f.attrs["normalization"] = json.dumps({"TMQ": {"mean": 1, "std": 2}})
        f.create_group("state_dict")


if __name__ == "__main__":
    main()
