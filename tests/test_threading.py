"""numba's workqueue threading layer (issue 11, item 14).

Under workqueue, two threads launching parallel kernels at once abort the process
(SIGABRT). Every parallel kernel of the package is serialised there. The layer is set
per process, so each check runs in a child process with NUMBA_THREADING_LAYER=workqueue.
"""

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

SCRIPT = textwrap.dedent(
    """
    import sys, threading
    sys.path.insert(0, {root!r})
    sys.path.insert(0, {tests!r})
    import numpy as np, numba, dask, dask.array as da
    import hyperspy.api as hs
    import hyperspy_symseg as ss
    from hyperspy_symseg._threading import layer_is_threadsafe
    from conftest import SMALL, two_grain

    image = two_grain()[0].astype(np.float32)
    s = hs.signals.Signal2D(image)
    from hyperspy_symseg.descriptors.translation import normalized_image

    seg = ss.symmetry_segmentation(s, 2, random_state=0, show_progressbar=False, **SMALL)
    assert layer_is_threadsafe() is False  # known from NUMBA_THREADING_LAYER before any launch
    # A small segmentation runs serial kernels only and starts no thread pool: launch a parallel one.
    reference = normalized_image(image)
    assert numba.threading_layer() == "workqueue", numba.threading_layer()
    assert layer_is_threadsafe() is False
    errors = []

    def work(k):
        try:
            for _ in range(3):
                other = ss.symmetry_segmentation(s, 2, random_state=0, show_progressbar=False, **SMALL)
                assert np.array_equal(other.labels.data, seg.labels.data)
                assert np.array_equal(seg.predict(s).data, seg.labels.data)
                assert np.array_equal(normalized_image(image), reference)  # parallel kernels from 4 threads
        except Exception as exc:
            errors.append(repr(exc))

    threads = [threading.Thread(target=work, args=(k,)) for k in range(4)]
    [t.start() for t in threads]
    [t.join() for t in threads]
    assert not errors, errors
    # a lazy stack on dask's threaded scheduler: chunks run in parallel threads
    stack = hs.signals.Signal2D(da.from_array(np.stack([image] * 6), chunks=(1, 48, 64))).as_lazy()
    with dask.config.set(scheduler="threads", num_workers=4):
        labels = np.asarray(seg.predict(stack).data.compute())
    assert all(np.array_equal(frame, seg.labels.data) for frame in labels)
    print("OK")
    """
)


@pytest.mark.parametrize("layer", ["workqueue"])
def test_concurrent_kernels_under_workqueue(layer):
    env = dict(os.environ, NUMBA_THREADING_LAYER=layer)
    code = SCRIPT.format(root=str(ROOT), tests=str(ROOT / "tests"))
    result = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0 and "OK" in result.stdout, (result.returncode, result.stderr[-3000:])


def test_threadsafe_layers_are_not_serialised():
    """In this process (OpenMP or TBB) the wrapper calls the kernel directly."""
    import numba
    import numpy as np

    from hyperspy_symseg import _threading
    from hyperspy_symseg.descriptors.translation import _normalize_kernel, normalized_image

    normalized_image(np.arange(12.0).reshape(3, 4))
    assert numba.threading_layer() in ("omp", "tbb", "workqueue")
    assert _threading.layer_is_threadsafe() is (numba.threading_layer() != "workqueue")
    assert hasattr(_normalize_kernel, "kernel") and _normalize_kernel.__name__ == "_normalize_kernel"


def test_every_parallel_kernel_is_serialised():
    """A new parallel=True kernel must be wrapped too (the package's own modules)."""
    import ast

    package = ROOT / "hyperspy_symseg"
    missing = []
    for path in package.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.FunctionDef):
                names = [ast.unparse(d) for d in node.decorator_list]
                if any("parallel=True" in n for n in names) and "serialised" not in names:
                    missing.append(f"{path.relative_to(ROOT)}::{node.name}")
    assert not missing, sorted(missing)


def test_single_threaded_blas_is_shared_and_restored():
    """One BLAS thread inside the blocks, also when they nest and overlap in threads; restored after."""
    # In a fresh process: scikit-learn's estimators in other tests set and restore BLAS limits of their own.
    import subprocess
    import sys
    import textwrap

    pytest.importorskip("threadpoolctl")
    script = textwrap.dedent('import sys\nimport threading\n\nimport threadpoolctl\nimport numpy as np\n\nfrom hyperspy_symseg._threading import single_threaded_blas\n\nnp.ones((4, 4)) @ np.ones((4, 4))  # BLAS loaded\n\ndef blas_threads():\n    return [i["num_threads"] for i in threadpoolctl.threadpool_info() if i["user_api"] == "blas"]\n\nbefore = blas_threads()\nif not before:\n    sys.exit(0)\ninside, entered, release = [], threading.Barrier(2), threading.Event()\n\ndef work():\n    with single_threaded_blas():\n        entered.wait()\n        release.wait(5)\n        inside.append(blas_threads())\n\nworker = threading.Thread(target=work)\nworker.start()\nwith single_threaded_blas():\n    entered.wait()\n    with single_threaded_blas():\n        inside.append(blas_threads())\n# the worker is still inside: its block keeps the limit after ours ended\ninside.append(blas_threads())\nrelease.set()\nworker.join()\nassert inside == [[1] * len(before)] * 3\nassert blas_threads() == before\n')
    run = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr[-2000:]


def test_num_threads_does_not_start_the_pool():
    """num_threads() is numba's thread count without launching the threading layer, and a small
    segmentation (serial kernels on Python threads only) starts no numba thread pool."""
    code = textwrap.dedent(
        f"""
        import sys
        sys.path.insert(0, {str(ROOT)!r})
        sys.path.insert(0, {str(ROOT / "tests")!r})
        import numba, numpy as np
        import hyperspy.api as hs
        import hyperspy_symseg as ss
        from numba.np.ufunc import parallel
        from hyperspy_symseg._threading import num_threads
        from conftest import SMALL, two_grain

        assert num_threads() == numba.config.NUMBA_NUM_THREADS and not parallel._is_initialized
        s = hs.signals.Signal2D(two_grain()[0].astype(np.float32))
        ss.symmetry_segmentation(s, 2, random_state=0, show_progressbar=False, **SMALL)
        assert not parallel._is_initialized, "a small segmentation started numba's thread pool"
        numba.set_num_threads(1)
        assert num_threads() == 1 == numba.get_num_threads()
        print("ok")
        """
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=600)
    assert result.returncode == 0 and result.stdout.strip().endswith("ok"), result.stderr[-3000:]
