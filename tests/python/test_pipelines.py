"""climseg.events and climseg.stats against `climseg events` and `climseg stats --out -` on the same
files: the event tables and the id map equal, the statistics equal (same numbers, same JSON)."""

import json
import subprocess

import netCDF4
import numpy as np
import pandas as pd
import pytest
import xarray as xr

from conftest import SAMPLE, run_cli

import climseg


@pytest.fixture(scope="module")
def label_file(exe, tmp_path_factory):
    out = tmp_path_factory.mktemp("label")
    code, err = run_cli(exe, "label", "--in", SAMPLE, "--out", out, "--with-data", "PSL")
    assert code == 0, err
    (f,) = out.glob("*.labels.nc")
    return f


def cli_events(exe, out, path, *extra):
    code, err = run_cli(exe, "events", "--in", path, "--out", out, "--no-plots", *extra)
    assert code == 0, err
    with netCDF4.Dataset(out / "event_ids.nc") as nc:
        ids = nc["event_id"][:].filled(0) if np.ma.isMaskedArray(nc["event_id"][:]) else nc["event_id"][:]
    summary = json.loads((out / "events_summary.json").read_text())
    return pd.read_csv(out / "events.csv"), pd.read_csv(out / "event_points.csv"), ids, summary


@pytest.mark.parametrize("extra", [(), ("--field", "PSL", "--peak", "min", "--min-steps", "2")])
def test_events_is_the_cli_on_the_file(exe, tmp_path, label_file, extra):
    events, points, ids, summary = cli_events(exe, tmp_path / "cli", label_file, *extra)
    assert len(events) > 3
    kwargs = {}
    if extra:
        kwargs = {"field": "PSL", "peak": "min", "min_steps": 2}
    with xr.open_dataset(label_file) as ds:
        r = climseg.events(ds, **kwargs)
        pd.testing.assert_frame_equal(r.events, events)
        pd.testing.assert_frame_equal(r.points, points)
        np.testing.assert_array_equal(r.ids["event_id"].values, ids)
        assert r.ids["event_id"].dims == ds["LABELS"].dims
        for k in ("classes", "steps", "events_started", "events_kept", "link", "grid"):
            assert r.summary[k] == summary[k], k
        table, id_ds = r  # unpacks
        assert table is r.events and id_ds is r.ids
        acc = ds.climseg.events(**kwargs)
        pd.testing.assert_frame_equal(acc.events, events)


def test_events_of_detect_in_memory_are_those_of_the_label_file(exe, tmp_path, sample, label_file):
    events, _, ids, _ = cli_events(exe, tmp_path / "cli", label_file)
    r = climseg.events(climseg.detect(sample).labels)
    pd.testing.assert_frame_equal(r.events, events)
    np.testing.assert_array_equal(r.ids["event_id"].values, ids)
    # Dask chunks give the same events.
    lazy = climseg.events(climseg.detect(sample).labels.chunk({"time": 2}))
    pd.testing.assert_frame_equal(lazy.events, events)


@pytest.mark.parametrize("extra", [(), ("--percentiles", "5,50,95", "--area-weighted")])
def test_stats_is_the_cli_on_the_file(exe, sample, extra):
    p = subprocess.run([exe, "-q", "stats", "--in", str(SAMPLE), "--out", "-", *extra], capture_output=True,
                       text=True, check=True)
    ref = json.loads(p.stdout)
    kwargs = {"percentiles": [5, 50, 95], "area_weighted": True} if extra else {}
    got = climseg.stats(sample, **kwargs)
    assert got["channels"] == ref["channels"]
    for k in ("samples", "area_weighted"):
        assert got[k] == ref[k], k
    # Chosen channels, by name and level spec; Dask chunk by chunk.
    p = subprocess.run([exe, "-q", "stats", "--in", str(SAMPLE), "--out", "-", "--vars", "TMQ,PSL"],
                       capture_output=True, text=True, check=True)
    two = climseg.stats(sample.chunk({"time": 2}), vars="TMQ,PSL")
    assert two["channels"] == json.loads(p.stdout)["channels"]


def test_bad_input_raises_the_commands_messages(sample):
    with pytest.raises(ValueError, match=r"^stats config: unknown key 'bogus'"):
        climseg.stats(sample, bogus=1)
    with pytest.raises(ValueError, match=r"^events config: unknown key 'bogus'"):
        climseg.events(climseg.detect(sample, detectors="ar").labels, bogus=1)
    with pytest.raises(ValueError, match=r"no class map"):
        climseg.events(sample.drop_vars("LABELS"))
    bad = sample[["TMQ"]].assign(LABELS=sample["TMQ"])
    with pytest.raises(ValueError, match=r"step 0: the class map holds values such as .* are not class ids"):
        climseg.events(bad)
