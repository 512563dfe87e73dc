"""Tasks shared out among Python threads, and results that do not depend on the number of threads."""

import threading

import numba
import numpy as np
import pytest

from hyperspy_symseg._tasks import run_tasks


@pytest.mark.parametrize("n_threads", [1, 2, 5])
def test_every_task_runs_once(n_threads):
    done = []
    threads = set()

    def task(i, t):
        done.append(i)
        threads.add((t, threading.get_ident()))

    run_tasks(task, 23, n_threads)
    assert sorted(done) == list(range(23))
    assert {t for t, _ in threads} <= set(range(n_threads))


def test_no_tasks_and_more_threads_than_tasks():
    run_tasks(lambda i, t: pytest.fail("no task to run"), 0, 4)
    done = []
    run_tasks(lambda i, t: done.append((i, t)), 2, 8)
    assert sorted(i for i, _ in done) == [0, 1]


def test_exception_reaches_the_caller():
    def task(i, t):
        if i == 7:
            raise ValueError("task 7 failed")

    with pytest.raises(ValueError, match="task 7 failed"):
        run_tasks(task, 20, 3)


def _with_threads(n, fn):
    previous = numba.get_num_threads()
    numba.set_num_threads(min(n, numba.config.NUMBA_NUM_THREADS))
    try:
        return fn()
    finally:
        numba.set_num_threads(previous)


def test_pipeline_kernels_do_not_depend_on_threads():
    from hyperspy_symseg._learn import CHUNK_ROWS, CovariancePCA, kmeans
    from hyperspy_symseg.descriptors import local_correlation_map, translation_grid
    from hyperspy_symseg.simulate import two_grain_image

    image = two_grain_image(shape=(150, 160), random_state=0).image.data
    shifts = translation_grid(6, 6, 25)

    def run():
        scores, _ = local_correlation_map(image, shifts, 4, 5, 1, edges="shrink")
        X = scores.reshape(-1, len(shifts))
        assert len(X) > 2 * CHUNK_ROWS  # several chunks of the covariance and projection passes
        pca = CovariancePCA(3).fit(X)
        loadings = pca.transform(X)
        return scores, pca.components_, loadings, kmeans(loadings, 3, 4, random_state=2)[0]

    one, two = _with_threads(1, run), _with_threads(2, run)
    for a, b in zip(one, two):
        np.testing.assert_array_equal(a, b)
