"""The fixed costs of a fresh process: a switched-off progress bar, label counts, the BLAS controller."""

import numpy as np
import pytest

from hyperspy_symseg import _signal_utils, _threading, model


def test_disabled_progressbar_is_a_no_op():
    bar = _signal_utils._progressbar(100, False, "x")
    with bar as b:
        assert b.update(10) is None
    assert bar is _signal_utils._NO_PROGRESS


def test_enabled_progressbar_is_hyperspys():
    with _signal_utils._progressbar(10, True, "x") as bar:
        bar.update(10)
        assert bar.n == 10


@pytest.mark.parametrize("small", [8, 0])
@pytest.mark.parametrize("serial", [2**22, 0])
def test_count_labels_every_route_equals_bincount(monkeypatch, small, serial):
    monkeypatch.setattr(model, "SMALL_COUNT_PATTERNS", small)
    monkeypatch.setattr(model, "SERIAL_COUNT_SIZE", serial)
    labels = np.random.default_rng(3).integers(0, 6, size=(101, 67)).astype(np.uint8)  # 5 = out of range for n=5
    expected = np.bincount(labels.ravel(), minlength=6)[:5]
    counts = model.count_labels(labels, 5)
    np.testing.assert_array_equal(counts, expected)
    assert counts.dtype == np.int64
    assert counts.sum() == labels.size - np.count_nonzero(labels == 5)


def test_blas_file_names():
    assert _threading._is_blas_file("/x/numpy.libs/libscipy_openblas64_-32a4b2a6.so")
    assert _threading._is_blas_file("/usr/lib/libmkl_rt.so.2")
    assert _threading._is_blas_file("/usr/lib/libflexiblas.so.3")
    assert not _threading._is_blas_file("/usr/lib/libgomp.so.1")


def test_blas_only_controller_finds_the_blas_the_full_scan_finds():
    threadpoolctl = pytest.importorskip("threadpoolctl")
    full = sorted(x["filepath"] for x in threadpoolctl.ThreadpoolController().select(user_api="blas").info())
    ours = sorted(x["filepath"] for x in _threading._blas_controller().select(user_api="blas").info())
    assert ours == full and ours
    with _threading.single_threaded_blas():
        assert all(x["num_threads"] == 1 for x in _threading._blas_controller().select(user_api="blas").info())
