"""Bad input: clear errors naming the parameter and the allowed values."""

import hyperspy.api as hs
import numpy as np
import pytest
from conftest import SMALL

from hyperspy_symseg import get_symmetry_descriptors, symmetry_segment, symmetry_segmentation


@pytest.fixture
def image_signal():
    rng = np.random.default_rng(0)
    return hs.signals.Signal2D(rng.normal(size=(60, 70)).astype(np.float32))


def run(signal, **kwargs):
    params = dict(SMALL, stride=4)
    if kwargs.get("descriptor") == "preselected_translations":
        params = {k: v for k, v in params.items() if k in ("patch_x", "patch_y", "stride")}
    params.update(kwargs)
    return symmetry_segment(signal, **params)


@pytest.mark.parametrize(
    "kwargs, error, pattern",
    [
        ({"n_patterns": 0}, ValueError, r"n_patterns must be an integer >= 1"),
        ({"n_patterns": 2.5}, TypeError, r"n_patterns must be an integer"),
        ({"n_patterns": 10_000}, ValueError, r"n_patterns must be an integer in \[1, \d+\]"),
        ({"stride": 0}, ValueError, r"stride must be an integer >= 1"),
        ({"stride": 1.5}, TypeError, r"stride must be an integer"),
        ({"max_num_points": 0}, ValueError, r"max_num_points must be an integer >= 1"),
        ({"patch_x": 0}, ValueError, r"patch_x must be an integer >= 1"),
        ({"patch_y": -2}, ValueError, r"patch_y must be an integer >= 1"),
        ({"window_x": 0}, ValueError, r"window_x must be an integer >= 1"),
        ({"window_y": True}, TypeError, r"window_y must be an integer"),
        ({"descriptor": "zernike"}, ValueError, r"descriptor must be one of 'local_correlation_map'"),
        ({"method": "gpu"}, ValueError, r"method must be one of 'direct', 'fft'"),
        ({"n_components": 0}, ValueError, r"n_components must be an integer in \[1, \d+\]"),
        ({"n_components": 1.0}, ValueError, r"float in \(0, 1\)"),
        ({"n_components": 500}, ValueError, r"n_components must be an integer in \[1, 25\]"),  # 25 shifts
        ({"n_components": "auto"}, TypeError, r"n_components"),
        ({"n_init": 0}, ValueError, r"n_init must be an integer >= 1"),
        ({"random_state": -1}, TypeError, r"random_state"),
        ({"random_state": "seed"}, TypeError, r"random_state"),
        ({"num_workers": 0}, ValueError, r"num_workers must be an integer >= 1"),
        ({"descriptor": "preselected_translations"}, ValueError, r"needs preselected_translations="),
        ({"preselected_translations": [[1, 2]]}, TypeError, r"'preselected_translations' belongs to 'preselected_translations'"),
        ({"unknown_option": 3}, TypeError, r"'unknown_option' belongs to no descriptor"),
        ({"edges": "wrap"}, ValueError, r"edges must be one of 'shrink', 'exclude'"),
    ],
)
def test_parameter_errors(image_signal, kwargs, error, pattern):
    with pytest.raises(error, match=pattern):
        run(image_signal, **kwargs)


@pytest.mark.parametrize(
    "shifts, error, pattern",
    [
        (np.array([1, 2]), ValueError, r"\(N, 2\) array"),
        (np.zeros((0, 2), int), ValueError, r"N >= 1"),
        (np.array([[0.5, 1.0]]), TypeError, r"integer shifts"),
        (np.array([[40, 0]]), ValueError, r"too small .* preselected_translations"),
    ],
)
def test_preselected_translation_errors(image_signal, shifts, error, pattern):
    with pytest.raises(error, match=pattern):
        run(image_signal, descriptor="preselected_translations", preselected_translations=shifts)


def test_default_n_components_capped_by_operations(image_signal):
    seg = symmetry_segmentation(
        image_signal, 2, stride=4, descriptor="preselected_translations", preselected_translations=[[0, 3], [3, 0]], **{
            k: SMALL[k] for k in ("patch_x", "patch_y")}
    )
    assert seg.n_components == 2


def test_segmentation_needs_two_operations(image_signal):
    with pytest.raises(ValueError, match="at least 2 symmetry operations"):
        symmetry_segmentation(image_signal, 2, stride=4, descriptor="preselected_translations",
                              preselected_translations=[[0, 3]], patch_x=3, patch_y=3)
    # the descriptors alone work with one operation
    d = get_symmetry_descriptors(image_signal, "preselected_translations", 4, preselected_translations=[[0, 3]],
                                 patch_x=3, patch_y=3)
    assert d.axes_manager.signal_shape == (1,)


def test_float_shifts_with_integer_values_are_accepted(image_signal):
    d = get_symmetry_descriptors(
        image_signal, "preselected_translations", 4, preselected_translations=np.array([[2.0, 3.0]]), patch_x=3, patch_y=3
    )
    assert d.metadata.SymmetryDescriptors.operations.tolist() == [[2, 3]]


def test_image_too_small(image_signal):
    with pytest.raises(ValueError, match=r"too small for patch_y=12.*at least 2\*\(patch \+ shift\) \+ 1 = 65 x 65 px"):
        symmetry_segment(image_signal, 2)


@pytest.mark.parametrize("dims", [(50,), (4, 5, 6, 40)])
def test_wrong_signal_dimension(dims):
    data = np.random.default_rng(0).normal(size=dims)
    s = hs.signals.Signal1D(data) if len(dims) == 1 else hs.signals.BaseSignal(data).transpose(signal_axes=3)
    with pytest.raises(ValueError, match="exactly 2 signal dimensions"):
        symmetry_segment(s, 2, **SMALL)


@pytest.mark.parametrize(
    "data, error, pattern",
    [
        (np.ones((60, 70), complex), TypeError, "complex"),
        (np.ones((60, 70), bool), TypeError, "boolean"),
    ],
)
def test_bad_dtypes(data, error, pattern):
    with pytest.raises(error, match=pattern):
        run(hs.signals.Signal2D(data))


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_non_finite_pixels(image_signal, bad):
    image_signal.data[10, 11] = bad
    with pytest.raises(ValueError, match="1 NaN or infinite pixel"):
        run(image_signal)
    with pytest.raises(ValueError, match="NaN or infinite"):
        get_symmetry_descriptors(image_signal, stride=4, **SMALL)


def test_non_finite_pixels_lazy(image_signal):
    image_signal.data[3, 3] = np.nan
    lazy = image_signal.as_lazy()
    with pytest.raises(ValueError, match="NaN or infinite"):
        run(lazy)
    with pytest.raises(ValueError, match="NaN or infinite"):
        get_symmetry_descriptors(lazy, stride=4, **SMALL).compute()


def test_input_not_modified_on_error(image_signal):
    before = image_signal.data.copy()
    with pytest.raises(ValueError):
        run(image_signal, n_patterns=0)
    np.testing.assert_array_equal(image_signal.data, before)


def test_predict_checks_its_input(image_signal):
    seg = symmetry_segmentation(image_signal, 2, stride=4, random_state=0, **SMALL)
    with pytest.raises(ValueError, match="too small"):
        seg.predict(hs.signals.Signal2D(np.ones((20, 20))))
    with pytest.raises(ValueError, match="exactly 2 signal dimensions"):
        seg.predict(hs.signals.Signal1D(np.ones(100)))
    with pytest.raises(TypeError, match="complex"):
        seg.predict(hs.signals.Signal2D(np.ones((60, 70), complex)))
