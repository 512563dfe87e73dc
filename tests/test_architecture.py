"""The boundary of the design: numerical kernels never import HyperSpy."""

import subprocess
import sys

import pytest


@pytest.mark.parametrize(
    "module",
    [
        "hyperspy_symseg.descriptors",
        "hyperspy_symseg.descriptors.translation",
        "hyperspy_symseg.descriptors.point_symmetry",
        "hyperspy_symseg.descriptors.power_spectrum",
        "hyperspy_symseg._learn",
        "hyperspy_symseg.unmixing",
        "hyperspy_symseg.metrics",
        "hyperspy_symseg.separability",
        "hyperspy_symseg.analysis",
        "hyperspy_symseg.model",
        "hyperspy_symseg.files",
    ],
)
def test_kernel_modules_do_not_import_hyperspy(module):
    code = (
        f"import sys, {module}; "
        "loaded = [m for m in sys.modules if m == 'hyperspy' or m.startswith('hyperspy.')]; "
        "assert not loaded, loaded"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr[-2000:]


def test_signal_classes_hold_no_numerics():
    """signals.py forwards to the pipeline: it imports neither numpy nor numba."""
    import inspect

    import hyperspy_symseg.signals as signals

    source = inspect.getsource(signals)
    assert "import numpy" not in source and "import numba" not in source
