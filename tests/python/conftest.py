"""Fixtures of the Python module's tests: the built climseg executable, the sample archive and the
bundled model of the source tree, the real data in ../shared/data (skipped when absent)."""

import os
import pathlib
import subprocess

import pytest

SOURCE = pathlib.Path(os.environ.get("CLIMSEG_SOURCE_DIR", pathlib.Path(__file__).resolve().parents[2]))
SHARED = pathlib.Path(os.environ.get("CLIMSEG_SHARED_DATA", SOURCE.parent / "shared" / "data"))
SAMPLE = SOURCE / "data" / "sample" / "synth.cam.h2.2000-01-01-00000.nc"
SYNTH_MODEL = SOURCE / "data" / "models" / "cgnet_synth_96x144.h5"
CLIMATENET = SHARED / "climatenet" / "cgnet_climatenet.h5"


@pytest.fixture(scope="session")
def exe():
    path = os.environ.get("CLIMSEG_EXE")
    if not path or not os.path.exists(path):
        pytest.skip("CLIMSEG_EXE is not set to the built climseg executable (run through ctest)")
    return path


def run_cli(exe, *args):
    """Runs the command line; returns (exit code, stderr)."""
    p = subprocess.run([exe, "-q", *map(str, args)], capture_output=True, text=True,
                       env={**os.environ, "OMP_NUM_THREADS": "2"})
    return p.returncode, p.stderr


@pytest.fixture(scope="session")
def synth_model():
    import climseg
    return climseg.load_model(SYNTH_MODEL)


@pytest.fixture(scope="session")
def sample():
    import xarray as xr
    with xr.open_dataset(SAMPLE) as ds:
        return ds.load()


@pytest.fixture(scope="session")
def climatenet_path():
    if not CLIMATENET.exists():
        pytest.skip(f"{CLIMATENET} is absent (../shared/data: ClimateNet's weights)")
    return CLIMATENET
