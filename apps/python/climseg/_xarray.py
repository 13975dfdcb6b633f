"""xarray to climseg and back: channels found in a Dataset as the command line finds them in a
file, handed to the compiled module without copies where the layout allows (float32, C order),
and results returned as a Dataset on the input's own coordinates (docs/python.md)."""

import re

import numpy as np
import xarray as xr

from . import _climseg

_LAT_NAMES = ("lat", "latitude", "nav_lat", "y", "rlat", "lat_0", "g0_lat_0")
_LON_NAMES = ("lon", "longitude", "nav_lon", "x", "rlon", "lon_0", "g0_lon_1")


def _where(ds):
    """How messages name the dataset: its source file when xarray recorded one."""
    src = ds.encoding.get("source") if hasattr(ds, "encoding") else None
    return src or "the dataset"


def _is_lat(name, coord):
    attrs = coord.attrs if coord is not None else {}
    return (name.lower() in _LAT_NAMES or attrs.get("standard_name") == "latitude"
            or attrs.get("units") in ("degrees_north", "degree_north", "degree_N", "degrees_N"))


def _is_lon(name, coord):
    attrs = coord.attrs if coord is not None else {}
    return (name.lower() in _LON_NAMES or attrs.get("standard_name") == "longitude"
            or attrs.get("units") in ("degrees_east", "degree_east", "degree_E", "degrees_E"))


def horizontal_dims(ds, da):
    """(latitude dim, longitude dim) of a variable; ValueError naming it when it has none."""
    lat = [d for d in da.dims if _is_lat(d, ds.coords.get(d))]
    lon = [d for d in da.dims if _is_lon(d, ds.coords.get(d))]
    if len(lat) != 1 or len(lon) != 1:
        raise ValueError(f"{_where(ds)}: variable {da.name} is not on a latitude-longitude grid "
                         f"(dimensions {', '.join(map(str, da.dims))}): climseg needs 1-D latitude and longitude")
    return lat[0], lon[0]


def _level_dims(ds, da):
    lat, lon = horizontal_dims(ds, da)
    return [d for d in da.dims if d not in (lat, lon) and not _is_time(ds, d)]


def _is_time(ds, dim):
    c = ds.coords.get(dim)
    if dim.lower() in ("time", "t", "valid_time", "date"):
        return True
    if c is not None and (np.issubdtype(c.dtype, np.datetime64) or c.dtype == object
                          or c.attrs.get("axis") == "T" or c.attrs.get("standard_name") == "time"):
        return True
    unlimited = ds.encoding.get("unlimited_dims") or ()
    return dim in unlimited


def _describe_levels(coord):
    units = coord.attrs.get("units", "")
    return ", ".join(f"{v:g}" for v in np.asarray(coord.values, dtype=float)) + (f" {units}" if units else "")


class _Missing(Exception):
    pass


def _by_name(ds, var, level):
    """The variable `var` (at `level`) as a DataArray without a level dimension, or _Missing."""
    digits = "".join(c for c in level if c.isdigit() or c == ".") if level and not level.startswith("#") else ""
    if var in ds.data_vars:
        da = ds[var]
        levels = _level_dims(ds, da)
        if level:
            if levels:
                dim = levels[0]
                coord = ds.coords.get(dim)
                values = np.asarray(coord.values if coord is not None else np.arange(da.sizes[dim]), dtype=float)
                k = _climseg.level_index(dim, values, coord.attrs.get("units", "") if coord is not None else "",
                                         coord.attrs.get("standard_name", "") if coord is not None else "", level)
                if k >= 0:
                    return da.isel({dim: k}), f"{var}@{level}"
                if digits and var + digits in ds.data_vars and not _level_dims(ds, ds[var + digits]):
                    return ds[var + digits], var + digits
                raise ValueError(f"{_where(ds)}: variable '{var}' has no level {level} (levels: "
                                 f"{_describe_levels(coord) if coord is not None else da.sizes[dim]})")
            if digits and var + digits in ds.data_vars and not _level_dims(ds, ds[var + digits]):
                return ds[var + digits], var + digits
            raise ValueError(f"{_where(ds)}: variable '{var}' has no vertical levels, so '@{level}' cannot select one")
        if levels:
            dim = levels[0]
            if da.sizes[dim] > 1:
                coord = ds.coords.get(dim)
                first = float(coord.values[0]) if coord is not None else 0.0
                raise ValueError(f"{_where(ds)}: variable '{var}' has {da.sizes[dim]} levels "
                                 f"({_describe_levels(coord) if coord is not None else ''}): choose one, "
                                 f"e.g. {var}@{first:g}")
            da = da.isel({dim: 0})
        return da, var
    if digits and var + digits in ds.data_vars and not _level_dims(ds, ds[var + digits]):
        return ds[var + digits], var + digits
    raise _Missing(f"no variable {var}" + (f"@{level}" if level else ""))


def _fields(ds):
    """The variables on a latitude-longitude grid, in the dataset's order."""
    out = []
    for v in ds.data_vars:
        try:
            horizontal_dims(ds, ds[v])
            out.append(str(v))
        except ValueError:
            pass
    return out


def _parse_spec(text):
    """"NAME=VAR@LEVEL" -> (name, var, level); the [FILE] selector means nothing for a Dataset."""
    name, _, rest = text.rpartition("=")
    rest = re.sub(r"\[.*\]$", "", rest)
    var, _, level = rest.partition("@")
    return (name or var), var, level


def _level_text(level):
    m = re.match(r"^([0-9.eE+-]+)\s*([A-Za-z]*)$", level or "")
    if not m:
        return level
    return f"{m.group(1)} {m.group(2) or 'hPa'}"


def resolve_channels(ds, specs):
    """The model's channels in its order: [(DataArray, variable name, how)], found by name, then by
    CF standard name (and level), then by the names archives use; ValueError listing every channel
    that is missing, as the command line does."""
    found, missing, fix = [], [], []
    for s in specs:
        try:
            da, what = _by_name(ds, s["var"], s["level"])
            found.append((da, what, "by name"))
            continue
        except _Missing:
            pass
        if not s["standard_names"] and not s["aliases"]:
            missing.append(f"{s['name']}: unknown variable '{s['var']}' (available: {', '.join(_fields(ds)) or 'none'})")
            fix.append(f"'{s['name']}': VAR")
            continue
        tried = [f"no variable {s['text']}"]
        level = s["standard_level"] or s["level"]
        hit = None
        if s["standard_names"]:
            cands = []
            for v in ds.data_vars:
                if ds[v].attrs.get("standard_name") not in s["standard_names"]:
                    continue
                try:
                    cands.append(_by_name(ds, v, level) + (f"by standard_name {ds[v].attrs['standard_name']}",))
                except (_Missing, ValueError):
                    pass
            if len(cands) > 1:
                raise ValueError(f"{_where(ds)}: channel {s['name']}: several variables have standard_name "
                                 f"{s['standard_names'][0]}{' at ' + _level_text(level) if level else ''} "
                                 f"({', '.join(c[1] for c in cands)}): name one, e.g. "
                                 f"channels={{'{s['name']}': '{cands[0][1]}'}}")
            if cands:
                hit = cands[0]
            else:
                tried.append(f"none with standard_name {' or '.join(s['standard_names'])}"
                             + (f" at {_level_text(level)}" if level else ""))
        if hit is None:
            for alias in s["aliases"]:
                _, var, lv = _parse_spec(alias)
                try:
                    da, what = _by_name(ds, var, lv)
                    hit = (da, what, "by known name")
                    break
                except (_Missing, ValueError):
                    pass
            else:
                if s["aliases"]:
                    tried.append(f"none of {', '.join(s['aliases'])}")
        if hit is None:
            wanted = s["name"]
            extra = [x for x in (s["units"], s["standard_names"][0] if s["standard_names"] else "") if x]
            if level and extra:
                extra[-1] += f" at {_level_text(level)}"
            if extra:
                wanted += f" ({', '.join(extra)})"
            missing.append(f"{wanted}: {', '.join(tried)}")
            fix.append(f"'{s['name']}': VAR")
            continue
        found.append(hit)
    if missing:
        avail = [v if not ds[v].attrs.get("standard_name") else f"{v} ({ds[v].attrs['standard_name']})"
                 for v in _fields(ds)]
        raise ValueError(f"{_where(ds)}: {len(missing)} of the {len(specs)} channels "
                         f"{'is missing' if len(missing) == 1 else 'are missing'}: {'; '.join(missing)}; the dataset "
                         f"has {', '.join(avail) if avail else 'no fields'}; name the variable of each with "
                         f"channels={{{', '.join(fix)}}}")
    return found


def channels_given(channels):
    """The `channels=` argument ({"TMQ": "IWV"}, "TMQ=IWV,PSL=SLP" or ["TMQ=IWV"]) as the command
    line's --channels text."""
    if channels is None:
        return ""
    if isinstance(channels, str):
        return channels
    if isinstance(channels, dict):
        return ",".join(f"{k}={v}" for k, v in channels.items())
    return ",".join(channels)


class Layout:
    """Where the channels sit: their dimensions (time?, lat, lon), coordinates and attributes."""

    def __init__(self, ds, arrays):
        first = arrays[0]
        self.lat_dim, self.lon_dim = horizontal_dims(ds, first)
        other = [d for d in first.dims if d not in (self.lat_dim, self.lon_dim)]
        if len(other) > 1:
            raise ValueError(f"{_where(ds)}: variable {first.name} has dimensions {', '.join(map(str, first.dims))}: "
                             "climseg takes (time, latitude, longitude) once a level is chosen")
        self.time_dim = other[0] if other else None
        self.dims = ((self.time_dim,) if self.time_dim else ()) + (self.lat_dim, self.lon_dim)
        for a in arrays[1:]:
            if set(a.dims) != set(self.dims):
                raise ValueError(f"{_where(ds)}: variable {a.name} has dimensions {', '.join(map(str, a.dims))}, "
                                 f"{first.name} has {', '.join(map(str, first.dims))}: the channels must share "
                                 "one grid and time axis")
        if self.lat_dim not in ds.coords or self.lon_dim not in ds.coords:
            raise ValueError(f"{_where(ds)}: no latitude or longitude coordinate values ({self.lat_dim}, "
                             f"{self.lon_dim}): climseg needs them")
        self.lat = np.asarray(ds[self.lat_dim].values, dtype=np.float64)
        self.lon = np.asarray(ds[self.lon_dim].values, dtype=np.float64)
        self.steps = first.sizes[self.time_dim] if self.time_dim else 1
        self.coords = {k: v for k, v in first.coords.items() if set(v.dims) <= set(self.dims)}
        self.attrs = dict(ds.attrs)

    def values(self, da, t0=None, t1=None):
        """(steps, H, W) float32, C order: a view of the data when it is so already."""
        da = da.transpose(*self.dims)
        if self.time_dim and t0 is not None:
            da = da.isel({self.time_dim: slice(t0, t1)})
        a = np.ascontiguousarray(da.values, dtype=np.float32)
        return a if self.time_dim else a[np.newaxis]

    def lazy(self, da, t0, t1):
        """Steps [t0, t1) of a variable (time, H, W) as its Dask (or numpy) array, not computed."""
        da = da.transpose(*self.dims)
        if self.time_dim:
            da = da.isel({self.time_dim: slice(t0, t1)})
        return da.data

    def dataarray(self, data, attrs, t0=None, t1=None):
        if not self.time_dim:
            data = data[0]
        coords = dict(self.coords)
        if self.time_dim and t0 is not None and self.time_dim in coords:
            coords[self.time_dim] = coords[self.time_dim].isel({self.time_dim: slice(t0, t1)})
        return xr.DataArray(data, dims=self.dims, coords=coords, attrs=attrs)


def is_lazy(arrays):
    return any(a.chunks is not None for a in arrays)


def time_chunks(layout, arrays):
    """[(t0, t1)] along time: the Dask chunks of the first lazy channel, else one block."""
    if layout.time_dim:
        for a in arrays:
            if a.chunks is not None:
                sizes = a.chunksizes.get(layout.time_dim) if hasattr(a, "chunksizes") else None
                if sizes:
                    bounds, t = [], 0
                    for n in sizes:
                        bounds.append((t, t + n))
                        t += n
                    return bounds
    return [(0, layout.steps)]
