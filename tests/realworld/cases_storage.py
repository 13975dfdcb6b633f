"""How values are stored: packed into shorts, masked with missing_value, and each NetCDF format
(netCDF-3 classic, 64-bit offset, CDF5, netCDF-4 classic model)."""
import netCDF4
import numpy as np

from harness import Variant, case, each_file, nc


@case("storage", "ncpdq -P all_new (floats packed into shorts, scale_factor/add_offset)")
def packed_shorts(ctx):
    src = ctx.synth_variant()
    files = each_file(ctx, "packed_shorts", src.files, lambda a, b: nc("ncpdq", "-O", "-P", "all_new", a, b))
    # Packing rounds every value to 1/65535 of its range: a few cells may change class.
    return Variant(files, "TMQ", source=src, same_values=False, agreement=0.99)


@case("storage", "netCDF4: TMQ masked by missing_value only (no _FillValue), a box of missing cells")
def missing_value(ctx):
    src = ctx.synth_variant()

    def make(a, b):
        nc("ncks", "-O", a, b)
        with netCDF4.Dataset(b, "a") as d:
            v = d.variables["TMQ"]
            v.set_auto_maskandscale(False)
            x = v[:]
            x[:, 10:20, 30:45] = -999.0
            v[:] = x
            v.missing_value = np.float32(-999.0)

    return Variant(each_file(ctx, "missing_value", src.files, make), "TMQ", source=None)


def fmt_case(name, flag, what):
    @case("storage", f"ncks {flag} ({what})")
    def make(ctx):
        src = ctx.synth_variant()
        return Variant(each_file(ctx, name, src.files, lambda a, b: nc("ncks", "-O", flag, a, b)), "TMQ", source=src)

    make.__name__ = name
    from harness import CASES
    CASES[-1].name = name


fmt_case("netcdf3_classic", "-3", "netCDF-3 classic")
fmt_case("netcdf3_64bit_offset", "-6", "netCDF-3 64-bit offset")
fmt_case("cdf5", "-5", "CDF5")
fmt_case("netcdf4_classic", "-7", "netCDF-4 classic model")
