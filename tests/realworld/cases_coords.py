"""Coordinates as archives name and order them: the synthetic CAM5-like archive (lat/lon, 0..360,
south to north) renamed, flipped, rotated, with its first meridian repeated, and cut to a region
across the Greenwich meridian. Every output must come back in the variant's own layout."""
import os

import numpy as np

from harness import Variant, case, copy_nc, each_file, nc


@case("coords", "climseg synth (lat, lon; 0..357.5; south to north)")
def synth_cam(ctx):
    return ctx.synth_variant()


def renamed(ctx, name, lat, lon, edit=None):
    src = ctx.synth_variant()

    def make(a, b):
        # ncrename renames netCDF-4 coordinates unreliably (NCO's documented HDF5 caveat): through
        # netCDF-3 and back.
        nc("ncks", "-O", "-3", a, b + ".nc3")
        nc("ncrename", "-O", "-d", f"lat,{lat}", "-d", f"lon,{lon}", "-v", f"lat,{lat}", "-v", f"lon,{lon}", b + ".nc3")
        if edit:
            edit(b + ".nc3")
        nc("ncks", "-O", "-4", b + ".nc3", b)
        os.remove(b + ".nc3")

    return Variant(each_file(ctx, name, src.files, make), "TMQ", source=src)


@case("coords", "ncrename to latitude/longitude (ERA5, WAVEWATCH III)")
def latitude_longitude_names(ctx):
    return renamed(ctx, "latitude_longitude_names", "latitude", "longitude")


@case("coords", "ncrename to y/x (degree units)")
def y_x_names(ctx):
    return renamed(ctx, "y_x_names", "y", "x")


@case("coords", "ncrename to phi/lam, ncatted: only standard_name says which is which")
def standard_name_only(ctx):
    def edit(path):
        nc("ncatted", "-O", "-a", "units,phi,d,,", "-a", "axis,phi,d,,", "-a", "long_name,phi,d,,",
           "-a", "units,lam,d,,", "-a", "axis,lam,d,,", "-a", "long_name,lam,d,,", path)

    return renamed(ctx, "standard_name_only", "phi", "lam", edit)


@case("coords", "ncrename to aa/bb, ncatted: only units = degrees_north/east")
def units_only(ctx):
    def edit(path):
        nc("ncatted", "-O", "-a", "standard_name,aa,d,,", "-a", "axis,aa,d,,", "-a", "long_name,aa,d,,",
           "-a", "standard_name,bb,d,,", "-a", "axis,bb,d,,", "-a", "long_name,bb,d,,", path)

    return renamed(ctx, "units_only", "aa", "bb", edit)


@case("coords", "ncrename to yc/xc, ncatted: only axis = Y/X")
def axis_only(ctx):
    def edit(path):
        nc("ncatted", "-O", "-a", "units,yc,d,,", "-a", "standard_name,yc,d,,", "-a", "long_name,yc,d,,",
           "-a", "units,xc,d,,", "-a", "standard_name,xc,d,,", "-a", "long_name,xc,d,,", path)

    return renamed(ctx, "axis_only", "yc", "xc", edit)


@case("coords", "cdo invertlat (north to south, as ERA5)")
def latitude_descending(ctx):
    src = ctx.synth_variant()
    return Variant(each_file(ctx, "latitude_descending", src.files, lambda a, b: nc("cdo", "-s", "invertlat", a, b)),
                   "TMQ", source=src)


@case("coords", "cdo sellonlatbox,-180,180,-90,90 (-180..177.5, as MERRA-2)")
def longitude_signed(ctx):
    src = ctx.synth_variant()
    return Variant(each_file(ctx, "longitude_signed", src.files,
                             lambda a, b: nc("cdo", "-s", "sellonlatbox,-180,180,-90,90", a, b)), "TMQ", source=src)


def repeated(ctx, name, signed):
    src = ctx.synth_variant()

    def make(a, b):
        from harness import coords_of
        _, _, _, lon = coords_of(a)
        w = len(lon)
        order = np.r_[np.arange(w // 2, w), np.arange(0, w // 2)] if signed else np.arange(w)
        values = lon[order] - (360 * (lon[order] >= 180) if signed else 0)
        copy_nc(a, b, lon_index=np.r_[order, order[0]], lon_values=np.r_[values, values[0] + 360])

    return Variant(each_file(ctx, name, src.files, make), "TMQ", source=src)


@case("coords", "netCDF4: first meridian repeated at the end (0..360 inclusive)")
def repeated_meridian(ctx):
    return repeated(ctx, "repeated_meridian", False)


@case("coords", "netCDF4: -180..180 inclusive")
def repeated_meridian_signed(ctx):
    return repeated(ctx, "repeated_meridian_signed", True)


def region(ctx, name, signed):
    src = ctx.synth_variant()

    def make(a, b):
        from harness import coords_of
        _, _, lat, lon = coords_of(a)
        cols = np.r_[np.nonzero(lon >= 340)[0], np.nonzero(lon <= 37.5)[0]]
        rows = np.nonzero((lat >= 20) & (lat <= 60))[0]
        values = lon[cols] - (360 * (lon[cols] >= 180) if signed else 0)
        copy_nc(a, b, lat_index=rows, lon_index=cols, lon_values=values)

    return Variant(each_file(ctx, name, src.files, make), "TMQ", source=None, model=True)


@case("coords", "netCDF4: region 340..357.5, 0..37.5 (ascending modulo 360)")
def region_across_greenwich(ctx):
    return region(ctx, "region_across_greenwich", False)


@case("coords", "netCDF4: region -20..37.5")
def region_across_greenwich_signed(ctx):
    return region(ctx, "region_across_greenwich_signed", True)
