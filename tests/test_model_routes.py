"""Every route to labels gives the same labels (issue 11, items 2, 6 and 19).

Routes: the fit's own labels, ``predict`` on the fitted image, lazy labels (whole frames
and tiles), a saved-and-reloaded model, and a lazy image fitted on a sample of tiles.
"""

import dask.array as da
import hyperspy.api as hs
import numpy as np
import pytest
from conftest import SMALL, two_grain

import hyperspy_symseg as ss


def _tiling():
    from hyperspy_symseg import _tiling

    return _tiling


def is_sampled(descriptors):
    from hyperspy_symseg._lazy_fit import is_sampled

    return is_sampled(descriptors)

ROUTE_CASES = {
    "lcm-PCA": dict(SMALL),
    "power-PCA": dict(descriptor="power_spectrum", window_x=8, window_y=8),
    "power-NMF": dict(descriptor="power_spectrum", window_x=8, window_y=8, decomposition_algorithm="NMF"),
    "lcm-nfindr": dict(SMALL, decomposition_algorithm="nfindr"),
    "reflection-nfindr": dict(descriptor="reflection_symmetry_maximum_pooling", radius=5, window_x=4, window_y=4,
                              num_reflection_plane=4, num_max=2, decomposition_algorithm="nfindr"),
    "rotation-PCA": dict(descriptor="rotational_symmetry_maximum_pooling", radius=5, window_x=4, window_y=4),
}


@pytest.fixture(scope="module")
def image():
    return hs.signals.Signal2D(two_grain()[0].astype(np.float32))


def _lazy(s, chunks):
    return hs.signals.Signal2D(da.from_array(np.asarray(s.data), chunks=chunks)).as_lazy()


def test_nmf_issue_example(image):
    """The issue's example: 96x128 two grains, power spectrum 8x8, NMF, 4 patterns, seed 4."""
    g = ss.symmetry_segmentation(image, descriptor="power_spectrum", window_x=8, window_y=8,
                                 decomposition_algorithm="NMF", n_patterns=4, random_state=4, show_progressbar=False)
    assert (g.predict(image).data != g.labels.data).mean() == 0


@pytest.mark.parametrize("case", list(ROUTE_CASES))
@pytest.mark.parametrize("seed", [1, 4])
def test_every_route_gives_the_fit_labels(image, case, seed, tmp_path):
    g = ss.symmetry_segmentation(image, 3, random_state=seed, show_progressbar=False, **ROUTE_CASES[case])
    expected = g.labels.data
    np.testing.assert_array_equal(g.predict(image).data, expected)
    np.testing.assert_array_equal(np.asarray(g.predict(image.as_lazy()).data.compute()), expected)
    np.testing.assert_array_equal(np.asarray(g.predict(_lazy(image, (40, 50))).data.compute()), expected)
    g.save_model(tmp_path / "model.hspy")
    np.testing.assert_array_equal(ss.segment_with_model(image, ss.load_model(tmp_path / "model.hspy")).data, expected)
    # the grid labels the fit stored are those of the model on the fitted descriptors
    features = np.asarray(g.descriptors.data).reshape(-1, g.descriptor.n_operations)
    np.testing.assert_array_equal(g.model.assign(features)[0], np.asarray(g.grid_labels).ravel())


# ---------------------------------------------------------- item 6: near-flat tiles


def _vacuum_scene(shape=(600, 700), dtype=np.float64):
    image, _ = two_grain(shape=shape)
    rng = np.random.default_rng(1)
    image[:, :300] = 5 + 1e-6 * rng.normal(size=(shape[0], 300))  # vacuum: flat to 1e-6 of the lattice
    return image.astype(dtype)


@pytest.mark.parametrize("descriptor, params", [
    ("local_correlation_map", SMALL),
    ("power_spectrum", dict(window_x=8, window_y=8)),
    ("reflection_symmetry_maximum_pooling", dict(radius=5, window_x=4, window_y=4, num_reflection_plane=4)),
])
def test_tiles_judge_flat_patches_like_the_whole_image(descriptor, params):
    """A tile of almost flat vacuum was judged flat relative to its own variance: tiled
    labels and confidences differed from the eager ones (the issue's 600x700 scene, chunks 200)."""
    image = _vacuum_scene()
    s = hs.signals.Signal2D(image)
    seg = ss.symmetry_segmentation(s, 3, descriptor=descriptor, random_state=0, show_progressbar=False, **params)
    tiled = _lazy(s, 200)
    np.testing.assert_array_equal(np.asarray(seg.predict(tiled).data.compute()), seg.labels.data)
    np.testing.assert_allclose(np.asarray(seg.confidence_map(tiled).data.compute()), seg.confidence_map().data, atol=1e-5)


def test_tile_descriptors_equal_the_whole_image_descriptors():
    """At the level of the numbers: a vacuum-only tile scored with the frame's std."""
    from hyperspy_symseg.descriptors import DescriptorGrid, make_descriptor

    image = _vacuum_scene(shape=(200, 400))
    for name, params in [("local_correlation_map", SMALL), ("power_spectrum", dict(window_x=8, window_y=8)),
                         ("rotational_symmetry_maximum_pooling", dict(radius=5, window_x=3, window_y=3))]:
        spec = make_descriptor(name, **params)
        whole = spec.compute(image, 4)
        grid = spec.grid(image.shape, 4)
        tile = image[40:160, 40:200]  # vacuum only
        sub = DescriptorGrid(grid.y0 + 10 * 4 - 40, grid.x0 + 10 * 4 - 40, 10, 20, 4)
        part = spec.compute(tile, 4, grid=sub, origin=(40, 40), reference_std=_tiling().numpy_frame_std(image))
        np.testing.assert_allclose(part, whole[10:20, 10:30], atol=2e-6, err_msg=name)


def test_frame_std_is_exact_and_overflow_free():
    rng = np.random.default_rng(0)
    frames = rng.normal(size=(3, 70, 90)) * np.array([1.0, 1e200, 1e-200])[:, None, None] + 7
    lazy = da.from_array(frames, chunks=(2, 30, 40))
    std = _tiling().frame_std(lazy)
    np.testing.assert_allclose(std[0], frames[0].std(), rtol=1e-12)
    np.testing.assert_allclose(std[1] / 1e200, (frames[1] / 1e200).std(), rtol=1e-12)
    np.testing.assert_allclose(std[2] * 1e200, (frames[2] * 1e200).std(), rtol=1e-9)
    assert _tiling().numpy_frame_std(frames[0]) == pytest.approx(frames[0].std(), rel=1e-12)


# --------------------------------------------- item 19: lazy fits on a tile sample


def test_small_lazy_image_is_fitted_like_the_eager_one(image):
    eager = ss.symmetry_segmentation(image, 2, random_state=0, show_progressbar=False, **SMALL)
    lazy = ss.symmetry_segmentation(_lazy(image, (50, 60)), 2, random_state=0, show_progressbar=False, **SMALL)
    assert not is_sampled(lazy.descriptors)
    np.testing.assert_array_equal(np.asarray(lazy.labels.data.compute()), eager.labels.data)


@pytest.fixture(scope="module")
def big():
    image, truth = two_grain(shape=(400, 520))
    return image.astype(np.float32), truth


def test_large_lazy_image_is_fitted_on_a_bounded_sample(big, monkeypatch):
    image, truth = big
    tiling = _tiling()
    monkeypatch.setattr(tiling, "FIT_BUDGET_BYTES", 4 * SMALL["max_num_points"] * 3000)  # ~3000 grid points
    monkeypatch.setattr(tiling, "TILE_POINTS", 16)
    lazy = hs.signals.Signal2D(da.from_array(image, chunks=128)).as_lazy()
    seg = ss.symmetry_segmentation(lazy, 2, stride=2, random_state=0, max_samples=2000, show_progressbar=False, **SMALL)
    assert is_sampled(seg.descriptors)
    budget = tiling.fit_budget_points(seg.descriptor.n_operations, 2000)
    n_grid = np.prod(seg.descriptor.grid(image.shape, 2).shape)
    assert np.asarray(seg.grid_labels).size <= budget < n_grid
    labels = np.asarray(seg.labels.data.compute())
    accuracy = np.mean(labels == truth)
    assert max(accuracy, 1 - accuracy) > 0.97
    # the sampled points' descriptors are the whole image's at those grid points
    eager = ss.get_symmetry_descriptors(hs.signals.Signal2D(image), stride=2, show_progressbar=False,
                                        intensity_features=True, **SMALL)
    positions = seg.descriptors.metadata.SymmetryDescriptors.sample_positions
    grid = seg.descriptor.grid(image.shape, 2)
    i = (positions[:, 1] - grid.y0) // 2
    j = (positions[:, 2] - grid.x0) // 2
    np.testing.assert_allclose(np.asarray(seg.descriptors.data), np.asarray(eager.data)[i, j], atol=2e-6)
    # the same seed, the same sample and labels
    again = ss.symmetry_segmentation(lazy, 2, stride=2, random_state=0, max_samples=2000, show_progressbar=False, **SMALL)
    np.testing.assert_array_equal(np.asarray(again.labels.data.compute()), labels)
    # the model labels other routes identically; the fast model refits on the same sample
    np.testing.assert_array_equal(seg.predict(hs.signals.Signal2D(image)).data, labels)
    fast = seg.select_operations(8)
    assert is_sampled(fast.descriptors) and fast.descriptors.data.shape == (np.asarray(seg.grid_labels).size, 8)
    assert np.mean(np.asarray(fast.labels.data.compute()) == labels) > 0.97


def test_sampled_fit_never_loads_a_whole_frame(big, monkeypatch):
    """Every array computed during the fit is a tile (plus halo), never the frame."""
    image, _ = big
    from hyperspy_symseg import _lazy_fit

    tiling = _tiling()
    monkeypatch.setattr(tiling, "FIT_BUDGET_BYTES", 4 * SMALL["max_num_points"] * 2000)
    monkeypatch.setattr(tiling, "TILE_POINTS", 16)
    read = []
    original = tiling._read

    def spy(frames, boxes):
        out = original(frames, boxes)
        read.extend(b.shape for b in out)
        return out

    def whole_frames(*args):
        raise AssertionError("the fit loaded whole frames")

    monkeypatch.setattr(tiling, "_read", spy)
    monkeypatch.setattr(_lazy_fit, "_reference_signal", whole_frames)
    lazy = hs.signals.Signal2D(da.from_array(image, chunks=128)).as_lazy()
    seg = ss.symmetry_segmentation(lazy, 2, stride=2, random_state=0, max_samples=1000, show_progressbar=False,
                                   **SMALL)
    halo = seg.descriptor.halo
    assert read and max(h * w for h, w in read) <= (16 * 2 + 2 * halo) ** 2 < image.size


@pytest.mark.parametrize("descriptor, params", [
    ("local_correlation_map", dict(patch_x=2, patch_y=2, window_x=3, window_y=3)),
    ("power_spectrum", dict(window_x=1, window_y=1, crop=None)),
    ("rotational_symmetry_maximum_pooling", dict(radius=3, window_x=2, window_y=2)),
])
@pytest.mark.parametrize("value", [0.86167545, 1 / 3])
def test_constant_image_is_flat_in_every_route(descriptor, params, value):
    """Found by the fuzz suite: the rounding noise of a constant frame's mean (std ~1e-16)
    was taken for a tiny signal (a power-spectrum underflow error in tiles only)."""
    image = np.full((48, 48), value)
    s = hs.signals.Signal2D(image)
    seg = ss.symmetry_segmentation(s, 2, descriptor=descriptor, stride=2, random_state=0, show_progressbar=False,
                                   **params)
    assert not np.asarray(seg.descriptors.data).any()
    np.testing.assert_array_equal(np.asarray(seg.predict(_lazy(s, 30)).data.compute()), seg.labels.data)
    assert _tiling().frame_std(da.from_array(image, chunks=30)) == 0.0


def test_sampled_fit_with_automatic_number_of_patterns(big, monkeypatch):
    """n_patterns="auto" checks compactness on the grid: a sample is a stack of equal tiles."""
    image, truth = big
    tiling = _tiling()
    monkeypatch.setattr(tiling, "FIT_BUDGET_BYTES", 4 * 81 * 2000)
    monkeypatch.setattr(tiling, "TILE_POINTS", 16)
    lazy = hs.signals.Signal2D(da.from_array(image, chunks=128)).as_lazy()
    seg = ss.symmetry_segmentation(lazy, "auto", stride=2, random_state=0, max_samples=2000, show_progressbar=False)
    assert is_sampled(seg.descriptors)
    from hyperspy_symseg._lazy_fit import grid_shape

    n_tiles, ty, tx = grid_shape(seg.descriptors)
    assert (ty, tx) == (16, 16) and n_tiles * 256 == np.asarray(seg.grid_labels).size
    assert seg.n_patterns == 2
    labels = np.asarray(seg.labels.data.compute())
    assert max(np.mean(labels == truth), np.mean(labels != truth)) > 0.97


def test_chunks_smaller_than_the_halo():
    """A last chunk narrower than the halo (100 px < 143 px here) was left to dask's overlap,
    which re-chunks on its own: confidence maps of tiles were off by up to 8e-4 (and with
    larger halos a dask 'adjust_chunks' error); the rechunk to 256 px could leave such a
    chunk too. Every chunk is now at least the halo."""
    from hyperspy_symseg.model import _chunks_at_least

    assert _chunks_at_least(266, 256, 17) == (266,)
    assert _chunks_at_least(700, 256, 191) == (256, 444)
    assert _chunks_at_least(600, 256, 17) == (256, 256, 88)
    image, _ = two_grain(shape=(600, 700))
    s = hs.signals.Signal2D(image)
    seg = ss.symmetry_segmentation(s, 2, stride=4, background=None, random_state=0, show_progressbar=False,
                                   patch_x=90, patch_y=90, window_x=97, window_y=97, max_num_points=9)
    assert seg.model.halo == 143
    lazy = _lazy(s, 200)
    np.testing.assert_array_equal(np.asarray(seg.predict(lazy).data.compute()), seg.labels.data)
    np.testing.assert_allclose(np.asarray(seg.confidence_map(lazy).data.compute()), seg.confidence_map().data, atol=1e-6)
