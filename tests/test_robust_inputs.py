"""Inputs that broke kernels or gave unclear errors (issue 11, items 4, 5, 7, 8, 10, 12, 13, 15).

Each test failed before its fix. House rules checked throughout: a bad input gives a
ValueError/TypeError naming the parameter; the input signal is never modified.
"""

import hyperspy.api as hs
import numpy as np
import pytest
from conftest import SMALL, two_grain

import hyperspy_symseg as ss
from hyperspy_symseg import get_symmetry_descriptors, symmetry_segment, symmetry_segmentation
from hyperspy_symseg.descriptors import make_descriptor, translation_grid
from hyperspy_symseg.descriptors.translation import local_correlation_map
from hyperspy_symseg.model import SegmentationModel, label_dtype

ROT = "rotational_symmetry_maximum_pooling"
REF = "reflection_symmetry_maximum_pooling"


@pytest.fixture(scope="module")
def image():
    return two_grain()[0]


@pytest.fixture
def signal(image):
    return hs.signals.Signal2D(image.astype(np.float32))


@pytest.fixture(scope="module")
def fitted(image):
    return symmetry_segmentation(hs.signals.Signal2D(image.astype(np.float32)), 2, random_state=0,
                                 show_progressbar=False, **SMALL)


# ------------------------------------------------------------- item 4: huge shifts


@pytest.mark.parametrize(
    "shifts",
    [
        np.array([[0, 1], [1e20, 0]]),
        np.array([[0, 1], [2**63, 0]], dtype=np.uint64),
        np.array([[0, 1], [np.iinfo(np.int64).min, 0]], dtype=np.int64),
        np.array([[0, 1], [0, 2**40]], dtype=np.int64),
        np.array([[0, 1], [np.inf, 0]]),
    ],
    ids=["1e20", "2**63-uint64", "int64-min", "2**40", "inf"],
)
def test_preselected_translations_out_of_range_are_refused(signal, shifts):
    """They used to wrap to small or negative int64 values: out-of-bounds reads (direct) or IndexError (fft)."""
    for method in ("direct", "fft"):
        with pytest.raises(ValueError, match=r"preselected_translations must hold shifts in \[-2147483647, 2147483647\]"):
            get_symmetry_descriptors(signal, "preselected_translations", preselected_translations=shifts, method=method,
                                     patch_x=3, patch_y=3, show_progressbar=False)


def test_large_but_representable_shift_is_too_small_an_image(signal):
    with pytest.raises(ValueError, match=r"too small .*preselected_translations"):
        get_symmetry_descriptors(signal, "preselected_translations", preselected_translations=[[0, 1], [10**9, 0]],
                                 patch_x=3, patch_y=3, show_progressbar=False)


def test_kernel_refuses_shifts_beyond_the_image(image):
    with pytest.raises(ValueError, match=r"too small for patch_y=3, patch_x=3 and shifts up to \(500, 0\)"):
        local_correlation_map(image, np.array([[500, 0]]), 3, 3, 4)


# ----------------------------------------------------- item 5: empty pooling windows


def _reference_pooling(d, image, stride):
    """Slow pooling: the scored pixels in each window, or the nearest one if the window holds none."""
    scores, y0, x0, step = d.score_map(image)
    ys = y0 + step * np.arange(scores.shape[0])
    xs = x0 + step * np.arange(scores.shape[1])
    grid = d.grid(image.shape, stride)
    order = d.operation_order()

    def pick(positions, centre, half):
        inside = np.flatnonzero(np.abs(positions - centre) <= half)
        if inside.size:
            return inside
        distance = np.abs(positions - centre)
        return np.array([np.flatnonzero(distance == distance.min())[-1]])  # ties: the later one

    out = np.empty(grid.shape + (d.n_operations,), dtype=np.float32)
    for i in range(grid.ny):
        rows = pick(ys, grid.y0 + i * stride, d.window_y)
        for j in range(grid.nx):
            cols = pick(xs, grid.x0 + j * stride, d.window_x)
            window = scores[np.ix_(rows, cols)]
            for u, op in enumerate(zip(d.kinds, d.angles)):
                vals = np.sort(window[..., order.index(op)].ravel())[::-1][: d.num_max]
                vals = np.concatenate([vals, np.full(d.num_max - len(vals), vals[0])])
                out[i, j, u * d.num_max : (u + 1) * d.num_max] = vals
    return out


@pytest.mark.parametrize("name", [ROT, REF])
@pytest.mark.parametrize("num_max, windows", [(1, (0, 4)), (2, (0, 4)), (2, (4, 0)), (1, (0, 0)), (3, (1, 0))])
def test_pooling_windows_without_scored_pixels(image, name, num_max, windows):
    """window_x=0 (or _y) with pool_step=3 used to leave -inf descriptors (num_max >= 2) or read
    outside the window (num_max = 1)."""
    wx, wy = windows
    extra = {"num_reflection_plane": 4} if name == REF else {}
    d = make_descriptor(name, radius=5, window_x=wx, window_y=wy, pool_step=3, num_max=num_max, **extra)
    desc = d.compute(image, 3)
    assert np.all(np.isfinite(desc))
    np.testing.assert_array_equal(desc, _reference_pooling(d, image, 3))


def test_zero_window_segmentation_is_sane(signal):
    seg = symmetry_segmentation(signal, 2, descriptor=REF, radius=5, window_x=0, window_y=4, num_max=2,
                                num_reflection_plane=4, random_state=0, show_progressbar=False)
    assert np.all(np.isfinite(seg.cluster_centers))
    np.testing.assert_array_equal(seg.predict(signal).data, seg.labels.data)


# ------------------------------------------------------- item 7: extreme magnitudes


@pytest.mark.parametrize("scale", [1e160, 1e-170, 1e300, 1e-300])
@pytest.mark.parametrize("descriptor, params", [
    ("local_correlation_map", SMALL),
    (ROT, dict(radius=5, window_x=3, window_y=3)),
    (REF, dict(radius=5, window_x=3, window_y=3, num_reflection_plane=4)),
])
def test_pearson_families_do_not_care_about_magnitude(image, scale, descriptor, params):
    """|values| >~ 1e155 or <~ 1e-163 used to over/underflow the variance: one label everywhere."""
    ref = get_symmetry_descriptors(hs.signals.Signal2D(image), descriptor, 4, show_progressbar=False, **params)
    big = get_symmetry_descriptors(hs.signals.Signal2D(image * scale), descriptor, 4, show_progressbar=False, **params)
    np.testing.assert_array_equal(big.data, ref.data)  # scaling by powers of two is exact


def test_extreme_image_gets_the_labels_of_the_plain_one(image):
    plain = symmetry_segment(hs.signals.Signal2D(image), 2, random_state=0, show_progressbar=False, **SMALL)
    for scale in (1e160, 1e-170):
        labels = symmetry_segment(hs.signals.Signal2D(image * scale), 2, random_state=0, show_progressbar=False, **SMALL)
        np.testing.assert_array_equal(labels.data, plain.data)
        assert len(np.unique(labels.data)) == 2


@pytest.mark.parametrize("scale, pattern", [(1e160, "too large"), (1e-170, "too small")])
def test_power_spectrum_refuses_unrepresentable_magnitudes(image, scale, pattern):
    with pytest.raises(ValueError, match=rf"image values are {pattern} for power_spectrum descriptors.*Rescale"):
        symmetry_segment(hs.signals.Signal2D(image * scale), 2, descriptor="power_spectrum", window_x=8, window_y=8,
                         show_progressbar=False)


# ------------------------------------------------- item 8: original_metadata copies


def test_labels_original_metadata_is_a_copy(signal):
    signal.original_metadata.set_item("Detector.gains", np.arange(3.0))
    signal.original_metadata.set_item("Detector.names", ["a", "b"])
    before = signal.original_metadata.deepcopy().as_dictionary()
    labels = symmetry_segment(signal, 2, random_state=0, show_progressbar=False, **SMALL)
    labels.original_metadata.Detector.gains[0] = 99.0
    labels.original_metadata.Detector.names.append("c")
    assert signal.original_metadata.Detector.gains[0] == 0.0
    assert signal.original_metadata.Detector.names == ["a", "b"]
    np.testing.assert_array_equal(signal.original_metadata.as_dictionary()["Detector"]["gains"], before["Detector"]["gains"])


# ------------------------------------------------------------ item 10: dtypes


@pytest.mark.parametrize("dtype", [np.float16, np.longdouble, ">f4", ">f8", ">i2", "<u2"])
def test_unusual_dtypes_are_converted(image, dtype):
    """float16, long double and big-endian data used to raise numba NotImplementedError / TypingError."""
    data = (image * (100 if np.dtype(dtype).kind in "iu" else 1)).astype(dtype)
    s = hs.signals.Signal2D(data)
    before = s.data.copy()
    labels = symmetry_segment(s, 2, random_state=0, show_progressbar=False, **SMALL)
    reference = symmetry_segment(hs.signals.Signal2D(data.astype(np.float64)), 2, random_state=0,
                                 show_progressbar=False, **SMALL)
    np.testing.assert_array_equal(labels.data, reference.data)
    assert s.data.dtype == np.dtype(dtype)
    np.testing.assert_array_equal(s.data, before)  # not modified


@pytest.mark.parametrize("dtype", [np.float16, ">f4"])
def test_unusual_dtypes_everywhere(image, dtype):
    s = hs.signals.Signal2D(image.astype(dtype))
    for descriptor, params in [(ROT, dict(radius=5, window_x=3, window_y=3)),
                               ("power_spectrum", dict(window_x=8, window_y=8))]:
        seg = symmetry_segmentation(s, 2, descriptor=descriptor, random_state=0, show_progressbar=False, **params)
        lazy = seg.predict(s.as_lazy())
        np.testing.assert_array_equal(np.asarray(lazy.data.compute()), seg.labels.data)


# ------------------------------------------------- item 12: not a signal, not a model


@pytest.mark.parametrize("bad, kind", [(np.zeros((64, 64)), "ndarray"), ([[0.0] * 64] * 64, "list"), (None, "None")])
@pytest.mark.parametrize("function", [symmetry_segment, symmetry_segmentation, get_symmetry_descriptors])
def test_signal_must_be_a_signal(bad, kind, function):
    with pytest.raises(TypeError, match=rf"signal must be a HyperSpy Signal2D .*got {kind}"):
        function(bad)


def test_predict_and_friends_need_a_signal(fitted):
    for call in (fitted.predict, fitted.confidence_map, lambda s: fitted.outlier_map(signal=s)):
        with pytest.raises(TypeError, match=r"signal must be a HyperSpy Signal2D .*got ndarray"):
            call(np.zeros((96, 128)))


def test_segment_with_model_checks_the_model(signal, fitted, tmp_path):
    with pytest.raises(TypeError, match=r"model must be a SegmentationModel .*got NoneType"):
        ss.segment_with_model(signal, None)
    with pytest.raises(FileNotFoundError, match=r"model file .*nope.hspy' does not exist"):
        ss.segment_with_model(signal, str(tmp_path / "nope.hspy"))


def test_segment_with_model_accepts_a_path(signal, fitted, tmp_path):
    path = tmp_path / "model.hspy"
    fitted.save_model(path)
    for model in (str(path), path):
        np.testing.assert_array_equal(ss.segment_with_model(signal, model).data, fitted.labels.data)


# -------------------------------------------------------- item 13: unclear messages


@pytest.mark.parametrize("radius, error", [(None, TypeError), ("x", TypeError), ([1, 2], TypeError),
                                           (float("nan"), ValueError), (0.5, ValueError)])
def test_radius_errors_name_radius(signal, radius, error):
    with pytest.raises(error, match=r"radius must be a number >= 1 \(px\)"):
        get_symmetry_descriptors(signal, ROT, radius=radius)


@pytest.mark.parametrize("shifts", [[[0, 1], [2]], [[0, 1], [1, "a"]], [[0, 1], [1, None]]])
def test_ragged_shift_lists_name_the_parameter(signal, shifts):
    with pytest.raises((ValueError, TypeError), match=r"preselected_translations must"):
        get_symmetry_descriptors(signal, "preselected_translations", preselected_translations=shifts, patch_x=3, patch_y=3)


def test_stride_larger_than_the_image_names_stride(signal):
    """It used to end in HyperSpy's "not possible to decompose a dataset with navigation_size < 2"."""
    for n_patterns in (1, 2):
        with pytest.raises(ValueError, match=r"stride=1000 leaves 1 descriptor grid point on this 96 x 128 px image"):
            symmetry_segmentation(signal, n_patterns, stride=1000, **SMALL)
    with pytest.raises(ValueError, match=r"n_patterns must be an integer in \[1, 4\] .*stride=60"):
        symmetry_segmentation(signal, 5, stride=60, **SMALL)


def test_nfindr_on_a_constant_image(signal):
    flat = hs.signals.Signal2D(np.full((96, 128), 3.0))
    with pytest.raises(ValueError, match=r"N-FINDR with n_components=2 .*flat or constant image.*decomposition_algorithm='PCA'"):
        symmetry_segmentation(flat, 2, decomposition_algorithm="nfindr", show_progressbar=False, **SMALL)


@pytest.mark.parametrize("stride, error", [(0, ValueError), (-1, ValueError), (1.5, TypeError)])
def test_model_with_bad_stride(fitted, stride, error):
    with pytest.raises(error, match=r"stride must be an integer >= 1"):
        SegmentationModel(fitted.descriptor, stride, fitted.reducer, fitted.cluster_centers)


def test_model_with_bad_parts(fitted):
    with pytest.raises(ValueError, match=r"centers must be an \(n_patterns, n_components\) array"):
        SegmentationModel(fitted.descriptor, 4, fitted.reducer, np.zeros(3))
    with pytest.raises(TypeError, match=r"reducer must be a fitted estimator"):
        SegmentationModel(fitted.descriptor, 4, None, fitted.cluster_centers)
    with pytest.raises(TypeError, match=r"descriptor must be a descriptor object"):
        SegmentationModel("local_correlation_map", 4, fitted.reducer, fitted.cluster_centers)


# ------------------------------------------------- item 15: flags and label dtype


@pytest.mark.parametrize("name", ["lazy_output", "show_progressbar"])
@pytest.mark.parametrize("value", ["yes", 2, 0, "False"])
def test_boolean_options_must_be_booleans(signal, fitted, name, value):
    pattern = rf"{name} must be True, False or None; got {value!r}"
    with pytest.raises(TypeError, match=pattern):
        symmetry_segmentation(signal, 2, **{name: value}, **SMALL)
    with pytest.raises(TypeError, match=pattern):
        ss.segment_with_model(signal.as_lazy(), fitted, **{name: value})
    with pytest.raises(TypeError, match=pattern):
        fitted.predict(signal, **{name: value})
    if name == "show_progressbar":
        with pytest.raises(TypeError, match=pattern):
            get_symmetry_descriptors(signal.as_lazy(), show_progressbar=value, **SMALL)


def test_numpy_booleans_are_booleans(signal):
    labels = symmetry_segment(signal, 2, lazy_output=np.True_, show_progressbar=np.False_, random_state=0, **SMALL)
    assert labels._lazy


@pytest.mark.parametrize("n, dtype", [(2, np.uint8), (256, np.uint8), (257, np.uint16), (65_536, np.uint16),
                                      (65_537, np.uint32), (10**6, np.uint32)])
def test_label_dtype_holds_every_label(n, dtype):
    assert label_dtype(n) is dtype
    assert np.iinfo(label_dtype(n)).max >= n - 1


def test_nfindr_with_more_components_than_grid_points(signal):
    """Found by the fuzz suite: the message named n_endmembers, which the user never gave."""
    with pytest.raises(ValueError, match=r"n_components must be an integer in \[1, 4\] for N-FINDR here"):
        symmetry_segmentation(signal, 1, stride=60, n_components=5, decomposition_algorithm="nfindr",
                              show_progressbar=False, **SMALL)
