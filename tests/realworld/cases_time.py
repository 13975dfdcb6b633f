"""Time axes as archives have them: four more calendars, a scalar time (ERA5), no time at all, a
climatology in months, GEMPAK's text reference time, units with a non-CF date, an unknown
calendar, and a time axis that runs backwards (refused). Outputs keep the input's time values,
units and calendar; readable but non-CF units come back as CF units with a note in history."""
import netCDF4
import numpy as np

from harness import Refusal, Variant, case, each_file, nc


def calendar_case(cal):
    def make(ctx):
        src = ctx.synth_variant()
        files = each_file(ctx, "calendar_" + cal, src.files,
                          lambda a, b: nc("ncatted", "-O", "-a", f"calendar,time,o,c,{cal}", a, b))
        return Variant(files, "TMQ", source=src)

    make.__name__ = "calendar_" + cal
    case("time", f"ncatted calendar = {cal}")(make)


for _cal in ("360_day", "julian", "all_leap", "proleptic_gregorian"):
    calendar_case(_cal)


def one_step_files(ctx, name):
    """Each step of the synthetic archive in a file of its own, time a scalar (ERA5's layout)."""
    src = ctx.synth_variant()
    out = []
    for f in src.files:
        with netCDF4.Dataset(f) as d:
            steps = len(d.dimensions["time"])
        for t in range(steps):
            one = ctx.folder(name + "_files") + f"/{f.split('/')[-1][:-3]}.{t}.nc"
            nc("ncks", "-O", "-d", f"time,{t}", f, one)
            nc("ncwa", "-O", "-a", "time", one, one)  # the time dimension goes, time stays a scalar
            out.append(one)
    return out


@case("time", "ncks -d time,k + ncwa -a time: one file per step, scalar time (ERA5)")
def scalar_time(ctx):
    return Variant(one_step_files(ctx, "scalar_time"), "TMQ")


@case("time", "as scalar_time, then ncks -x -v time,date,datesec: no time at all (one sample per file)")
def no_time(ctx):
    files = one_step_files(ctx, "no_time")
    for f in files:
        nc("ncks", "-O", "-x", "-v", "time,date,datesec", f, f)
        nc("ncatted", "-O", "-a", "coordinates,,d,,", f)
    return Variant(files[:1], "TMQ")


def rewrite_time(ctx, name, values, attrs, rename=None, extra=None):
    """The synthetic archive (2 files of 2 steps) with its time coordinate's attributes replaced by
    `attrs` and its values by `values` (4: two per file)."""
    src = ctx.synth_variant()
    out = []
    for k, a in enumerate(src.files):
        b = ctx.folder(name + "_files") + "/" + a.split("/")[-1]
        nc("ncks", "-O", "-3", a, b)  # netCDF-3: attributes and names change freely
        if rename:
            nc("ncrename", "-O", "-d", f"time,{rename}", "-v", f"time,{rename}", b)
        with netCDF4.Dataset(b, "a") as d:
            t = d.variables[rename or "time"]
            for att in list(t.ncattrs()):
                t.delncattr(att)
            for att, value in attrs.items():
                t.setncattr(att, value)
            t[:] = np.asarray(values[2 * k:2 * k + 2], dtype=t.dtype)
            if extra:
                extra(d)
        out.append(b)
    return Variant(out, "TMQ", source=src)


@case("time", "netCDF4: time in 'months since 0001-01-01 00:00:00', standard calendar (a climatology)")
def climatology_months(ctx):
    return rewrite_time(ctx, "climatology_months", [0, 1, 2, 3],
                        {"units": "months since 0001-01-01 00:00:00", "calendar": "standard"})


@case("time", "ncrename time,timestep; netCDF4: no units, reftime = '2000 01 01 00:00' (GEMPAK)")
def gempak_reftime(ctx):
    def reftime(d):
        d.createDimension("timelen", 16)
        r = d.createVariable("reftime", "S1", ("timelen",))
        r[:] = netCDF4.stringtochar(np.array(["2000 01 01 00:00"], "S16"))
        r.units = "text_time"

    v = rewrite_time(ctx, "gempak_reftime", [0, 6, 12, 18], {}, rename="timestep", extra=reftime)
    v.time_units = "hours since 2000-01-01 00:00:00"
    v.history_note = "written as CF 'hours since 2000-01-01 00:00:00'"
    return v


@case("time", "netCDF4: units 'hours since 2000 1 1 0:0' (a date CF does not spell so)")
def units_not_cf_spelled(ctx):
    v = rewrite_time(ctx, "units_not_cf_spelled", [0, 6, 12, 18],
                     {"units": "hours since 2000 1 1 0:0", "calendar": "noleap"})
    v.time_units = "hours since 2000-01-01 00:00:00"
    v.history_note = "time units 'hours since 2000 1 1 0:0' of time written as CF"
    return v


@case("time", "ncatted calendar = lunar (not a CF calendar: raw times)")
def unknown_calendar(ctx):
    src = ctx.synth_variant()
    files = each_file(ctx, "unknown_calendar", src.files,
                      lambda a, b: nc("ncatted", "-O", "-a", "calendar,time,o,c,lunar", a, b))
    # Without dates the files are ordered by name, which is their time order here.
    return Variant(files, "TMQ", source=src)


@case("time", "netCDF4: the time values of each file reversed (refused: a decodable axis must increase)")
def time_backwards(ctx):
    v = rewrite_time(ctx, "time_backwards", [0.25, 0.0, 0.75, 0.5],
                     {"units": "days since 2000-01-01 00:00:00", "calendar": "noleap"})
    refuse = Refusal(1, "time steps go backwards or repeat")
    v.expect = {c: refuse for c in ("stats", "label", "predict", "evaluate", "plot")}
    return v
