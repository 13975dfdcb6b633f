"""Channels by meaning and units (issue 16 items 3 and 5): the synthetic archive with its channels
renamed and re-expressed as ERA5, MERRA-2 and NCEP write them, PSL in hPa, incompatible units,
--channels in another order or by position, a hole of missing values; and the real ERA5, MERRA-2
and NCEP files with ClimateNet's weights, whose channels carry units, standard names and levels.
Predictions of a re-expressed archive must equal the source's (the values are the same, up to the
float rounding of hPa -> Pa)."""
import netCDF4
import numpy as np

from harness import Refusal, Variant, case, copy_nc, each_file


def climatenet_source(ctx):
    """The synthetic archive predicted with ClimateNet's weights (made once)."""
    key = "variant_climatenet"
    if key not in ctx._sources:
        v = Variant(ctx.synth()[0], "TMQ", model_path=ctx.climatenet())
        ctx._sources[key] = v
    return ctx._sources[key]


def levels(d, name, values, units, standard_name=None):
    d.createDimension(name, len(values))
    lev = d.createVariable(name, "f8", (name,))
    lev.units = units
    if standard_name:
        lev.standard_name = standard_name
    lev[:] = values


def on_levels(src, d, var, name, dims, at, n, units, standard_name=None):
    """`name`(time, level, lat, lon) with the source's 2-D `var` at level index `at` (others 999)."""
    with netCDF4.Dataset(src) as s:
        a = s.variables[var][:]
    o = d.createVariable(name, "f4", dims)
    o.units = units
    if standard_name:
        o.standard_name = standard_name
    x = np.full((a.shape[0], n) + a.shape[1:], 999.0, dtype=np.float32)
    x[:, at] = a
    o[:] = x


def in_hpa(d, name, units="hPa"):
    v = d.variables[name]
    v.set_auto_maskandscale(False)
    v[:] = np.asarray(v[:], dtype=np.float32) / np.float32(100)
    v.units = units


@case("meaning", "netCDF4: ERA5 names and units (tcwv kg m**-2, msl hPa, u/v on pressure levels; standard names)")
def era5_names(ctx):
    src = climatenet_source(ctx)

    def make(a, b):
        def edit(d):
            d.variables["tcwv"].units = "kg m**-2"
            in_hpa(d, "msl")
            levels(d, "level", [1000, 850, 500], "millibars", "air_pressure")
            dims = ("time", "level", "lat", "lon")
            on_levels(a, d, "U850", "u", dims, 1, 3, "m s**-1", "eastward_wind")
            on_levels(a, d, "V850", "v", dims, 1, 3, "m s**-1", "northward_wind")

        copy_nc(a, b, rename={"TMQ": "tcwv", "PSL": "msl"}, drop=("U850", "V850"), edit=edit)

    # msl in hPa back to Pa is one float rounding away from the source's PSL.
    return Variant(each_file(ctx, "era5_names", src.files, make), "tcwv", model_path=ctx.climatenet(), source=src,
                   same_values=False, agreement=0.999, layout_var="tcwv")


@case("meaning", "netCDF4: MERRA-2 names (IWV without standard name, U850, V850, SLP)")
def merra2_names(ctx):
    src = climatenet_source(ctx)

    def make(a, b):
        copy_nc(a, b, rename={"TMQ": "IWV", "PSL": "SLP"},
                edit=lambda d: d.variables["IWV"].delncattr("standard_name"))

    return Variant(each_file(ctx, "merra2_names", src.files, make), "IWV", model_path=ctx.climatenet(), source=src,
                   layout_var="IWV")


@case("meaning", "netCDF4: NCEP names and units (PREH2O mm, PSL millibars, U/V on lev; no standard names)")
def ncep_units(ctx):
    src = climatenet_source(ctx)

    def make(a, b):
        def edit(d):
            d.variables["PREH2O"].units = "mm"
            d.variables["PREH2O"].delncattr("standard_name")
            in_hpa(d, "PSL", "millibars")
            levels(d, "lev", [1000, 850], "millibars")
            on_levels(a, d, "U850", "U", ("time", "lev", "lat", "lon"), 1, 2, "m/s")
            on_levels(a, d, "V850", "V", ("time", "lev", "lat", "lon"), 1, 2, "m/s")

        copy_nc(a, b, rename={"TMQ": "PREH2O"}, drop=("U850", "V850"), edit=edit)

    return Variant(each_file(ctx, "ncep_units", src.files, make), "PREH2O", model_path=ctx.climatenet(), source=src,
                   same_values=False, agreement=0.999, layout_var="PREH2O")


@case("meaning", "netCDF4: PSL in hPa (values / 100, units hPa)")
def psl_hpa(ctx):
    src = climatenet_source(ctx)
    files = each_file(ctx, "psl_hpa", src.files, lambda a, b: copy_nc(a, b, edit=lambda d: in_hpa(d, "PSL")))
    return Variant(files, "TMQ", model_path=ctx.climatenet(), source=src, same_values=False, agreement=0.999)


@case("meaning", "netCDF4: PSL:units = K (incompatible: refused)")
def psl_kelvin(ctx):
    src = climatenet_source(ctx)

    def edit(d):
        d.variables["PSL"].units = "K"

    files = each_file(ctx, "psl_kelvin", src.files, lambda a, b: copy_nc(a, b, edit=edit))
    refusal = Refusal(1, "variable PSL (channel PSL): units 'K' (K) cannot be converted to 'Pa'")
    return Variant(files, "TMQ", model_path=ctx.climatenet(), expect={"predict": refusal, "evaluate": refusal})


@case("meaning", "predict --channels PSL,V850,TMQ,U850 (the model's channels in another order)")
def channels_reordered(ctx):
    src = ctx.synth_variant()
    return Variant(src.files, "TMQ", source=src, channels="PSL,V850,TMQ,U850", layout_var="TMQ")


@case("meaning", "predict --channels IWV,U850,V850,SLP on the MERRA-2 names (by position: refused)")
def channels_by_position(ctx):
    v = merra2_names(ctx)
    refusal = Refusal(2, "IWV, SLP are not among the model's channels")
    return Variant(v.files, "IWV", model_path=ctx.climatenet(), channels="IWV,U850,V850,SLP",
                   expect={"predict": refusal, "evaluate": refusal})


@case("meaning", "netCDF4: a hole of missing values (PSL fill in rows 10-19, columns 30-44 of step 0; TMQ of step 1)")
def missing_hole(ctx):
    src = ctx.synth_variant()

    def make(a, b):
        def edit(d):
            for name, t in (("PSL", 0), ("TMQ", 1)):
                v = d.variables[name]
                v.set_auto_maskandscale(False)
                x = np.asarray(v[:])
                x[t, 10:20, 30:45] = netCDF4.default_fillvals["f4"]
                v[:] = x

        copy_nc(a, b, edit=edit)

    return Variant(each_file(ctx, "missing_hole", src.files, make), "TMQ",
                   missing=[(0, 1, 10, 20, 30, 45), (1, 2, 10, 20, 30, 45)])


@case("meaning", "geocat_era5_1995-07-14T12.nc with ClimateNet's weights (none of its four channels)")
def era5_real_climatenet(ctx):
    refusal = Refusal(1, "4 of the 4 channels are missing: TMQ (kg m-2, atmosphere_mass_content_of_water_vapor)")
    return Variant([ctx.real("geocat_era5_1995-07-14T12.nc")], "t2m", labels=False, model_path=ctx.climatenet(),
                   expect={"predict": refusal, "evaluate": refusal})


@case("meaning", "climdeeplearn_IWV_IVT_MERRA_20170228_00.nc with ClimateNet's weights (IWV only)")
def merra2_real_climatenet(ctx):
    refusal = Refusal(1, "3 of the 4 channels are missing: U850 (m s-1, eastward_wind at 850 hPa)")
    return Variant([ctx.real("climdeeplearn_IWV_IVT_MERRA_20170228_00.nc")], "IWV", labels=False,
                   model_path=ctx.climatenet(), expect={"predict": refusal, "evaluate": refusal})


@case("meaning", "xrdata_eraint_uvz.nc with ClimateNet's weights (u/v at 850 hPa by standard name; no TMQ, PSL)")
def eraint_real_climatenet(ctx):
    # U850/V850 are found (eastward_wind/northward_wind on the millibars level axis): only two are named missing.
    refusal = Refusal(1, "2 of the 4 channels are missing: TMQ (kg m-2, atmosphere_mass_content_of_water_vapor)")
    return Variant([ctx.real("xrdata_eraint_uvz.nc")], "z", level="500", labels=False, model_path=ctx.climatenet(),
                   expect={"predict": refusal, "evaluate": refusal})


@case("meaning", "geocat_NCEP_06_climo.nc with ClimateNet's weights (PREH2O mm, PSL millibars, U/V on lev)")
def ncep_real_climatenet(ctx):
    return Variant([ctx.real("geocat_NCEP_06_climo.nc")], "PSL", labels=False, model_path=ctx.climatenet(),
                   layout_var="PSL")
