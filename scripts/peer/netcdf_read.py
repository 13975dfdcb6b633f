#!/usr/bin/python3
"""The Python side of `climseg bench io`: the same file's 16 channels loaded through xarray and
netCDF4-python (whichever is installed), median milliseconds of N runs after one warm-up, printed
as one JSON object (xarray_ms, netcdf4_python_ms and the packages' versions).

  /usr/bin/python3 scripts/peer/netcdf_read.py FILE.nc TMQ,U850,... N

The package versions come from the installed distribution's metadata; Debian's python3-xarray
reports 999 there and in __version__ (its build lacks the git tag), so the Debian package's
version (less its revision) is taken from dpkg-query then.
"""
import sys, time, json, statistics, subprocess
f, names, n = sys.argv[1], sys.argv[2].split(','), int(sys.argv[3])
out = {}
def version(module, dist, deb):
    v = getattr(module, '__version__', '')
    try:
        import importlib.metadata
        v = importlib.metadata.version(dist)
    except Exception:
        pass
    if not v or v.startswith('999'):
        try:
            d = subprocess.run(['dpkg-query', '-W', '-f=${Version}', deb], capture_output=True, text=True).stdout
            if d.strip():
                v = d.strip().split(':')[-1].rsplit('-', 1)[0]
        except Exception:
            pass
    return v
try:
    import xarray
    def xa():
        with xarray.open_dataset(f) as ds:
            return [ds[v].values for v in names]
    fns = [('xarray', xa)]
    out['xarray_version'] = version(xarray, 'xarray', 'python3-xarray')
except ImportError:
    fns = []
try:
    import netCDF4
    def nc4():
        with netCDF4.Dataset(f) as ds:
            return [ds[v][:] for v in names]
    fns.append(('netcdf4_python', nc4))
    out['netcdf4_python_version'] = version(netCDF4, 'netCDF4', 'python3-netcdf4')
except ImportError:
    pass
for name, fn in fns:
    fn()
    t = []
    for _ in range(n):
        a = time.perf_counter(); fn(); t.append(time.perf_counter() - a)
    out[name + '_ms'] = statistics.median(t) * 1e3
print(json.dumps(out))
