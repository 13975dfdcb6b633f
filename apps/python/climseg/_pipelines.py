"""climseg.events and climseg.stats: `climseg events` and `climseg stats` on a Dataset (docs/python.md).

Keyword arguments are the commands' options, their flags spelled the Python way (--min-steps ->
min_steps), or their configuration keys; both go through the commands' configuration types, so
names, defaults and messages are the command line's."""

import io
import json

import numpy as np
import pandas as pd
import xarray as xr

from . import _climseg
from . import _xarray as _x
from ._detect import _days, _jsonable, _set


def _options(aliases, doc, params, refused, what):
    names = {}
    for flags, key, kind, _ in aliases:
        for f in flags.split(","):
            f = f.strip()
            if f.startswith("--"):
                names[f[2:].replace("-", "_")] = (key, kind)
    for name, value in params.items():
        key, kind = names.get(name, (name, "value"))
        if key.split(".")[0] in refused:
            raise ValueError(f"{what}: {name}= is not an option of {what}: {refused[key.split('.')[0]]}")
        if kind in ("flag", "flag_off"):
            if not isinstance(value, (bool, np.bool_)):
                raise ValueError(f"{what}: {name}= takes True or False (--{name.replace('_', '-')})")
            if not value:
                continue
            value = kind == "flag"
        _set(doc, key, _jsonable(value))
    return doc


def _iso(values):
    out = []
    for v in values:
        if isinstance(v, np.datetime64):
            out.append(np.datetime_as_string(v, unit="s"))
        elif hasattr(v, "isoformat"):
            out.append(v.isoformat())
        else:
            out.append(str(v))
    return out


class Events:
    """What events returns: `events` (a DataFrame: events.csv), `ids` (a Dataset: event_id of every
    cell, on the class maps' coordinates, as event_ids.nc), `points` (a DataFrame:
    event_points.csv) and `summary` (events_summary.json's statistics, a dict). Unpacks as
    `events, ids = climseg.events(labels)`."""

    def __init__(self, events, ids, points, summary):
        self.events, self.ids, self.points, self.summary = events, ids, points, summary

    def __iter__(self):
        return iter((self.events, self.ids))

    def __repr__(self):
        return f"<climseg.Events: {len(self.events)} events, {len(self.points)} event points>"


_EVENTS_REFUSED = {"in": "the class maps are the dataset given", "out": "events writes no files",
                   "field_in": "give the field as a variable of the dataset (field=NAME)",
                   "ids": "the ids are always returned", "plots": "events draws no pictures in Python",
                   "chunk": "a Dask-backed dataset is read one time chunk at a time"}


def events(labels, labels_var="auto", **params):
    """`climseg events` on class maps: a Dataset holding LABELS (climseg.detect, climseg label) or
    class_mask (predict), or a DataArray of class ids. `field="PSL"` names a variable of the same
    Dataset whose peak each component reports. Returns an Events (events, ids, points, summary)."""
    from . import _check_dataset
    ds = _check_dataset(labels, "events")
    if labels_var == "auto":
        labels_var = next((v for v in ("LABELS", "class_mask") if v in ds.data_vars), None)
        if labels_var is None:
            ints = [str(v) for v in ds.data_vars if np.issubdtype(ds[v].dtype, np.integer)]
            raise ValueError(f"{_x._where(ds)}: no class map (LABELS from climseg label, class_mask from climseg "
                             f"predict); name it with labels_var={ints[0] if ints else 'VARIABLE'!r}")
    elif labels_var not in ds.data_vars:
        raise ValueError(f"{_x._where(ds)}: no class map found (variable {labels_var}; name it with labels_var=)")
    doc = _options(_climseg.events_aliases(), {"in": ["<dataset>"], "out": "-", "ids": False, "plots": False},
                   params, _EVENTS_REFUSED, "events")
    text = json.dumps(doc)
    field = doc.get("field", "")
    maps = ds[labels_var]
    layout = _x.Layout(ds, [maps])
    ev = _climseg.Events(text, layout.lat, layout.lon)
    field_da, field_units = None, ""
    if field:
        _, var, level = _x._parse_spec(field)
        try:
            field_da, _ = _x._by_name(ds, var, level)
        except _x._Missing:
            raise ValueError(f"{_x._where(ds)}: --field {field}: unknown variable '{var}' (available: "
                             f"{', '.join(_x._fields(ds))})") from None
        field_units = str(field_da.attrs.get("units", ""))
    step_hours = float(doc.get("step_hours", json.loads(_climseg.events_defaults())["step_hours"]))
    days = _days(ds, layout, step_hours)
    times = ds[layout.time_dim].values if layout.time_dim and layout.time_dim in ds.coords else None
    iso = _iso(times) if times is not None else [f"step{i}" for i in range(layout.steps)]
    T, H, W = layout.steps, layout.lat.size, layout.lon.size
    ids = np.zeros((T, H, W), dtype=np.int32)
    arrays = [maps] + ([field_da] if field_da is not None else [])
    chunks = _x.time_chunks(layout, arrays) if _x.is_lazy(arrays) else [(0, T)]
    for t0, t1 in chunks:
        m = layout.values(maps, t0, t1)
        f = [layout.values(field_da, t0, t1)] if field_da is not None else []
        ev.add(m, f, days[t0:t1], iso[t0:t1], ids, t0, _x._where(ds), field or "", field_units)
    events_csv, points_csv, summary = ev.finish(ids)
    out = xr.Dataset(attrs=layout.attrs)
    out["event_id"] = layout.dataarray(ids, {"long_name": "event id (rows of events.csv); 0: no event"})
    out.attrs["title"] = "climseg event ids"
    table = pd.read_csv(io.StringIO(events_csv))
    points = pd.read_csv(io.StringIO(points_csv))
    return Events(table, out, points, json.loads(summary))


_STATS_REFUSED = {"in": "the dataset is the input", "out": "stats returns the statistics",
                  "percentile_map": "not in memory yet: use climseg stats --percentile-map",
                  "out_map": "not in memory yet: use climseg stats --percentile-map",
                  "map_memory_mb": "not in memory yet: use climseg stats --percentile-map"}


def stats(ds, **params):
    """`climseg stats --out -` on a Dataset: the statistics dict (count, mean, std, min, max and
    percentiles per channel, samples, area_weighted) for `vars` ("TMQ,U@850") or every 2-D field."""
    from . import _check_dataset
    ds = _check_dataset(ds, "stats")
    doc = _options(_climseg.stats_aliases(), {}, params, _STATS_REFUSED, "stats")
    fill = doc.get("fill", "mask")
    if fill != "mask":
        raise ValueError(f"stats: fill={fill!r}: in memory a channel entirely missing in a step is masked "
                         "(fill='mask'); skip and error are the command line's (climseg stats --fill)")
    # The command's checks and messages (unknown keys, types, percentiles out of range).
    _climseg.stats_check(json.dumps({**doc, "in": ["<dataset>"], "out": "-"}))
    percentiles = doc.get("percentiles", [])
    if isinstance(percentiles, str):
        percentiles = [float(p) for p in percentiles.split(",") if p]
    percentiles = [float(p) for p in (percentiles or [])]
    vars_ = doc.get("vars", "")
    if isinstance(vars_, (list, tuple)):
        vars_ = ",".join(vars_)
    if vars_:
        arrays = []
        for spec in vars_.split(","):
            _, var, level = _x._parse_spec(spec)
            try:
                da, what = _x._by_name(ds, var, level)
            except _x._Missing:
                raise ValueError(f"{_x._where(ds)}: unknown variable '{var}' (available: "
                                 f"{', '.join(_x._fields(ds))})") from None
            arrays.append((da, spec.split("=")[0] if "=" in spec else what.replace("@", "")))
    else:
        arrays = [(ds[v], v) for v in _x._fields(ds) if v != "LABELS" and not _levels(ds, ds[v])]
    if not arrays:
        raise ValueError(f"{_x._where(ds)}: no field on a latitude-longitude grid")
    layout = _x.Layout(ds, [a for a, _ in arrays])
    names = [n for _, n in arrays]
    units = [str(a.attrs.get("units", "")) for a, _ in arrays]
    st = _climseg.Stats(names, units, layout.lat, layout.lon, bool(doc.get("area_weighted", False)), percentiles)
    das = [a for a, _ in arrays]
    chunks = _x.time_chunks(layout, das) if _x.is_lazy(das) else [(0, layout.steps)]
    for second in ([False, True] if st.wants_percentiles else [False]):
        for t0, t1 in chunks:
            st.add([layout.values(a, t0, t1) for a in das], second)
    return json.loads(st.json())


def _levels(ds, da):
    try:
        return [d for d in _x._level_dims(ds, da) if da.sizes[d] > 1]
    except ValueError:
        return []
