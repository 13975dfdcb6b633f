"""climseg.detect against `climseg label` on the same file: LABELS bit for bit, the track and river
tables equal to label's CSVs at their printed precision, on the sample archive and on a copy with
latitude/longitude names and descending latitude; Dask chunks give the one-pass result; bad input
raises label's message."""

import netCDF4
import numpy as np
import pandas as pd
import pytest
import xarray as xr

from conftest import SAMPLE, run_cli

import climseg

# label's CSV formats (models/heuristics/tc_tracks.cpp, models/pipelines/label.cpp): decimals printed.
TRACK_FORMATS = {"lat": "{:.4f}", "lon": "{:.4f}", "psl_min_pa": "{:.1f}", "wind_max_m_s": "{:.2f}",
                 "vorticity_s-1": "{:.4e}", "warm_core_delta_k": "{:.3f}", "thickness_delta_m": "{:.2f}"}
RIVER_FORMATS = {"area_km2": "{:.0f}", "length_km": "{:.0f}", "width_km": "{:.0f}", "centroid_lat": "{:.3f}",
                 "centroid_lon": "{:.3f}", "peak": "{:.1f}"}


def cli_label(exe, out, path, *extra):
    code, err = run_cli(exe, "label", "--in", path, "--out", out, *extra)
    assert code == 0, err
    (f,) = out.glob("*.labels.nc")
    with netCDF4.Dataset(f) as nc:
        nc.set_auto_mask(False)
        labels = nc["LABELS"][:]
        attrs = {k: nc["LABELS"].getncattr(k) for k in nc["LABELS"].ncattrs()}
    tracks = pd.read_csv(out / "tc_tracks.csv", dtype=str, keep_default_na=False)
    rivers = pd.read_csv(out / "rivers.csv", dtype=str, keep_default_na=False) if (out / "rivers.csv").exists() else None
    return labels, attrs, tracks, rivers


def as_printed(df, formats):
    """The DataFrame as label prints it: every column text, times in ISO 8601."""
    out = pd.DataFrame()
    for c in df.columns:
        if c == "time":
            out[c] = [t.isoformat() if hasattr(t, "isoformat") else pd.Timestamp(t).isoformat() for t in df[c]]
        elif c in formats:
            out[c] = [formats[c].format(v) for v in df[c]]
        else:
            out[c] = [str(v) for v in df[c]]
    return out


def assert_same_as_label(result, cli):
    labels, attrs, tracks, rivers = cli
    got = result.labels["LABELS"]
    assert got.dtype == np.int8 and labels.dtype == np.int8
    np.testing.assert_array_equal(got.values, labels)
    for k in ("long_name", "units", "flag_meanings", "comment"):
        assert got.attrs[k] == attrs[k], k
    np.testing.assert_array_equal(got.attrs["flag_values"], attrs["flag_values"])
    assert got.attrs["flag_values"].dtype == attrs["flag_values"].dtype
    assert got.encoding["_FillValue"] == attrs["_FillValue"]
    assert list(result.tracks.columns) == list(tracks.columns)
    assert list(result.rivers.columns) == list(rivers.columns)
    pd.testing.assert_frame_equal(as_printed(result.tracks, TRACK_FORMATS), tracks)
    pd.testing.assert_frame_equal(as_printed(result.rivers, RIVER_FORMATS), rivers)


def test_detect_is_label_on_the_file(exe, tmp_path, sample):
    cli = cli_label(exe, tmp_path / "cli", SAMPLE)
    assert len(cli[2]) > 5 and len(cli[3]) > 5  # the sample has cyclone tracks and rivers
    with xr.open_dataset(SAMPLE) as ds:
        r = climseg.detect(ds)
        assert_same_as_label(r, cli)
        labels, tracks, rivers = r  # unpacks
        assert labels["LABELS"].dims == ("time", "lat", "lon")
        np.testing.assert_array_equal(labels["time"].values, ds["time"].values)
        for k, v in ds.attrs.items():
            if k != "title":  # label's files are titled so too
                assert labels.attrs[k] == v
        assert labels.attrs["title"] == "climseg heuristic labels"
        assert labels.attrs["detectors"] == "tc,ar"
        assert (labels["LABELS"].values == 1).any() and (labels["LABELS"].values == 2).any()
        # The accessor is the same call.
        acc = ds.climseg.detect()
        np.testing.assert_array_equal(acc.labels["LABELS"].values, labels["LABELS"].values)


def test_options_have_labels_names_and_defaults(exe, tmp_path, sample):
    cli = cli_label(exe, tmp_path / "cli", SAMPLE, "--detect", "tc", "--min-wind-speed", "40",
                    "--tc-mask-percentile", "50", "--tc-no-thickness")
    r = climseg.detect(sample, detectors=("tc",), min_wind_speed=40, tc_mask_percentile=50, tc_no_thickness=True)
    assert r.tracks["track_id"].nunique() == 2
    np.testing.assert_array_equal(r.labels["LABELS"].values, cli[0])
    pd.testing.assert_frame_equal(as_printed(r.tracks, TRACK_FORMATS), cli[2])
    # The same through a configuration key, and different from the defaults.
    k = climseg.detect(sample, detectors="tc", **{"tracks.min_wind_speed": 40, "tc_mask.percentile": 50,
                                                  "tracks.require_thickness": False})
    np.testing.assert_array_equal(k.labels["LABELS"].values, cli[0])
    d = climseg.detect(sample, detectors="tc")
    assert not np.array_equal(d.labels["LABELS"].values, cli[0])


def test_latitude_longitude_names_and_descending_latitude(exe, tmp_path, sample):
    # -180..180 longitudes too: the tables' longitudes are written as the file writes them.
    flipped = sample.isel(lat=slice(None, None, -1)).rename({"lat": "latitude", "lon": "longitude"})
    flipped = flipped.assign_coords(longitude=(((flipped.longitude + 180) % 360) - 180)).sortby("longitude")
    path = tmp_path / "flipped.nc"
    flipped.to_netcdf(path)
    cli = cli_label(exe, tmp_path / "cli", path)
    r = climseg.detect(flipped)
    assert r.labels["LABELS"].dims == ("time", "latitude", "longitude")
    assert r.labels["latitude"].values[0] > r.labels["latitude"].values[-1]
    np.testing.assert_array_equal(r.labels["longitude"].values, flipped["longitude"].values)
    assert (r.tracks["lon"] < 0).any() or (r.rivers["centroid_lon"] < 0).any()
    assert_same_as_label(r, cli)


def test_dask_chunks_give_the_one_pass_tracks(sample):
    whole = climseg.detect(sample)
    lazy = climseg.detect(sample.chunk({"time": 2}))
    np.testing.assert_array_equal(lazy.labels["LABELS"].values, whole.labels["LABELS"].values)
    pd.testing.assert_frame_equal(lazy.tracks, whole.tracks)
    pd.testing.assert_frame_equal(lazy.rivers, whole.rivers)
    # A track crosses the chunks' boundaries (steps 1 -> 2, 3 -> 4).
    assert any(g["step"].min() < 2 <= g["step"].max() for _, g in whole.tracks.groupby("track_id"))


def test_bad_input_raises_labels_message(exe, tmp_path, sample):
    with xr.open_dataset(SAMPLE) as ds:
        path = ds.encoding["source"]
        # No sea-level pressure: label's message, naming the file and the --var fix.
        code, err = run_cli(exe, "label", "--in", path, "--out", tmp_path / "o", "--var", "psl=")
        assert code != 0
        with pytest.raises(ValueError) as e:
            climseg.detect(ds, var={"psl": ""})
        assert str(e.value) == err.strip().removeprefix("climseg: error: ")
        # An unknown role.
        code, err = run_cli(exe, "label", "--in", path, "--out", tmp_path / "o", "--var", "PSL=NOPE")
        assert code != 0
        with pytest.raises(ValueError) as e:
            climseg.detect(ds, var={"PSL": "NOPE"})
        assert str(e.value) == err.strip().removeprefix("climseg: error: ")
        # Units that are not the role's.
        bad = ds.copy()
        bad["PSL"].attrs["units"] = "K"
        with pytest.raises(ValueError, match=r"variable PSL .*units=\{'PSL'"):
            climseg.detect(bad)
    # An unknown keyword: label's configuration message.
    with pytest.raises(ValueError, match=r"^label config: unknown key 'tc_bogus'"):
        climseg.detect(sample, tc_bogus=3)
    with pytest.raises(ValueError, match=r"^label config: 'tc.min_vorticity'"):
        climseg.detect(sample, tc_min_vorticity="abc")
    with pytest.raises(ValueError, match=r"^--detect: unknown detector 'cyclones'"):
        climseg.detect(sample, detectors=("cyclones",))
    with pytest.raises(ValueError, match=r"^detect: out= is not an option of detect"):
        climseg.detect(sample, out="x")
