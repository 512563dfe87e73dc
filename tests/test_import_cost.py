"""What a fresh process imports: the eager pipeline needs neither scikit-learn nor dask,
and `import hyperspy_symseg` (and ``set_signal_type``) defers the atom-column and spectra modules.

scikit-learn (with scipy.stats) and dask cost 0.5-1 s and 0.3-0.6 s of a fresh process
on a 2-core machine (benchmarks/bench_lcm.py --fresh); they are imported only by the
routes that use them (NMF and N-FINDR, lazy signals and dask output).
"""

import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

SCRIPT = textwrap.dedent(
    """
    import sys
    sys.path.insert(0, {root!r})
    import numpy as np
    import hyperspy.api as hs
    before = set(sys.modules)
    import hyperspy_symseg as ss

    y, x = np.mgrid[:96, :128] * (2 * np.pi / 7)
    image = np.where(x < 64 * 2 * np.pi / 7, np.cos(x) + np.cos(y), np.cos(x + y) + np.cos(x - y))

    heavy = ("sklearn", "scipy.stats", "dask", "matplotlib.pyplot", "hyperspy_symseg.atom_columns",
             "hyperspy_symseg.columns")
    assert not [m for m in heavy if m in sys.modules], [m for m in heavy if m in sys.modules]
    assert "scipy.ndimage" not in sys.modules or "scipy.ndimage" in before  # not ours to load at import
    assert "scipy.fft" not in sys.modules or "scipy.fft" in before  # the power-spectrum method loads it
    s = hs.signals.Signal2D(image.astype(np.float32))
    s.set_signal_type("atomic_resolution")
    seg = ss.symmetry_segmentation(s, 2, stride=4, random_state=0, show_progressbar=False, patch_x=5, patch_y=5,
                                   window_x=8, window_y=8, background=None, intensity_features=False)
    assert np.bincount(np.asarray(seg.labels.data)[:, :56].ravel()).argmax() != \\
        np.bincount(np.asarray(seg.labels.data)[:, 72:].ravel()).argmax()
    assert seg.descriptors.learning_results.explained_variance_ratio is not None
    assert not [m for m in heavy if m in sys.modules], [m for m in heavy if m in sys.modules]
    # nothing to refine without the intensity features: scipy.ndimage (~50 ms) stays unloaded
    assert seg.model.refiner is None
    assert "scipy.ndimage" not in sys.modules or "scipy.ndimage" in before
    fft = ss.symmetry_segmentation(s, 2, stride=4, method="fft", random_state=0, show_progressbar=False, patch_x=5,
                                   patch_y=5, window_x=8, window_y=8, background=None, intensity_features=False)
    assert (np.asarray(fft.labels.data) == np.asarray(seg.labels.data)).mean() > 0.99
    # numpy.fft's transforms (scipy.fft would bring scipy.special: 3.6 MiB of peak RSS, issue 12)
    assert "scipy.fft" not in sys.modules or "scipy.fft" in before
    assert s.find_atom_columns.__doc__.startswith("Find the atom columns")  # loads atom_columns on first look-up
    assert "hyperspy_symseg.atom_columns" in sys.modules
    lazy = s.as_lazy()  # the lazy class is defined on first use
    assert type(lazy).__name__ == "LazyAtomicResolutionImage" and "dask" in sys.modules
    print("ok")
    """
)


def test_eager_pipeline_imports_neither_sklearn_nor_dask():
    code = SCRIPT.format(root=str(ROOT))
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.strip().endswith("ok")


def test_import_sets_up_numba_without_starting_threads():
    """numba's compiler context is set up at import (one tiny cached kernel), no thread pool started."""
    code = textwrap.dedent(
        f"""
        import sys, threading
        sys.path.insert(0, {str(ROOT)!r})
        import hyperspy_symseg
        from hyperspy_symseg._threading import _first_kernel
        import numba
        assert _first_kernel.signatures, "prepare_numba did not run"
        assert threading.active_count() == 1, threading.enumerate()
        try:
            numba.threading_layer()
        except ValueError:
            print("ok")  # no parallel kernel has run: the thread pool is not started
        """
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.strip().endswith("ok")


def test_import_defers_atom_columns_and_spectra():
    """``import hyperspy_symseg`` loads the segmentation pipeline; the atom-column and spectra
    modules load on first use of their public names, which stay importable."""
    code = textwrap.dedent(
        f"""
        import sys
        sys.path.insert(0, {str(ROOT)!r})
        import hyperspy_symseg as ss
        deferred = ("hyperspy_symseg.atom_columns", "hyperspy_symseg.columns", "hyperspy_symseg.spectra")
        assert not [m for m in deferred if m in sys.modules], [m for m in deferred if m in sys.modules]
        from hyperspy_symseg import AtomColumns, find_atom_columns, segment_spectra
        from hyperspy_symseg.atom_columns import AtomColumns as direct
        assert AtomColumns is direct and "hyperspy_symseg.atom_columns" in sys.modules
        assert ss.segment_spectra is sys.modules["hyperspy_symseg.spectra"].segment_spectra
        assert set(ss.__all__) <= set(dir(ss))
        assert all(getattr(ss, name) is not None for name in ss.__all__)
        try:
            ss.no_such_name
        except AttributeError as error:
            assert "no_such_name" in str(error)
        else:
            raise AssertionError("no AttributeError")
        print("ok")
        """
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.strip().endswith("ok")
