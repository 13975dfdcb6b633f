"""climseg.Model.predict against `climseg predict` on the same file (bit for bit), layouts (latitude
and longitude names, descending latitude), Dask and Zarr inputs, the GIL, threads, and the bad
inputs' messages."""

import os
import subprocess
import sys
import textwrap
import threading
import time

import netCDF4
import numpy as np
import pytest
import xarray as xr

from conftest import SAMPLE, SYNTH_MODEL, run_cli

import climseg


def cli_predict(exe, tmp_path, path, *extra):
    out = tmp_path / "cli"
    code, err = run_cli(exe, "predict", "--model", SYNTH_MODEL, "--in", path, "--out", out, *extra)
    assert code == 0, err
    (f,) = out.glob("*.climseg.nc")
    return f


def assert_same_as_cli(result, cli_file, classes, probabilities=True):
    with netCDF4.Dataset(cli_file) as nc:
        nc.set_auto_mask(False)
        raw = nc["class_mask"][:]
        assert raw.dtype == np.int8
        np.testing.assert_array_equal(result["class_mask"].values, raw)
    with xr.open_dataset(cli_file) as ref:
        if probabilities:
            for c in classes:
                name = "prob_" + c.replace(" ", "_")
                a, b = result[name].values, ref[name].values
                assert a.dtype == b.dtype == np.float32
                assert np.array_equal(a, b, equal_nan=True), name
        for d in result["class_mask"].dims:
            np.testing.assert_array_equal(result[d].values, ref[d].values)


def test_predict_is_bit_identical_to_the_cli(exe, tmp_path, synth_model):
    cli = cli_predict(exe, tmp_path, SAMPLE, "--probabilities")
    with xr.open_dataset(SAMPLE) as ds:
        out = synth_model.predict(ds, probabilities=True)
        assert_same_as_cli(out, cli, synth_model.classes)
        # The input's coordinates, time and attributes are kept; the mask is CF flags.
        assert out["class_mask"].dims == ("time", "lat", "lon")
        assert (out["time"].values == ds["time"].values).all()
        for k, v in ds.attrs.items():
            assert out.attrs[k] == v
        assert out["class_mask"].attrs["flag_meanings"].split() == [c.replace(" ", "_") for c in synth_model.classes]
        assert out.attrs["missing_input_cells"] == 0
        # The accessor is the same call.
        acc = ds.climseg.predict(synth_model)
        np.testing.assert_array_equal(acc["class_mask"].values, out["class_mask"].values)


def test_latitude_longitude_names_and_descending_latitude_keep_their_layout(exe, tmp_path, synth_model, sample):
    flipped = sample.isel(lat=slice(None, None, -1)).rename({"lat": "latitude", "lon": "longitude"})
    path = tmp_path / "flipped.nc"
    flipped.to_netcdf(path)
    cli = cli_predict(exe, tmp_path, path, "--probabilities")
    out = synth_model.predict(flipped, probabilities=True)
    assert out["class_mask"].dims == ("time", "latitude", "longitude")
    np.testing.assert_array_equal(out["latitude"].values, flipped["latitude"].values)
    assert out["latitude"].values[0] > out["latitude"].values[-1]
    assert_same_as_cli(out, cli, synth_model.classes)
    # The same values as on the ascending grid, mirrored.
    up = synth_model.predict(sample)
    np.testing.assert_array_equal(out["class_mask"].values[:, ::-1, :], up["class_mask"].values)


def test_missing_values_are_masked_as_the_cli_masks_fill_values(exe, tmp_path, synth_model, sample):
    ds = sample.isel(time=slice(0, 2)).copy(deep=True)
    ds["TMQ"][0, 10:20, 30:50] = np.nan
    path = tmp_path / "holes.nc"
    ds.to_netcdf(path)  # NaN is TMQ's _FillValue in the file
    cli = cli_predict(exe, tmp_path, path, "--probabilities")
    out = synth_model.predict(ds, probabilities=True)
    assert_same_as_cli(out, cli, synth_model.classes)
    assert (out["class_mask"].values[0, 10:20, 30:50] == -1).all()
    assert out.attrs["missing_input_cells"] == 200
    with pytest.raises(ValueError, match="missing input value"):
        synth_model.predict(ds, fill_policy="error")


def test_dask_chunks_give_the_in_memory_result(synth_model, sample):
    whole = synth_model.predict(sample, probabilities=True)
    lazy = synth_model.predict(sample.chunk({"time": 2}), probabilities=True)
    assert lazy["class_mask"].chunks is not None  # nothing computed yet
    assert lazy["class_mask"].chunks[0] == (2, 2, 1)
    lazy = lazy.compute()
    np.testing.assert_array_equal(lazy["class_mask"].values, whole["class_mask"].values)
    for c in synth_model.classes:
        name = "prob_" + c.replace(" ", "_")
        assert np.array_equal(lazy[name].values, whole[name].values, equal_nan=True)
    np.testing.assert_array_equal(lazy["time"].values, whole["time"].values)


def test_zarr_store_round_trip(tmp_path, synth_model, sample):
    store = tmp_path / "in.zarr"
    sample.to_zarr(store)
    z = xr.open_zarr(store)
    out = synth_model.predict(z)
    assert out["class_mask"].chunks is not None  # read from the store chunk by chunk
    out.to_zarr(tmp_path / "out.zarr")
    back = xr.open_zarr(tmp_path / "out.zarr", mask_and_scale=False)
    np.testing.assert_array_equal(back["class_mask"].values, synth_model.predict(sample)["class_mask"].values)


BOUNDED = textwrap.dedent("""
    import resource, sys
    import numpy as np, dask.array as da, xarray as xr, climseg
    T, H, W = int(sys.argv[2]), 96, 144
    lat = np.linspace(-90, 90, H); lon = np.arange(W) * 2.5
    src = xr.open_dataset(sys.argv[3]).isel(time=0).load()
    def field(name):
        base = src[name].values.astype(np.float32)
        # Made chunk by chunk when computed: the whole input never exists in memory.
        return da.map_blocks(lambda b, block_info=None: np.broadcast_to(base, b.shape).copy(),
                             da.zeros((T, H, W), chunks=(4, H, W), dtype=np.float32), dtype=np.float32)
    ds = xr.Dataset({v: (("time", "lat", "lon"), field(v), dict(src[v].attrs)) for v in ("TMQ", "U850", "V850", "PSL")},
                    coords={"lat": ("lat", lat, {"units": "degrees_north"}), "lon": ("lon", lon, {"units": "degrees_east"}),
                            "time": np.arange(T)})
    m = climseg.load_model(sys.argv[1])
    m.predict(ds.isel(time=slice(0, 4)), probabilities=True).compute()  # the network compiled, its memory taken
    base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    out = m.predict(ds, probabilities=True)
    # Reduced chunk by chunk: no output is kept whole either.
    counts = [int((out["class_mask"] == k).sum().compute(scheduler="synchronous")) for k in range(1)]
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print((peak - base) / 1024, T * H * W * 4 * 4 / 2**20, counts[0])
""")


def test_dask_input_is_processed_with_bounded_memory(tmp_path):
    # 64 steps: 14 MiB of input channels and 14 MiB of probabilities would be held by an in-memory
    # run; chunk by chunk (4 steps) the peak grows by a few MiB.
    p = subprocess.run([sys.executable, "-c", BOUNDED, str(SYNTH_MODEL), "64", str(SAMPLE)], capture_output=True,
                       text=True, env={**os.environ, "OMP_NUM_THREADS": "2"})
    assert p.returncode == 0, p.stderr
    growth_mb, input_mb, _ = map(float, p.stdout.split())
    assert input_mb > 13
    assert growth_mb < input_mb / 2, (growth_mb, input_mb)


def test_gil_is_released_while_climseg_computes(synth_model, sample):
    ticks = 0
    done = threading.Event()

    def work():
        synth_model.predict(sample)
        done.set()

    t = threading.Thread(target=work)
    t.start()
    start = time.perf_counter()
    while not done.is_set():
        ticks += 1
        time.sleep(0.001)
    t.join()
    # The main thread kept running while the network ran (held, the GIL would stop it for the whole call).
    assert ticks > 5, (ticks, time.perf_counter() - start)


def test_threads():
    old = climseg.get_threads()
    try:
        climseg.set_threads(1)
        assert climseg.get_threads() == 1
    finally:
        climseg.set_threads(old)


def test_bad_inputs_raise_value_error_with_the_cli_message(exe, tmp_path, synth_model, sample):
    # A missing channel: the same explanation as the command line's.
    ds = sample.drop_vars("TMQ").isel(time=slice(0, 1))
    ds.to_netcdf(tmp_path / "no_tmq.nc")
    code, err = run_cli(exe, "predict", "--model", SYNTH_MODEL, "--in", tmp_path / "no_tmq.nc", "--out", tmp_path / "o")
    assert code == 1
    with pytest.raises(ValueError) as e:
        synth_model.predict(ds)
    why = str(e.value).split("is missing: ")[1].split("; the ")[0]
    assert why in err, (why, err)
    # Options, coordinates, objects.
    with pytest.raises(ValueError, match="batchnorm='eval': expected running or batch"):
        synth_model.predict(sample, batchnorm="eval")
    with pytest.raises(ValueError, match="expected an xarray.Dataset"):
        synth_model.predict(sample["TMQ"].values)
    bad = sample.isel(time=slice(0, 1)).assign_coords(lat=sample["lat"].values[[1, 0] + list(range(2, 96))])
    with pytest.raises(ValueError, match="monotonic"):
        synth_model.predict(bad)
    columns = sample.isel(time=slice(0, 1)).rename({"lat": "a", "lon": "b"})
    columns["a"].attrs, columns["b"].attrs = {}, {}
    with pytest.raises(ValueError, match="variable TMQ is not on a latitude-longitude grid"):
        synth_model.predict(columns)
    # A model file that is not one: the command line's message.
    (tmp_path / "junk.h5").write_text("not hdf5")
    code, err = run_cli(exe, "predict", "--model", tmp_path / "junk.h5", "--in", SAMPLE, "--out", tmp_path / "o")
    with pytest.raises(ValueError) as e:
        climseg.load_model(tmp_path / "junk.h5")
    assert code == 1 and str(e.value) in err, (str(e.value), err)


def test_channels_found_by_level_standard_name_and_known_name(synth_model, sample, climatenet_path):
    # U850 stored as U on pressure levels: U@850 selects it, as on the command line.
    ds = sample.isel(time=slice(0, 1))
    lev = xr.DataArray([1000.0, 850.0], dims="lev", name="lev", attrs={"units": "hPa"})
    u = xr.concat([ds["U850"] * 0 + 1.0, ds["U850"]], dim=lev).transpose("time", "lev", "lat", "lon")
    other = ds.drop_vars(["U850"]).assign(U=u)
    np.testing.assert_array_equal(synth_model.predict(other)["class_mask"].values,
                                  synth_model.predict(ds)["class_mask"].values)
    with pytest.raises(ValueError, match="variable 'U' has no level 500"):
        synth_model.predict(other, channels={"U850": "U@500"})
    # A model that records its channels' standard names finds TMQ under another name.
    m = climseg.load_model(climatenet_path)
    renamed = other.rename({"TMQ": "tcwv_renamed"})
    a = m.predict(renamed)
    assert "TMQ=tcwv_renamed" in a.attrs["input_channels"] and "U850=U@850" in a.attrs["input_channels"]
    np.testing.assert_array_equal(a["class_mask"].values, m.predict(ds)["class_mask"].values)


def test_units_are_converted_and_refused_as_the_cli_does(exe, tmp_path, climatenet_path, sample):
    # ClimateNet's weights record their channels' units (the bundled synthetic model does not).
    m = climseg.load_model(climatenet_path)
    ds = sample.isel(time=slice(0, 1)).copy()
    ds["PSL"] = ds["PSL"] / 100
    ds["PSL"].attrs["units"] = "hPa"  # converted to Pa as the command line converts it
    ds.to_netcdf(tmp_path / "hpa.nc")
    code, err = run_cli(exe, "predict", "--model", climatenet_path, "--in", tmp_path / "hpa.nc", "--out",
                        tmp_path / "cli")
    assert code == 0, err
    assert_same_as_cli(m.predict(ds), next((tmp_path / "cli").glob("*.nc")), m.classes, probabilities=False)
    # Units that cannot be converted: the same reason, the fix in Python's spelling.
    ds["TMQ"].attrs["units"] = "K"
    ds.to_netcdf(tmp_path / "kelvin.nc")
    code, err = run_cli(exe, "predict", "--model", climatenet_path, "--in", tmp_path / "kelvin.nc", "--out",
                        tmp_path / "o")
    assert code == 1
    with pytest.raises(ValueError, match=r"units=\{'TMQ'") as e:
        m.predict(ds)
    assert str(e.value).split("; if its")[0].split("(channel TMQ): ")[1] in err
    # ... and the equivalent of --units lets it through.
    m.predict(ds, units={"TMQ": "kg m-2"})


def test_evaluate_gives_the_cli_scores(exe, tmp_path, synth_model, sample):
    code, err = run_cli(exe, "evaluate", "--model", SYNTH_MODEL, "--in", SAMPLE, "--json", tmp_path / "s.json")
    assert code == 0, err
    import json
    ref = json.loads((tmp_path / "s.json").read_text())
    got = climseg.evaluate(synth_model, sample)
    assert got == ref
    assert got["samples"] == sample.sizes["time"]


def test_train_from_a_dict_and_predict_with_the_checkpoint(tmp_path, sample):
    report = climseg.train({"data": {"train": [str(SAMPLE)], "channels": "TMQ,U850,V850,PSL"},
                            "model": {"type": "cgnet", "M": 1, "N": 2}, "batch_size": 2, "max_steps": 2,
                            "checkpoint_dir": str(tmp_path / "ck")})
    assert report["steps"] == 2 and np.isfinite(report["last_loss"])
    assert report["config"]["max_steps"] == 2
    m = climseg.load_model(report["last_checkpoint"])
    assert m.channels == ["TMQ", "U850", "V850", "PSL"] and m.training_grid["height"] == 96
    out = m.predict(sample.isel(time=slice(0, 1)))
    assert out["class_mask"].shape == (1, 96, 144)
    with pytest.raises(ValueError, match="max_steps"):
        climseg.train({"data": {"train": [str(SAMPLE)]}, "max_steps": "two"})
