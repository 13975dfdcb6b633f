"""docs/examples/notebook.py runs (on the bundled sample and model) and says what it found."""

import os
import subprocess
import sys

from conftest import SOURCE


def test_notebook_example_runs(tmp_path):
    p = subprocess.run([sys.executable, str(SOURCE / "docs" / "examples" / "notebook.py"), "--out", str(tmp_path)],
                       capture_output=True, text=True, env={**os.environ, "OMP_NUM_THREADS": "2"})
    assert p.returncode == 0, p.stderr
    assert "predicted area:" in p.stdout and "against LABELS: mean IoU" in p.stdout, p.stdout
    assert (tmp_path / "prediction.nc").exists()
