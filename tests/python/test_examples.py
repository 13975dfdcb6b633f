"""docs/examples/notebook.py runs (on the bundled sample and model) and says what it found."""

import os
import subprocess
import sys

import pytest

from conftest import SOURCE


def test_notebook_example_runs(tmp_path):
    p = subprocess.run([sys.executable, str(SOURCE / "docs" / "examples" / "notebook.py"), "--out", str(tmp_path)],
                       capture_output=True, text=True, env={**os.environ, "OMP_NUM_THREADS": "2"})
    assert p.returncode == 0, p.stderr
    assert "predicted area:" in p.stdout and "against LABELS: mean IoU" in p.stdout, p.stdout
    assert "cyclone tracks" in p.stdout and "detectors and network agree" in p.stdout, p.stdout
    assert "events:" in p.stdout, p.stdout
    assert (tmp_path / "prediction.nc").exists()
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        assert "matplotlib is not installed: no plot" in p.stdout, p.stdout
        pytest.skip("matplotlib is not installed: the example ran without its plot")
    assert (tmp_path / "last_step.png").stat().st_size > 1000
