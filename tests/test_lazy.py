"""Lazy input: labels computed chunk by chunk (also tiles of one image) equal the eager ones."""

import dask.array as da
import hyperspy.api as hs
import numpy as np
import pytest
from conftest import SMALL, two_grain

from hyperspy_symseg import symmetry_segmentation

FAMILIES = [
    dict(SMALL),
    dict(SMALL, edges="exclude"),
    dict(descriptor="rotational_symmetry_maximum_pooling", radius=5, window_x=4, window_y=4),
    dict(descriptor="reflection_symmetry_maximum_pooling", radius=5, window_x=4, window_y=4, num_max=2,
         num_reflection_plane=4),
    dict(descriptor="power_spectrum", window_x=6, window_y=6),
]


@pytest.fixture(scope="module")
def stack():
    frames = np.stack([two_grain((100, 130), boundary=55 + 7 * k, seed=k)[0] for k in range(3)]).astype(np.float32)
    return hs.signals.Signal2D(frames)


@pytest.mark.parametrize("params", FAMILIES, ids=lambda p: f"{p.get('descriptor', 'lcm')}-{p.get('edges', 'shrink')}")
@pytest.mark.parametrize("chunks", [(1, 100, 130), (2, 41, 57)])
def test_tiled_lazy_labels_equal_eager(stack, params, chunks):
    seg = symmetry_segmentation(stack.inav[0], 2, stride=3, random_state=0, **params)
    eager = seg.predict(stack)
    lazy_signal = hs.signals.Signal2D(da.from_array(stack.data, chunks=chunks)).as_lazy()
    lazy = seg.predict(lazy_signal)
    assert lazy._lazy
    np.testing.assert_array_equal(np.asarray(lazy.data.compute()), eager.data)


def test_lazy_output_from_eager_input(stack):
    seg = symmetry_segmentation(stack, 2, stride=3, random_state=0, **SMALL)
    lazy = seg.predict(stack, lazy_output=True)
    assert lazy._lazy
    np.testing.assert_array_equal(np.asarray(lazy.data.compute()), seg.labels.data)


def test_confidence_map_lazy_equals_eager(stack):
    seg = symmetry_segmentation(stack, 2, stride=3, random_state=0, **SMALL)
    eager = seg.confidence_map()
    lazy = seg.confidence_map(hs.signals.Signal2D(da.from_array(stack.data, chunks=(1, 50, 65))).as_lazy())
    np.testing.assert_allclose(np.asarray(lazy.data.compute()), eager.data, atol=1e-6)
    assert eager.data.dtype == np.float32 and 0 <= eager.data.min() and eager.data.max() <= 1


def test_runs_on_a_distributed_cluster(stack):
    """The same lazy labels on a dask.distributed LocalCluster with 2 worker processes."""
    distributed = pytest.importorskip("distributed")
    seg = symmetry_segmentation(stack.inav[0], 2, stride=3, random_state=0, **SMALL)
    eager = seg.predict(stack)
    lazy_signal = hs.signals.Signal2D(da.from_array(stack.data, chunks=(1, 50, 65))).as_lazy()
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster:
        with distributed.Client(cluster) as client:
            labels = seg.predict(lazy_signal)
            result = client.compute(labels.data).result()
            assert len(client.scheduler_info()["workers"]) == 2
    np.testing.assert_array_equal(result, eager.data)
