"""climseg.detect: `climseg label`'s physics detectors on a Dataset (docs/python.md).

The keyword arguments are label's options, their flags spelled the Python way (--tc-min-vorticity ->
tc_min_vorticity, --var -> var, --tc-no-warm-core -> tc_no_warm_core=True), or its configuration
keys (**{"tc.min_vorticity": 1e-4}); both go through LabelConfig, so names, defaults and messages are
label's own. The roles (U850, PSL, ...) are found in the Dataset as label finds them in files: --var
first, then the names archives use, then the CF standard name (at its level)."""

import json

import numpy as np
import pandas as pd
import xarray as xr

from . import _climseg
from . import _xarray as _x

# label's options that name files or reruns: a Dataset in memory has none.
_FILE_KEYS = {"in": "the dataset is the input", "out": "detect writes no files: save the result with to_netcdf",
              "overwrite": "detect writes no files", "no_overwrite": "detect writes no files",
              "with_data": "the result sits beside the dataset: merge them (xr.merge) to keep channels with LABELS"}


def _aliases():
    """{python name: (key, kind)} from label's flags."""
    out = {}
    for flags, key, kind, _ in _climseg.label_aliases():
        for f in flags.split(","):
            f = f.strip()
            if f.startswith("--"):
                out[f[2:].replace("-", "_")] = (key, kind)
    return out


def _set(doc, dotted, value):
    node = doc
    parts = dotted.split(".")
    for p in parts[:-1]:
        nxt = node.get(p)
        if not isinstance(nxt, dict):
            nxt = node[p] = {}
        node = nxt
    node[parts[-1]] = value


def _jsonable(v):
    if isinstance(v, np.generic):
        return v.item()
    if isinstance(v, (list, tuple)):
        return [_jsonable(x) for x in v]
    if isinstance(v, dict):
        return {str(k): _jsonable(x) for k, x in v.items()}
    return v


def config(detectors=("tc", "ar"), **params):
    """label's configuration (a dict of its keys) for these detectors and options; ValueError with
    label's message for an unknown or ill-typed one."""
    doc = {}
    if isinstance(detectors, str):
        detectors = detectors.split(",")
    doc["detect"] = [str(d) for d in detectors]
    aliases = _aliases()
    for name, value in params.items():
        if name in aliases:
            key, kind = aliases[name]
        else:
            key, kind = name, "value"  # a configuration key ("tc.min_vorticity"); the Reader judges it
        top = key.split(".")[0]
        if top in _FILE_KEYS:
            raise ValueError(f"detect: {name}= is not an option of detect: {_FILE_KEYS[top]}")
        if kind in ("flag", "flag_off"):
            if not isinstance(value, (bool, np.bool_)):
                raise ValueError(f"detect: {name}= takes True or False (label's --{name.replace('_', '-')})")
            if not value:
                continue
            value = kind == "flag"
        _set(doc, key, _jsonable(value))
    text = json.dumps(doc)
    _climseg.label_roles(text)  # checks it: unknown keys and bad types raise label's message
    return doc


def _available(ds, spec, three_d):
    """Whether a role's spec (VAR, VAR@LEVEL, NAME=VAR@LEVEL) can be read from the Dataset."""
    _, var, level = _x._parse_spec(spec)
    if three_d:
        return var in ds.data_vars and bool(_level_dims_or_none(ds, ds[var]))
    try:
        _x._by_name(ds, var, level)
        return True
    except (_x._Missing, ValueError):
        return False


def _level_dims_or_none(ds, da):
    try:
        return [d for d in _x._level_dims(ds, da) if da.sizes[d] > 1]
    except ValueError:
        return []


def _by_standard_name(ds, standard_names, level, three_d):
    """Specs of the variables with one of these standard names (at `level`), as label finds them."""
    found = []
    for v in ds.data_vars:
        da = ds[v]
        if da.attrs.get("standard_name") not in standard_names:
            continue
        if three_d:
            if _level_dims_or_none(ds, da):
                found.append(str(v))
            continue
        try:
            if not level:
                if _level_dims_or_none(ds, da):
                    continue
                _x.horizontal_dims(ds, da)
                found.append(str(v))
            else:
                _x._by_name(ds, str(v), level)
                found.append(f"{v}@{level}")
        except (_x._Missing, ValueError):
            pass
    return found


def resolve_roles(ds, wanted, table, given):
    """{role: spec} as pipelines::resolve_roles resolves them against files."""
    out = {}
    for role in wanted:
        info = table[role]
        three_d = info["three_d"]
        if role in given:
            spec = given[role]
            if not spec:
                continue
            if not _available(ds, spec, three_d):
                raise ValueError(f"--var {role}={spec}: no such {'3-D ' if three_d else ''}field in the archive")
            out[role] = spec
            continue
        for cand in info["defaults"]:
            if _available(ds, cand, three_d):
                out[role] = cand
                break
        if role in out or not info["standard_names"]:
            continue
        found = _by_standard_name(ds, info["standard_names"], info["level"], three_d)
        if len(found) > 1:
            lv = f" at {info['level']}" if info["level"] else ""
            raise ValueError(f"role {role}: several variables have standard_name {' or '.join(info['standard_names'])}"
                             f"{lv} ({', '.join(found)}): choose one with --var {role}={found[0]}")
        if found:
            out[role] = found[0]
    return out


def _days(ds, layout, step_hours):
    """Times of the steps in days from the first (label's sample_days)."""
    n = layout.steps
    t = ds[layout.time_dim] if layout.time_dim and layout.time_dim in ds.coords else None
    if t is not None:
        v = t.values
        if np.issubdtype(v.dtype, np.datetime64):
            return list(((v - v[0]) / np.timedelta64(1, "s")) / 86400.0)
        if v.dtype == object and n and hasattr(v[0], "year"):
            return [(x - v[0]).total_seconds() / 86400.0 for x in v]
    import warnings
    warnings.warn(f"the dataset's time axis cannot be decoded: taking its {n} steps {step_hours:g} hours apart")
    return [i * step_hours / 24.0 for i in range(n)]


def _time_values(ds, layout):
    if layout.time_dim and layout.time_dim in ds.coords:
        return ds[layout.time_dim].values
    return np.array([f"step{i}" for i in range(layout.steps)], dtype=object)


class Detection:
    """What detect returns: `labels` (a Dataset: LABELS, CF flags, on the input's coordinates),
    `tracks` and `rivers` (pandas DataFrames: label's tc_tracks.csv and rivers.csv). Unpacks as
    `labels, tracks, rivers = climseg.detect(ds)`."""

    def __init__(self, labels, tracks, rivers):
        self.labels, self.tracks, self.rivers = labels, tracks, rivers

    def __iter__(self):
        return iter((self.labels, self.tracks, self.rivers))

    def __repr__(self):
        return (f"<climseg.Detection: LABELS {dict(self.labels['LABELS'].sizes)}, {self.tracks['track_id'].nunique()} "
                f"cyclone tracks, {len(self.rivers)} river objects>")


def detect(ds, detectors=("tc", "ar"), **params):
    """`climseg label` on a Dataset: returns a Detection (labels, tracks, rivers); see the module's doc."""
    from . import _check_dataset
    ds = _check_dataset(ds, "detect")
    doc = config(detectors, **params)
    text = json.dumps(doc)
    info = _climseg.label_roles(text)
    given = dict(doc.get("vars", {})) if isinstance(doc.get("vars"), dict) else {}
    if "vars" in doc and not isinstance(doc["vars"], dict):
        items = [doc["vars"]] if isinstance(doc["vars"], str) else doc["vars"]
        for item in items:
            role, eq, spec = str(item).partition("=")
            if not eq:
                raise ValueError(f"--var {item}: expected ROLE=VARIABLE (e.g. psl=msl)")
            given[role] = spec
    for role in given:
        if role not in info["roles"]:
            raise ValueError(f"--var {role}={given[role]}: unknown role '{role}' (roles: "
                             f"{', '.join(sorted(info['roles']))})")
    roles = resolve_roles(ds, info["wanted"], info["roles"], given)
    # 3-D roles tell the detector that IVT could be integrated (as label does); their values are not read.
    flat = {r: s for r, s in roles.items() if not info["roles"][r]["three_d"]}
    if not flat:
        raise ValueError(f"{_x._where(ds)}: none of the fields the detectors need is in the dataset")
    arrays = []
    for role, spec in flat.items():
        _, var, level = _x._parse_spec(spec)
        da, what = _x._by_name(ds, var, level)
        arrays.append((role, da, what))
    layout = _x.Layout(ds, [a for _, a, _ in arrays])
    units = doc.get("units") or {}
    if not isinstance(units, dict):
        items = [units] if isinstance(units, str) else units
        units = dict(str(i).split("=", 1) for i in items if "=" in str(i))
    file_units = [str(units.get(w.split("@")[0], units.get(w, a.attrs.get("units", "")))) for _, a, w in arrays]
    role_names = [r for r, _, _ in arrays]
    # The Detector reads the planes of `flat`; the 3-D roles only count as present for its checks.
    det = _climseg.Detector(text, role_names, list(flat.values()), file_units, layout.lat, layout.lon,
                            _x._where(ds), {r: s for r, s in roles.items() if r not in flat})
    step_hours = float(doc.get("step_hours", json.loads(_climseg.label_defaults())["step_hours"]))
    days = _days(ds, layout, step_hours)
    das = [a for _, a, _ in arrays]
    chunks = _x.time_chunks(layout, das) if _x.is_lazy(das) else [(0, layout.steps)]

    def values(t0, t1):
        return [layout.values(a, t0, t1) for a in das]

    # Pass 1 (cyclone candidates) chunk by chunk, the tracks over all steps, then pass 2 (labels).
    if "tc" in det.detectors.split(","):
        for t0, t1 in chunks:
            det.add_candidates(values(t0, t1), t0, days[t0:t1])
    track_cols = det.stitch(days)
    times = _time_values(ds, layout)
    masks, river_parts = [], []
    for t0, t1 in chunks:
        mask, rivers = det.label(values(t0, t1), t0)
        masks.append(mask)
        river_parts.append(rivers)
    mask = np.concatenate(masks, axis=0) if len(masks) > 1 else masks[0]

    classes = [c.replace(" ", "_") for c in _climseg.label_classes()]
    out = xr.Dataset(attrs=layout.attrs)
    out["LABELS"] = layout.dataarray(mask, {
        "long_name": "heuristic labels (climseg label)", "units": "1",
        "flag_values": np.arange(len(classes), dtype=np.int8), "flag_meanings": " ".join(classes),
        "comment": "priority where classes overlap: tropical_cyclone > atmospheric_river > extreme_waves"})
    out["LABELS"].encoding["_FillValue"] = np.int8(-1)
    out.attrs.update({"title": "climseg heuristic labels", "detectors": det.detectors})
    if det.ar_method:
        out.attrs["ar_method"] = det.ar_method
    out.attrs["cyclone_candidates"] = int(det.candidates)
    out.attrs["roles"] = ", ".join(f"{r}={s}" for r, s in roles.items())

    tracks = pd.DataFrame(track_cols)
    tracks.insert(2, "time", times[tracks["step"].to_numpy()] if len(tracks) else np.array([], dtype=times.dtype))
    river_cols = {k: np.concatenate([np.asarray(p[k]) for p in river_parts]) for k in river_parts[0]}
    rivers = pd.DataFrame(river_cols)
    rivers.insert(1, "time", times[rivers["step"].to_numpy().astype(np.int64)] if len(rivers)
                  else np.array([], dtype=times.dtype))
    for df in (tracks, rivers):
        for c in ("track_id", "step", "river", "warm_core", "thickness"):
            if c in df:
                df[c] = df[c].astype(np.int64)
    return Detection(out, tracks, rivers)
