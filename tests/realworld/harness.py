"""Real-world variants of real and synthetic files, through every climseg command.

Each case (tests/realworld/cases_<group>.py) makes a variant of a real file or of `climseg synth`
output with cdo, nco or netCDF4-python (other coordinate names, orientations, packings, formats,
time axes, ...) in a temporary folder, and says what each command should do with it. The driver
runs inspect, stats, label, predict, evaluate, events and plot on it and checks:

- values against numpy: inspect's grid shape, stats' count/mean/min/max, label's masks (a
  threshold that numpy applies cell by cell), predict's class masks (the same as on the case's
  source, cell for cell by coordinates, where the variant keeps the values), plot's map (every
  pixel whose nearest cell is unambiguous has viridis' colour of that cell's value, grey where it
  is missing, the colour bar's range given);
- outputs in the input's own layout: the masks' dimensions named and ordered as the input's
  field, coordinate values and time values as in the input (CF units where the input's are
  readable but not CF), events' longitudes in the input's convention;
- every NetCDF output opens with xarray (decode_times=True: dates where the input has them) and
  `cdo sinfon`;
- or, where a case expects it, a refusal: the exit code (2 usage, 1 data) and one line naming the
  problem.

Usage: realworld.py --climseg EXE --data DIR --model MODEL.h5 --group GROUP [--case NAME]
       [--keep DIR] [--table FILE]. Exit 0 all passed, 1 a failure, 77 skipped (no data or python
modules).
"""
import argparse
import glob
import importlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import traceback
import warnings

SKIP = 77
HERE = os.path.dirname(os.path.abspath(__file__))

try:
    import numpy as np
    import netCDF4
    import xarray as xr
except ImportError as e:  # pragma: no cover - depends on the machine
    print(f"realworld: skipped: {e} (needs /usr/bin/python3 with numpy, netCDF4, xarray)")
    sys.exit(SKIP)

warnings.filterwarnings("ignore", module="netCDF4")  # ERA-Interim's NaN _FillValue on shorts, said once by climseg
np.seterr(invalid="ignore")

COMMANDS = ["inspect", "stats", "label", "predict", "evaluate", "events", "plot"]


class Failure(Exception):
    """A check that failed: the message says what was expected and what came."""


# ---------------------------------------------------------------------------------------------
# What a case gives the driver


class Refusal:
    """A command expected to stop: exit code and a piece of its one-line message."""

    def __init__(self, code, text):
        self.code, self.text = code, text

    def __repr__(self):
        return f"refused (exit {self.code}): {self.text}"


class Variant:
    """A variant archive and what the commands should do with it.

    files: the archive's files (several files make one archive, in the order given).
    field: the variable labelled (as --var hs=FIELD), drawn and summed up; level: its level
      spec (e.g. "500") when it has levels.
    threshold: label's --waves-threshold; None: a value between two data values near the 90th
      percentile is chosen.
    channels: predict/evaluate --channels (None: the model's own); model: False for no predict.
    source: a Variant this one was made from, for cell-by-cell comparisons of predictions
      (same_values: the variant holds the same values, so the masks must be identical; otherwise
      `agreement` is the least fraction of equal cells).
    expect: {command: Refusal} for commands that must refuse.
    time_units: the units outputs must carry ("" : as the input's time coordinate).
    history_note: a text the outputs' history must hold (a rewritten time, ...).
    label_args, predict_args: extra arguments.
    model_path: the model of predict/evaluate (None: the driver's --model, a names-only CGNet);
      layout_var: the input variable the outputs' layout is compared with (None: TMQ, or the
      field with --channels).
    missing: boxes (t0, t1, r0, r1, c0, c1), in file order, of cells with a missing input: predict
      must write _FillValue in class_mask and every probability exactly there.
    """

    def __init__(self, files, field, level=None, threshold=None, channels=None, model=True, source=None,
                 same_values=True, agreement=1.0, expect=None, time_units="", history_note="", label_args=(),
                 predict_args=(), labels=True, note="", field_files=None, model_path=None, layout_var=None,
                 missing=None):
        self.files = list(files)
        # The files that hold the field, one output each (an archive with one variable per file
        # has its outputs named after the file of the first variable).
        self.field_files = list(field_files or files)
        self.field, self.level, self.threshold = field, level, threshold
        self.channels, self.model, self.source = channels, model, source
        self.same_values, self.agreement = same_values, agreement
        self.expect = dict(expect or {})
        self.time_units, self.history_note = time_units, history_note
        self.label_args, self.predict_args = list(label_args), list(predict_args)
        self.labels = labels  # the files hold LABELS (evaluate can score)
        self.note = note
        self.model_path, self.layout_var, self.missing = model_path, layout_var, missing


class Case:
    def __init__(self, name, group, made_with, make):
        self.name, self.group, self.made_with, self.make = name, group, made_with, make


CASES = []


def case(group, made_with):
    """Registers a case maker: make(ctx) -> Variant."""

    def wrap(fn):
        CASES.append(Case(fn.__name__, group, made_with, fn))
        return fn

    return wrap


# ---------------------------------------------------------------------------------------------
# Running things


def run(cmd, cwd=None, check=True):
    p = subprocess.run(cmd, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    if check and p.returncode != 0:
        raise Failure(f"{' '.join(cmd)}: exit {p.returncode}: {p.stderr.strip()[-400:]}")
    return p


class Context:
    """Shared between cases: the climseg executable, the real data, the sources made once."""

    def __init__(self, climseg, data, model, tmp):
        self.climseg, self.data, self.model, self.tmp = climseg, data, model, tmp
        self._sources = {}

    def real(self, name):
        path = os.path.join(self.data, name)
        if not os.path.exists(path):
            raise FileNotFoundError(path)
        return path

    def folder(self, name):
        d = os.path.join(self.tmp, name)
        os.makedirs(d, exist_ok=True)
        return d

    def climseg_run(self, args, check=True):
        return run([self.climseg, "--no-progress", "-q"] + args, check=check)

    def synth(self, key="base", args=()):
        """A small synthetic CAM5-like archive (2 files x 2 steps, 48x72, with waves), made once."""
        if key not in self._sources:
            out = self.folder("synth_" + key)
            self.climseg_run(["synth", "--out", out, "--grid", "48x72", "--steps", "4", "--steps-per-file", "2",
                              "--hours", "6", "--seed", "3", "--waves", "--cyclones", "6", "--rivers", "6"] +
                             list(args))
            files = sorted(glob.glob(os.path.join(out, "*.cam.h2.*.nc")))
            waves = sorted(glob.glob(os.path.join(out, "waves", "*.nc")))
            self._sources[key] = (files, waves)
        return self._sources[key]

    def climatenet(self):
        """ClimateNet's published weights (../shared/data/climatenet), whose channels carry units,
        standard names and levels."""
        path = os.path.join(os.path.dirname(os.path.abspath(self.data)), "climatenet", "cgnet_climatenet.h5")
        if not os.path.exists(path):
            raise FileNotFoundError(path)
        return path

    def synth_variant(self, key="base"):
        """The synthetic archive itself as a Variant (one object per key: its predictions are made
        once and compared with every variant made from it)."""
        k = "variant_" + key
        if k not in self._sources:
            files, _ = self.synth(key)
            self._sources[k] = Variant(files, "TMQ")
        return self._sources[k]


# ---------------------------------------------------------------------------------------------
# numpy references


def read_field(path, var, level_index=None):
    """The variable as netCDF4 reads it (scaled, masked), float64, file order; (steps, H, W)."""
    with netCDF4.Dataset(path) as d:
        v = d.variables[var]
        v.set_auto_maskandscale(True)
        a = v[:]
        dims = v.dimensions
        a = np.ma.masked_invalid(np.ma.asarray(a, dtype=np.float64))
        if level_index is not None:
            a = np.ma.take(a, level_index, axis=len(dims) - 3)
            dims = dims[:len(dims) - 3] + dims[len(dims) - 2:]
        if a.ndim == 2:
            a = a[None]
        return a, dims


def canonical_columns(lon):
    """Columns of a file's longitude that the grid holds: a repeated first meridian is one."""
    lon = np.asarray(lon, dtype=np.float64)
    if len(lon) > 2:
        step = (lon[-1] - lon[0]) / (len(lon) - 1)
        if abs(step * (len(lon) - 1) - 360) < 1e-3 * abs(step):
            return len(lon) - 1
    return len(lon)


def coords_of(path):
    """(lat name, lon name, lat values, lon values) found as climseg finds them (simplified)."""
    with netCDF4.Dataset(path) as d:
        lat = lon = None
        for name, v in d.variables.items():
            if v.ndim != 1:
                continue
            sn = getattr(v, "standard_name", "")
            units = getattr(v, "units", "")
            axis = getattr(v, "axis", "")
            if lat is None and (sn == "latitude" or units in ("degrees_north", "degree_north") or axis == "Y" or
                                name in ("lat", "latitude")):
                lat = name
            if lon is None and (sn == "longitude" or units in ("degrees_east", "degree_east") or axis == "X" or
                                name in ("lon", "longitude")):
                lon = name
        return lat, lon, np.array(d.variables[lat][:], dtype=np.float64), np.array(d.variables[lon][:],
                                                                                    dtype=np.float64)


def choose_threshold(values):
    """A threshold between two distinct data values near the 90th percentile (never equal to one,
    so float32 and float64 readings of the data agree on every cell)."""
    v = np.unique(np.asarray(values.compressed(), dtype=np.float32))
    if len(v) < 2:
        raise Failure("the field has fewer than two distinct values")
    k = min(len(v) - 2, int(0.9 * (len(v) - 1)))
    return float((np.float64(v[k]) + np.float64(v[k + 1])) / 2)


def match_index(source_values, target_values, periodic=False):
    """For each target coordinate, the index of the same value among the source's (longitudes
    compared modulo 360)."""
    s = np.asarray(source_values, dtype=np.float64)
    out = []
    for t in np.asarray(target_values, dtype=np.float64):
        d = np.abs(s - t)
        if periodic:
            d = np.minimum(d % 360.0, 360.0 - d % 360.0)
        k = int(np.argmin(d))
        if d[k] > 1e-4:
            return None
        out.append(k)
    return np.array(out)


# ---------------------------------------------------------------------------------------------
# Checks of outputs


def xarray_open(path):
    """None when xarray opens the file with dates decoded, else its complaint (one line)."""
    try:
        with xr.open_dataset(path, decode_times=True) as ds:
            ds.load()
        return None
    except Exception as e:  # noqa: BLE001 - any refusal is the answer
        return f"{type(e).__name__}: {str(e).splitlines()[0]}"


PLOT_WIDTH = 720  # pixels of the map area asked of `climseg plot` (its frame: 56 px left, 64 px top)


def viridis_rgb(t):
    """climseg's viridis: matplotlib's 256 colours, linear between neighbours, rounded."""
    from matplotlib import colormaps  # python3-matplotlib (TEST_PACKAGES)
    lut = np.asarray(colormaps["viridis"].colors, dtype=np.float64) * 255.0
    t = np.clip(np.nan_to_num(t, nan=0.0), 0.0, 1.0) * 255.0
    k = np.minimum(254, t.astype(np.int64))
    f = (t - k)[..., None]
    return np.floor((1 - f) * lut[k] + f * lut[k + 1] + 0.5)


def nearest_two(coords, x, step, periodic):
    """For each x, the index of the nearest coordinate, and the second nearest where it is nearly
    as near (within a fifth of a cell: a pixel on a cell boundary may take either), else the same."""
    d = np.abs(coords[None, :] - x[:, None])
    if periodic:
        d = np.minimum(d % 360.0, 360.0 - d % 360.0)
    order = np.argsort(d, axis=1, kind="stable")
    best = order[:, 0]
    if d.shape[1] < 2:
        return best, best
    rows = np.arange(len(x))
    near = d[rows, order[:, 1]] - d[rows, best] <= 0.2 * step
    return best, np.where(near, order[:, 1], best)


def check_map_pixels(png, step, path, vmin, vmax):
    """Every pixel of the map area of `png` (climseg plot --width PLOT_WIDTH --no-coastlines, no
    labels, no tracks) against the colour of its nearest cell in `step` (the file's own layout,
    masked where missing; on a cell boundary either cell): viridis((v - vmin) / (vmax - vmin))
    within 1 per channel, grey (208) where the cell is missing, or either under the graticule's 25%
    white (once, or twice where lines cross). Returns a note for the table (empty when every pixel
    was checked and right); raises Failure on a wrong pixel."""
    try:
        from PIL import Image
    except ImportError:
        return "pixels not checked: python3-pil missing"
    img = np.asarray(Image.open(png).convert("RGB"), dtype=np.float64)
    _, _, lat, lon = coords_of(path)
    step = np.ma.asarray(step)
    if canonical_columns(lon) != len(lon):  # a repeated first meridian is one column
        lon, step = lon[:-1], step[:, :-1]
    dlat = abs(lat[1] - lat[0]) if len(lat) > 1 else 1.0
    asc = np.mod(lon - lon[0], 360.0)  # longitudes ascending modulo 360 from the first
    dlon = asc[1] - asc[0] if len(lon) > 1 else 1.0
    periodic = abs(dlon * len(lon) - 360.0) < 1e-3 * dlon
    top, bottom = min(90.0, lat.max() + 0.5 * dlat), max(-90.0, lat.min() - 0.5 * dlat)
    if periodic:
        lon_left, lon_span = -0.5 * dlon, 360.0  # --lon0 0
    else:
        lon_left, lon_span = lon[0] - 0.5 * dlon, asc[-1] + dlon
    mw = PLOT_WIDTH
    mh = max(40, int(np.floor(mw * (top - bottom) / lon_span + 0.5)))
    if mh > 1200:
        return "pixels not checked: a tall regional map is scaled"
    plon = lon_left + (np.arange(mw) + 0.5) / mw * lon_span
    plat = top - (np.arange(mh) + 0.5) / mh * (top - bottom)
    cols = nearest_two(lon, plon, dlon, True)
    rows = nearest_two(lat, plat, dlat, False)
    area = img[64:64 + mh, 56:56 + mw]
    if area.shape[:2] != (mh, mw):
        raise Failure(f"plot: the picture is {img.shape[1]}x{img.shape[0]}, too small for a {mw}x{mh} map")
    ok = np.zeros((mh, mw), dtype=bool)
    first = None
    for row in rows:
        for col in cols:
            cells = step[np.ix_(row, col)]
            missing = np.ma.getmaskarray(cells)
            v = np.ma.filled(cells.astype(np.float32), np.nan).astype(np.float64)
            want = viridis_rgb((v - vmin) / (vmax - vmin))
            want[missing] = 208.0
            ok |= (np.abs(area - want) <= 1).all(axis=2)
            for white in (0.25, 1 - 0.75**2):  # under one graticule line, or where two cross
                ok |= (np.abs(area - (want + white * (255.0 - want))) <= 2).all(axis=2)
            if first is None:
                first = (v, missing, want)
    if not ok.all():
        y, x = np.argwhere(~ok)[0]
        v, missing, want = first
        raise Failure(f"plot: {int((~ok).sum())} of {ok.size} map pixels have the wrong colour; the first at "
                      f"({plat[y]:.2f}N, {plon[x]:.2f}E) is {area[y, x].astype(int).tolist()}, its cell "
                      f"{'missing' if missing[y, x] else f'{v[y, x]:.6g}'} wants {want[y, x].astype(int).tolist()}")
    return ""


def check_run_key(path, command):
    """The output carries the run key of `command` naming its inputs (issue 16 item 4)."""
    with netCDF4.Dataset(path) as d:
        text = getattr(d, "climseg_run_key", None)
    if text is None:
        raise Failure(f"{os.path.basename(path)} has no climseg_run_key")
    key = json.loads(text)
    if key.get("command") != command or not key.get("inputs") or "climseg" not in key:
        raise Failure(f"{os.path.basename(path)}: run key {text[:120]} lacks the command, inputs or version")


def check_opens(path, source):
    """The output opens with cdo, and with xarray wherever xarray opens its input."""
    p = run(["cdo", "-s", "sinfon", path], check=False)
    if p.returncode != 0:
        raise Failure(f"cdo sinfon {os.path.basename(path)}: {p.stderr.strip()[:300]}")
    mine = xarray_open(path)
    if mine is not None:
        theirs = xarray_open(source)
        if theirs is None:
            raise Failure(f"xarray cannot open {os.path.basename(path)} ({mine}) but opens its input")
        return f"xarray refuses it as it refuses the input ({theirs[:80]})"
    return ""


def time_var_of(d, field_dims):
    """The input's time coordinate: the record dimension's variable, or a scalar one named in
    `coordinates`/called time."""
    for name in field_dims[:-2]:
        if name in d.variables:
            return d.variables[name]
    for name, v in d.variables.items():
        if v.ndim == 0 and name in ("time", "t", "valid_time", "timestep"):
            return v
    return None


def check_layout(out_path, in_path, out_var, in_var, variant):
    """Dimensions, coordinates and time of an output against its input file."""
    with netCDF4.Dataset(in_path) as di, netCDF4.Dataset(out_path) as do:
        vi, vo = di.variables[in_var], do.variables[out_var]
        in_dims = tuple(d for d in vi.dimensions if d not in level_dims(di, vi))
        if vo.dimensions != in_dims:
            raise Failure(f"{out_var}{vo.dimensions} but the input's {in_var}{in_dims}")
        for dim in in_dims[-2:]:
            if dim in di.variables:
                a, b = np.array(di.variables[dim][:]), np.array(do.variables[dim][:])
                if a.shape != b.shape or not np.array_equal(a, b):
                    raise Failure(f"coordinate {dim} differs from the input's")
        ti = time_var_of(di, vi.dimensions)
        if ti is None:
            if any(v.ndim == 0 and getattr(v, "units", "").find("since") >= 0 for v in do.variables.values()):
                raise Failure("the output has a time the input does not have")
            return
        to = do.variables.get(ti.name)
        if to is None:
            raise Failure(f"the input's time {ti.name} is missing from the output")
        a, b = np.array(ti[:]).ravel(), np.array(to[:]).ravel()
        if not np.array_equal(a, b):
            raise Failure(f"time values {b[:4]} but the input has {a[:4]}")
        want_units = variant.time_units or getattr(ti, "units", None)
        got_units = getattr(to, "units", None)
        if want_units != got_units:
            raise Failure(f"time units {got_units!r}, expected {want_units!r}")
        if getattr(ti, "calendar", None) != getattr(to, "calendar", None):
            raise Failure(f"calendar {getattr(to, 'calendar', None)!r} but the input has "
                          f"{getattr(ti, 'calendar', None)!r}")
        if variant.history_note and variant.history_note not in getattr(do, "history", ""):
            raise Failure(f"history lacks {variant.history_note!r}")


def level_dims(d, v):
    """Dimensions of v with a vertical coordinate (dropped from a 2-D output)."""
    out = set()
    for name in v.dimensions[:-2]:
        c = d.variables.get(name)
        if c is not None and (getattr(c, "axis", "") == "Z" or getattr(c, "positive", "") or
                              getattr(c, "units", "") in ("hPa", "Pa", "millibars", "mb") or
                              name.startswith("lev") or name.startswith("plev")):
            out.add(name)
    return out


def check_missing(d, boxes):
    """class_mask and every prob_ variable of a prediction are _FillValue exactly in the boxes."""
    want = None
    for name in ["class_mask"] + [n for n in d.variables if n.startswith("prob_")]:
        v = d.variables[name]
        v.set_auto_maskandscale(False)
        a = np.asarray(v[:])
        fill = v.getncattr("_FillValue")
        if want is None:
            want = np.zeros(a.shape, dtype=bool)
            for (t0, t1, r0, r1, c0, c1) in boxes:
                want[t0:t1, r0:r1, c0:c1] = True
        got = a == fill
        if not np.array_equal(got, want):
            raise Failure(f"predict: {name} is _FillValue at {int(got.sum())} cells, {int((got != want).sum())} "
                          f"differ from the {int(want.sum())} cells with a missing input")
    n = int(want.sum())
    if d.getncattr("missing_input_cells") != str(n):
        raise Failure(f"predict: missing_input_cells {d.getncattr('missing_input_cells')}, expected {n}")
    return f"_FillValue at the {n} cells with a missing input"


def output_for(folder, input_path, suffix):
    stem = os.path.splitext(os.path.basename(input_path))[0]
    hits = sorted(glob.glob(os.path.join(folder, stem + "*" + suffix)))
    if not hits:
        raise Failure(f"no {suffix} output for {os.path.basename(input_path)} in {os.listdir(folder)}")
    return hits[0]


def one_line_refusal(p, want):
    lines = [l for l in p.stderr.strip().splitlines() if l.strip()]
    if p.returncode != want.code:
        raise Failure(f"exit {p.returncode}, expected {want.code} ({p.stderr.strip()[-300:]})")
    if len(lines) != 1:
        raise Failure(f"{len(lines)} lines on stderr, expected one: {p.stderr.strip()[-400:]}")
    if want.text not in lines[0]:
        raise Failure(f"message lacks {want.text!r}: {lines[0]}")
    return lines[0]


# ---------------------------------------------------------------------------------------------
# The commands on one variant


class Runner:
    def __init__(self, ctx, case, variant, out):
        self.ctx, self.case, self.v, self.out = ctx, case, variant, out
        self.spec = variant.field + (f"@{variant.level}" if variant.level else "")
        self.results = {}

    def attempt(self, command, fn):
        want = self.v.expect.get(command)
        try:
            p = fn(want)
            if want is not None and p is not None:
                line = one_line_refusal(p, want)
                self.results[command] = ("ok", f"refused, exit {want.code}: {line.replace('climseg: error: ', '')}")
            elif command not in self.results:
                self.results[command] = ("ok", "ok")
        except Failure as e:
            self.results[command] = ("FAIL", str(e))
        except Exception as e:  # noqa: BLE001 - a broken check is a failure too
            self.results[command] = ("FAIL", f"{type(e).__name__}: {e}\n{traceback.format_exc()}")

    def note(self, command, text):
        if text:
            self.results[command] = ("ok", "ok; " + text)

    def field_values(self):
        """The labelled field of every file (masked, float64), with its dims."""
        level_index = None
        out = []
        for f in self.v.field_files:
            with netCDF4.Dataset(f) as d:
                v = d.variables[self.v.field]
                if self.v.level is not None:
                    lev = [n for n in v.dimensions[:-2] if n in level_dims(d, v)][0]
                    vals = np.array(d.variables[lev][:], dtype=np.float64)
                    level_index = int(np.argmin(np.abs(vals - float(self.v.level))))
            out.append(read_field(f, self.v.field, level_index))
        return out

    def inputs(self):
        return self.v.files

    # --- the commands

    def inspect(self, want):
        p = self.ctx.climseg_run(["inspect", "--json"] + self.inputs(), check=want is None)
        if want is not None:
            return p
        doc = json.loads(p.stdout)
        files = doc if isinstance(doc, list) else doc.get("files", [doc])
        for f, path in zip(files, self.v.files):
            _, _, lat, lon = coords_of(path)
            shape = f["semantic"]["grid"]["shape"]
            if shape != [len(lat), canonical_columns(lon)]:
                raise Failure(f"inspect: grid {shape}, numpy {[len(lat), canonical_columns(lon)]}")
        return None

    def stats(self, want):
        out = os.path.join(self.out, "stats.json")
        p = self.ctx.climseg_run(["stats", "--in"] + self.inputs() + ["--vars", self.spec, "--out", out],
                                 check=want is None)
        if want is not None:
            return p
        doc = json.load(open(out))
        if doc["provenance"].get("run_key", {}).get("command") != "stats":
            raise Failure("stats: the statistics file has no run key")
        got = doc["channels"][0]
        parts = []
        for (a, dims), path in zip(self.field_values(), self.v.field_files):
            _, _, _, lon = coords_of(path)
            if canonical_columns(lon) != len(lon):
                a = a[..., :-1]
            parts.append(np.ma.asarray(a, dtype=np.float32).astype(np.float64).compressed())
        vals = np.concatenate(parts)
        if got["count"] != vals.size:
            raise Failure(f"stats: count {got['count']}, numpy {vals.size}")
        for key, ref in (("mean", vals.mean()), ("min", vals.min()), ("max", vals.max())):
            if abs(got[key] - ref) > 1e-5 * max(1.0, abs(ref)):
                raise Failure(f"stats: {key} {got[key]}, numpy {ref}")
        return None

    def label(self, want):
        fields = self.field_values()
        thr = self.v.threshold
        if thr is None:
            thr = choose_threshold(np.ma.concatenate([a.ravel() for a, _ in fields]))
        self.threshold = thr
        out = os.path.join(self.out, "labels")
        p = self.ctx.climseg_run(["label", "--in"] + self.inputs() +
                                 ["--out", out, "--detect", "waves", "--var", f"hs={self.spec}",
                                  "--waves-threshold", repr(thr), "--waves-min-area", "0",
                                  # the wave detector takes metres: any field is thresholded as it is
                                  "--units", f"{self.v.field}=m"] + self.v.label_args,
                                 check=want is None)
        if want is not None:
            return p
        notes = set()
        self.label_masks = []
        for (a, dims), path in zip(fields, self.v.field_files):
            o = output_for(out, path, ".labels.nc")
            check_layout(o, path, "LABELS", self.v.field, self.v)
            check_run_key(o, "label")
            notes.add(check_opens(o, path))
            with netCDF4.Dataset(o) as d:
                got = np.ma.filled(d.variables["LABELS"][:], 0)
            want_mask = np.where(np.ma.filled(np.ma.asarray(a, dtype=np.float32) > np.float32(thr), False), 3, 0)
            if got.ndim == 2:
                got = got[None]
            if got.shape != want_mask.shape:
                raise Failure(f"label: LABELS {got.shape}, numpy {want_mask.shape}")
            bad = int(np.sum(got != want_mask))
            if bad:
                raise Failure(f"label: {bad} of {got.size} cells differ from numpy's threshold {thr}")
            self.label_masks.append(want_mask)
        self.note("label", "; ".join(sorted(n for n in notes if n)))
        return None

    def predict(self, want):
        if not self.v.model and want is None:
            self.results["predict"] = ("ok", "n/a")
            return None
        out = os.path.join(self.out, "pred")
        args = (["predict", "--model", self.v.model_path or self.ctx.model, "--in"] + self.inputs() + ["--out", out] +
                self.v.predict_args + (["--probabilities"] if self.v.missing else []))
        if self.v.channels:
            args += ["--channels", self.v.channels]
        p = self.ctx.climseg_run(args, check=want is None)
        if want is not None:
            return p
        notes = set()
        masks = []
        for path in self.v.files:
            o = output_for(out, path, ".climseg.nc")
            check_layout(o, path, "class_mask",
                         self.v.layout_var or ("TMQ" if self.v.channels is None else self.v.field), self.v)
            check_run_key(o, "predict")
            notes.add(check_opens(o, path))
            with netCDF4.Dataset(o) as d:
                masks.append((path, np.ma.filled(d.variables["class_mask"][:], -1)))
                if self.v.missing:
                    notes.add(check_missing(d, self.v.missing))
        self.predicted = masks
        src = self.v.source
        if src is not None and getattr(src, "predicted", None) is not None:
            for (path, m), (spath, sm) in zip(masks, src.predicted):
                _, _, lat, lon = coords_of(path)
                _, _, slat, slon = coords_of(spath)
                il, jl = match_index(slat, lat), match_index(slon, lon, periodic=True)
                if il is None or jl is None:
                    raise Failure("predict: the variant's grid is not a subset of its source's")
                expect = sm[..., il, :][..., jl]
                if m.ndim == 2:
                    m = m[None]
                if expect.ndim == 2:
                    expect = expect[None]
                same = float(np.mean(m == expect))
                if same < (1.0 if self.v.same_values else self.v.agreement):
                    raise Failure(f"predict: {same:.4f} of the cells equal the source's prediction")
                notes.add(f"class_mask = the source's on {same:.2%} of {m.size} cells")
        self.note("predict", "; ".join(sorted(n for n in notes if n)))
        return None

    def evaluate(self, want):
        if (not self.v.model or not self.v.labels) and want is None:
            self.results["evaluate"] = ("ok", "n/a")
            return None
        args = ["evaluate", "--model", self.v.model_path or self.ctx.model, "--in"] + self.inputs() + ["--json", "-"]
        if self.v.channels:
            args += ["--channels", self.v.channels]
        p = self.ctx.climseg_run(args, check=want is None)
        if want is not None:
            return p
        doc = json.loads(p.stdout[p.stdout.index("{"):])
        self.scores = doc
        src = self.v.source
        if src is not None and getattr(src, "scores", None) is not None and self.v.same_values:
            if doc["pixels"] != src.scores["pixels"]:
                raise Failure(f"evaluate: confusion {doc['pixels']['confusion']} but "
                              f"{src.scores['pixels']['confusion']} on the source")
        return None

    def events(self, want):
        if "label" in self.v.expect and want is None:
            self.results["events"] = ("ok", "n/a (no labels)")
            return None
        labels = os.path.join(self.out, "labels")
        if not os.path.isdir(labels):
            raise Failure("events: no labels to follow (label failed)")
        out = os.path.join(self.out, "events")
        p = self.ctx.climseg_run(["events", "--in", labels, "--out", out, "--no-plots"], check=want is None)
        if want is not None:
            return p
        _, _, _, lon = coords_of(self.v.files[0])
        rows = open(os.path.join(out, "events.csv")).read().strip().splitlines()[1:]
        signed = lon[0] < 0
        for r in rows:
            cells = r.split(",")
            for k in (6, 10):  # genesis_lon, termination_lon
                x = float(cells[k])
                if signed and not -180 <= x < 180 or not signed and not 0 <= x < 360:
                    raise Failure(f"events: longitude {x} is not in the input's convention "
                                  f"({'-180..180' if signed else '0..360'})")
        ids = os.path.join(out, "event_ids.nc")
        if not os.path.exists(ids):
            raise Failure("events: no event_ids.nc")
        check_run_key(ids, "events")
        # Every component is an event (no filter by default): a cell has an event id exactly where
        # numpy's threshold labelled it, step by step over the whole archive.
        with netCDF4.Dataset(ids) as d:
            got = np.ma.filled(d.variables["event_id"][:], 0)
        want = np.concatenate(getattr(self, "label_masks", []) or [np.zeros((0,) + got.shape[-2:])])
        if got.ndim == 2:
            got = got[None]
        if got.shape != want.shape:
            raise Failure(f"events: event_id {got.shape}, the labels {want.shape}")
        bad = int(np.sum((got > 0) != (want > 0)))
        if bad:
            raise Failure(f"events: {bad} of {got.size} cells have an event id where numpy's labels differ")
        self.note("events", check_opens(ids, self.v.files[0]))
        return None

    def plot(self, want):
        # The colour bar's range is given (numpy's 10th and 90th percentiles of the drawn step), so
        # every pixel of the map area has one right colour: viridis at the value of the cell whose
        # centre is nearest to the pixel's (latitude, longitude) in the file's own coordinates.
        out = os.path.join(self.out, "map.png")
        step = self.field_values()[0][0][0] if want is None else None
        extra = []
        if step is not None:
            vals = step.compressed()
            if vals.size == 0:
                raise Failure("plot: the first step has no valid value")
            vmin, vmax = (float(np.float32(q)) for q in np.percentile(vals, [10, 90]))
            if not vmax > vmin:
                vmax = vmin + 1.0
            extra = ["--vmin", repr(vmin), "--vmax", repr(vmax), "--width", str(PLOT_WIDTH)]
        p = self.ctx.climseg_run(["plot", "--in"] + self.inputs() + ["--var", self.spec, "--steps", "0", "--out", out,
                                                                     "--no-coastlines"] + extra, check=want is None)
        if want is not None:
            return p
        with open(out, "rb") as f:
            if f.read(8) != b"\x89PNG\r\n\x1a\n":
                raise Failure("plot: not a PNG")
        self.note("plot", check_map_pixels(out, step, self.v.field_files[0], vmin, vmax))
        return None

    def all(self):
        for c in COMMANDS:
            self.attempt(c, getattr(self, c))
        return self.results


# ---------------------------------------------------------------------------------------------




# ---------------------------------------------------------------------------------------------
# Making variants


def nc(*args):
    """Runs an nco/cdo command line."""
    return run(list(args))


def copy_nc(src, dst, lat_index=None, lon_index=None, lon_values=None, rename=None, drop=(), fmt=None, edit=None):
    """Copies a NetCDF file with netCDF4-python: columns `lon_index` (indices into the source's
    longitude, repeats allowed) with coordinate values `lon_values`, rows `lat_index`, variables
    in `drop` left out, dimensions and variables renamed by `rename`, written in `fmt`; `edit(ds)`
    may change the copy before it is closed. Values are copied raw (packing kept)."""
    rename = rename or {}
    lat_name, lon_name, _, _ = coords_of(src)
    with netCDF4.Dataset(src) as s:
        lat_dim = s.variables[lat_name].dimensions[0]
        lon_dim = s.variables[lon_name].dimensions[0]
        with netCDF4.Dataset(dst, "w", format=fmt or s.data_model) as d:
            d.setncatts({k: s.getncattr(k) for k in s.ncattrs()})
            for name, dim in s.dimensions.items():
                n = len(dim)
                if name == lat_dim and lat_index is not None:
                    n = len(lat_index)
                if name == lon_dim and lon_index is not None:
                    n = len(lon_index)
                d.createDimension(rename.get(name, name), None if dim.isunlimited() else n)
            for name, v in s.variables.items():
                if name in drop:
                    continue
                v.set_auto_maskandscale(False)
                fill = v.getncattr("_FillValue") if "_FillValue" in v.ncattrs() else None
                o = d.createVariable(rename.get(name, name), v.dtype, tuple(rename.get(x, x) for x in v.dimensions),
                                     fill_value=fill)
                o.set_auto_maskandscale(False)
                o.setncatts({k: v.getncattr(k) for k in v.ncattrs() if k != "_FillValue"})
                a = v[...]
                for axis, dim in enumerate(v.dimensions):
                    if dim == lat_dim and lat_index is not None:
                        a = np.take(a, lat_index, axis=axis)
                    if dim == lon_dim and lon_index is not None:
                        a = np.take(a, lon_index, axis=axis)
                if name == lon_name and lon_values is not None:
                    a = np.asarray(lon_values, dtype=v.dtype)
                o[...] = a
            if edit is not None:
                edit(d)
    return dst


def each_file(ctx, case_name, files, make):
    """make(src, dst) for every file of an archive; the new paths."""
    out = ctx.folder(case_name + "_files")
    paths = []
    for f in files:
        dst = os.path.join(out, os.path.basename(f))
        make(f, dst)
        paths.append(dst)
    return paths
