"""The real files of ../shared/data/real as they are: ERA5 (latitude/longitude, north to south,
-111.75.. regional, packed shorts, a scalar time), MERRA-2 (-180..179.375), ERA-Interim (packed
shorts with a NaN _FillValue, a `month` axis without units, levels), GEMPAK storm files (one
variable per file, a text reference time), NCEP (a time without units), NCAR's monthly heights in
'months since' and the CCSM3 example (noleap from year 0, time bounds). The networks' channels
(TMQ, U850, V850, PSL) are not in most of them: predict and evaluate refuse, naming what is
missing."""
from harness import Refusal, Variant, case

NO_CHANNELS = Refusal(1, "TMQ")  # the first channel the model needs


def real(ctx, name, field, level=None, model=False, **kw):
    v = Variant([ctx.real(name)], field, level=level, labels=False, **kw)
    if not model:
        v.expect.update({"predict": NO_CHANNELS, "evaluate": NO_CHANNELS})
    return v


@case("real", "geocat_era5_1995-07-14T12.nc (ERA5: scalar time, north to south, -111.75..-53, shorts)")
def era5(ctx):
    return real(ctx, "geocat_era5_1995-07-14T12.nc", "t2m")


@case("real", "climdeeplearn_IWV_IVT_MERRA_20170228_00.nc (MERRA-2: -180..179.375)")
def merra2(ctx):
    return real(ctx, "climdeeplearn_IWV_IVT_MERRA_20170228_00.nc", "IWV")


@case("real", "xrdata_eraint_uvz.nc (ERA-Interim: month axis without units, NaN fill on shorts, z@500)")
def era_interim(ctx):
    return real(ctx, "xrdata_eraint_uvz.nc", "z", level="500")


@case("real", "geocat_*storm.cdf (GEMPAK: six files of one variable, timestep + reftime)")
def gempak_storms(ctx):
    files = [ctx.real(f"geocat_{n}storm.cdf") for n in ("P", "T", "U", "U500", "V", "V500")]
    v = Variant(files, "p", labels=False, field_files=files[:1])
    v.expect.update({"predict": NO_CHANNELS, "evaluate": NO_CHANNELS})
    v.time_units = "hours since 1996-01-05 00:00:00"
    v.history_note = "written as CF 'hours since 1996-01-05 00:00:00'"
    return v


@case("real", "geocat_NCEP_06_climo.nc (time without units: raw)")
def ncep_climo(ctx):
    return real(ctx, "geocat_NCEP_06_climo.nc", "PSL")


@case("real", "geocat_hgt.nc (monthly, 'months since 1958-1-1 00:00:00')")
def monthly_heights(ctx):
    return real(ctx, "geocat_hgt.nc", "HGT")


@case("real", "headscratcher_sresa1b_ncar_ccsm3-example.nc (noleap 'days since 0000-1-1', time bounds)")
def ccsm3(ctx):
    return real(ctx, "headscratcher_sresa1b_ncar_ccsm3-example.nc", "tas")
