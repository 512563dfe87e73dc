"""find_atom_columns on stacks: every frame, lazily (dask, one task per chunk of frames)."""

import numpy as np
import pytest

from hyperspy_symseg import simulate as S
from hyperspy_symseg.atom_columns import AtomColumnsStack, find_atom_columns


@pytest.fixture(scope="module")
def sims():
    return [S.two_grain_image(shape=(128, 128), rotations=(5.0, 27.0), random_state=k) for k in range(4)]


@pytest.fixture(scope="module")
def stack(sims):
    import hyperspy.api as hs

    return hs.stack([s.image for s in sims[:3]], show_progressbar=False)


@pytest.fixture(scope="module")
def eager(stack):
    return find_atom_columns(stack)


def test_every_frame_equals_the_single_image_call(stack, eager, sims):
    assert isinstance(eager, AtomColumnsStack) and len(eager) == 3
    assert eager.navigation_shape == (3,)
    sep = eager.parameters["min_separation"]
    # the separation comes from the first frame's lattice
    first = find_atom_columns(stack.inav[0])
    assert sep == first.parameters["min_separation"]
    np.testing.assert_array_equal(eager[0].table, first.table)
    for i in range(3):
        single = find_atom_columns(stack.inav[i], min_separation=sep)
        np.testing.assert_array_equal(eager[i].table, single.table)
        assert len(eager[i]) == pytest.approx(len(sims[i].positions), abs=4)
    np.testing.assert_array_equal(eager.n_columns, [len(f) for f in eager])


def test_lazy_equals_eager_one_task_per_chunk(stack, eager):
    lazy = stack.as_lazy()
    lazy.data = lazy.data.rechunk((2, 64, 64))  # two chunks of frames, images split: rechunked whole
    before = stack.data.copy()
    got = find_atom_columns(lazy)
    assert len(got) == 3
    for i in range(3):
        np.testing.assert_array_equal(got[i].table, eager[i].table)
    np.testing.assert_array_equal(got.table, eager.table)
    np.testing.assert_array_equal(stack.data, before)


def test_two_navigation_axes_table_csv_and_markers(sims, tmp_path):
    import hyperspy.api as hs

    data = np.stack([s.image.data for s in sims]).reshape(2, 2, 128, 128)
    s = hs.signals.Signal2D(data)
    s.axes_manager.signal_axes[0].scale = s.axes_manager.signal_axes[1].scale = 0.02
    cols = find_atom_columns(s.as_lazy(), min_separation=7.5)
    assert cols.navigation_shape == (2, 2)
    t = cols.table
    assert t.dtype.names[:3] == ("frame", "index_0", "index_1")
    for flat in range(4):
        iy, ix = np.unravel_index(flat, (2, 2))
        rows = t[t["frame"] == flat]
        assert np.all(rows["index_0"] == iy) and np.all(rows["index_1"] == ix)
        np.testing.assert_array_equal(rows["x_px"], cols[iy, ix].table["x_px"])
        single = find_atom_columns(s.inav[ix, iy], min_separation=7.5)
        np.testing.assert_array_equal(single.table, cols[iy, ix].table)
    path = tmp_path / "stack.csv"
    cols.to_csv(path)
    back = np.genfromtxt(path, delimiter=",", names=True)
    np.testing.assert_array_equal(back["frame"], t["frame"])
    np.testing.assert_allclose(back["x"], t["x"], rtol=1e-9)
    # one Points object whose ragged offsets follow the navigation (HyperSpy indexes them x first)
    m = cols.to_markers()
    assert isinstance(m, hs.plot.markers.Points)
    off = m.kwargs["offsets"]
    assert off.dtype == object and off.shape == s.axes_manager.navigation_shape
    np.testing.assert_allclose(off[1, 0], np.column_stack([cols[0, 1].table["x"], cols[0, 1].table["y"]]))
    s.add_marker(m, permanent=True)  # shape accepted by HyperSpy


def test_markers_follow_navigation_when_plotted(stack, eager):
    import matplotlib

    matplotlib.use("Agg")
    s = stack.deepcopy()
    m = eager.to_markers()
    s.plot()
    s.add_marker(m, permanent=False)
    for i in (2, 0):
        s.axes_manager.indices = (i,)
        np.testing.assert_allclose(m.get_current_kwargs()["offsets"],
                                   np.column_stack([eager[i].table["x"], eager[i].table["y"]]))
    s._plot.close()


def test_segmentation_per_frame_or_one_for_all(stack, sims):
    import hyperspy.api as hs

    labs = hs.stack([s.labels for s in sims[:3]], show_progressbar=False)
    per = find_atom_columns(stack.as_lazy(), segmentation=labs.as_lazy())
    for i in range(3):
        t = per[i].table
        truth = sims[i].labels.data[np.rint(t["y_px"]).astype(int), np.rint(t["x_px"]).astype(int)]
        np.testing.assert_array_equal(t["label"], truth)
        assert sorted(per[i].patterns) == [0, 1]
    one = find_atom_columns(stack, segmentation=sims[0].labels)
    t = one[2].table
    np.testing.assert_array_equal(t["label"], sims[0].labels.data[np.rint(t["y_px"]).astype(int),
                                                                   np.rint(t["x_px"]).astype(int)])
    m = per.to_markers()
    assert m.kwargs["color"][1].shape == (len(per[1]), 4)


def test_stack_errors(stack):
    import hyperspy.api as hs

    with pytest.raises(ValueError, match=r"segmentation must have the image's shape \(128, 128\) or the stack's"):
        find_atom_columns(stack, segmentation=np.zeros((2, 128, 128), int))
    bad = stack.deepcopy()
    bad.data[1, 5, 5] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        find_atom_columns(bad, min_separation=7.5)
    with pytest.raises(ValueError, match="first frame"):
        find_atom_columns(hs.signals.Signal2D(np.full((2, 32, 32), np.nan)), min_separation=5.0)
