"""find_atom_columns / AtomColumns on HyperSpy signals: calibration, markers, CSV, patterns, errors, lazy."""

import numpy as np
import pytest

from hyperspy_symseg import simulate as S
from hyperspy_symseg.atom_columns import AtomColumns, find_atom_columns


@pytest.fixture(scope="module")
def grains():
    return S.two_grain_image(shape=(192, 192), rotations=(5.0, 27.0), random_state=0)


@pytest.fixture(scope="module")
def cols(grains):
    return find_atom_columns(grains.image, segmentation=grains.labels)


def test_table_and_calibration(grains, cols):
    t = cols.table
    assert isinstance(cols, AtomColumns) and len(cols) == len(t) > 80
    scale = grains.image.axes_manager["x"].scale
    np.testing.assert_allclose(t["x"], t["x_px"] * scale)
    np.testing.assert_allclose(cols.positions, cols.positions_px * scale)
    for name in ("amplitude", "background", "sigma_major_px", "integrated_intensity", "snr", "chi2", "label"):
        assert name in t.dtype.names
    assert np.all(t["sigma_major_px"] >= t["sigma_minor_px"])
    # each column carries the ground-truth grain under it
    truth = grains.labels.data[np.rint(t["y_px"]).astype(int), np.rint(t["x_px"]).astype(int)]
    np.testing.assert_array_equal(t["label"], truth)
    assert "columns" in repr(cols)


def test_positions_match_ground_truth(grains, cols):
    from scipy.spatial import cKDTree

    d, _ = cKDTree(grains.positions).query(cols.positions)
    assert np.median(d) < 0.2 * 0.02 * 15  # well within a fifth of... (nm)
    assert len(cols) == pytest.approx(len(grains.positions), abs=4)


def test_pattern_lattice_vectors(grains, cols):
    """Per-pattern vectors: the true 0.3 nm hexagonal cell of each grain, rotated 5 and 27 degrees."""
    pt = cols.pattern_table()
    assert list(pt["label"]) == [0, 1]
    np.testing.assert_allclose(pt["a1_length"], 0.3, rtol=0.01)
    np.testing.assert_allclose(pt["a2_length"], 0.3, rtol=0.01)
    np.testing.assert_allclose(pt["angle_deg"], 60.0, atol=1.5)
    for k, rot in enumerate((5.0, 27.0)):
        v = np.array([[pt["a1_y"][k], pt["a1_x"][k]], [pt["a2_y"][k], pt["a2_x"][k]]])
        ang = np.degrees(np.arctan2(-v[:, 0], v[:, 1])) % 60.0
        assert np.min(np.abs((ang - rot + 30) % 60 - 30)) < 1.5
    assert np.all(pt["a1_y_std"] < 0.02)
    p0 = cols.patterns[0]
    assert p0.n_columns == np.sum(cols.labels == 0)


def test_markers_are_one_calibrated_points_object(cols):
    import hyperspy.api as hs

    m = cols.to_markers()
    assert isinstance(m, hs.plot.markers.Points)
    np.testing.assert_allclose(m.kwargs["offsets"], np.column_stack([cols.table["x"], cols.table["y"]]))


def test_csv_round_trip(tmp_path, cols):
    path = tmp_path / "c.csv"
    cols.to_csv(path)
    data = np.genfromtxt(path, delimiter=",", names=True, comments="#")
    assert len(data) == len(cols)
    np.testing.assert_allclose(data["x_px"], cols.table["x_px"], rtol=1e-9)
    np.testing.assert_array_equal(data["label"], cols.table["label"])


def test_lazy_equals_eager_and_input_untouched(grains):
    before = grains.image.data.copy()
    eager = find_atom_columns(grains.image)
    lazy = find_atom_columns(grains.image.as_lazy())
    np.testing.assert_array_equal(eager.table, lazy.table)
    np.testing.assert_array_equal(grains.image.data, before)
    arr = find_atom_columns(grains.image.data)
    np.testing.assert_array_equal(arr.table["x_px"], eager.table["x_px"])
    assert arr.axes["units"] == ("px", "px")


def test_no_lattice_says_so():
    rng = np.random.default_rng(0)
    with pytest.raises(ValueError, match="holds no lattice"):
        find_atom_columns(rng.poisson(5.0, (128, 128)).astype(float))
    # with the separation given, noise gives no columns rather than noise peaks
    assert len(find_atom_columns(rng.poisson(5.0, (128, 128)).astype(float), min_separation=10.0)) == 0


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        ({"min_separation": 0.5}, ValueError, "min_separation must be a finite number >= 1"),
        ({"min_separation": "a"}, TypeError, "min_separation must be a real number"),
        ({"noise": "bad"}, ValueError, "noise must be one of"),
        ({"min_snr": -1}, ValueError, "min_snr must be a finite number >= 0"),
        ({"sigma": 0.0}, ValueError, "sigma must be a finite number > 0"),
        ({"elliptical": 1}, TypeError, "elliptical must be True or False"),
        ({"segmentation": np.zeros((3, 3), int)}, ValueError, "segmentation must have the image's shape"),
        ({"min_lattice_quality": 2.0}, ValueError, "min_lattice_quality must be a finite number"),
    ],
)
def test_bad_parameters(grains, kwargs, error, match):
    with pytest.raises(error, match=match):
        find_atom_columns(grains.image, **kwargs)


def test_bad_input():
    import hyperspy.api as hs

    with pytest.raises(TypeError, match="signal must be a HyperSpy Signal2D or a 2D NumPy array"):
        find_atom_columns([[1, 2], [3, 4]])
    with pytest.raises(ValueError, match="holds no lattice"):  # a stack: the lattice of its first frame
        find_atom_columns(hs.signals.Signal2D(np.zeros((2, 32, 32))))
    img = np.ones((32, 32))
    img[3, 3] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        find_atom_columns(img, min_separation=5.0)
    with pytest.raises(TypeError, match="complex"):
        find_atom_columns(np.ones((32, 32), complex), min_separation=5.0)
    with pytest.raises(ValueError, match="noise='poisson' needs non-negative"):
        find_atom_columns(-np.ones((32, 32)), min_separation=5.0, noise="poisson")
