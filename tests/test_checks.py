"""One home for argument checks (issue 11): every module that takes integer labels checks
them the same way, with the same message (they were checked five different ways)."""

import numpy as np
import pytest

from hyperspy_symseg import _validation as check
from hyperspy_symseg import analysis, metrics, separability


def _calls(labels):
    good = np.zeros((4, 4), dtype=int)
    X = np.zeros((labels.size, 2))
    return {
        "analysis.pattern_areas": lambda: analysis.pattern_areas(labels, 2),
        "analysis.boundary_positions": lambda: analysis.boundary_positions(labels, 0, 1),
        "analysis.outlier_scores": lambda: analysis.outlier_scores(np.zeros(labels.shape + (2,)), labels),
        "metrics.matched_accuracy": lambda: metrics.matched_accuracy(labels, good),
        "separability.fisher_separability": lambda: separability.fisher_separability(X, labels.ravel()),
    }


@pytest.mark.parametrize("name", list(_calls(np.zeros((4, 4)))))
def test_non_integer_labels_same_message_everywhere(name):
    labels = np.full((4, 4), 0.5)
    with pytest.raises(TypeError, match=r"(labels|pred) must hold integers \(integer pattern labels\); got non-integer float"):
        _calls(labels)[name]()


@pytest.mark.parametrize("name", list(_calls(np.zeros((4, 4)))))
def test_nan_labels_same_message_everywhere(name):
    labels = np.full((4, 4), np.nan)
    with pytest.raises(ValueError, match=r"(labels|pred) contains NaN or infinite values; labels must be integers"):
        _calls(labels)[name]()


def test_spectra_labels_use_the_shared_check():
    import hyperspy.api as hs

    from hyperspy_symseg.spectra import labels_on_si_grid

    si = hs.signals.Signal1D(np.zeros((4, 4, 3)))
    with pytest.raises(TypeError, match=r"labels must hold integers \(integer pattern labels\); got non-integer float"):
        labels_on_si_grid(hs.signals.Signal2D(np.full((4, 4), 0.5)), si)


def test_integer_labels_helper():
    a = np.array([[0, 1], [2, 3]], dtype=np.uint8)
    assert check.integer_labels(a) is a  # integers untouched, never copied or modified
    np.testing.assert_array_equal(check.integer_labels(np.array([1.0, 2.0])), [1, 2])
    np.testing.assert_array_equal(check.integer_labels(np.array([True, False]), allow_bool=True), [1, 0])
    np.testing.assert_array_equal(check.integer_labels(np.array([1.0, np.nan]), missing=-1), [1, -1])
    with pytest.raises(TypeError, match=r"mask must hold integers .*got dtype bool"):
        check.integer_labels(np.array([True]), "mask")
    with pytest.raises(TypeError, match=r"labels must hold integers .*got dtype <U1"):
        check.integer_labels(np.array(["a"]))


@pytest.mark.parametrize("call, error, pattern", [
    (lambda: check.check_real("radius", "x", 1, units=" (px)"), TypeError, r"radius must be a number >= 1 \(px\); got 'x'"),
    (lambda: check.check_real("crop", 2.0, 0, 1), ValueError, r"crop must be a number in \[0, 1\]; got 2.0"),
    (lambda: check.check_real("t", float("inf")), ValueError, r"t must be a number; got inf"),
    (lambda: check.check_positive("dt", 0), ValueError, r"dt must be a positive finite number; got 0.0"),
    (lambda: check.check_real_pair("origin", [1, 2, 3], False), ValueError, r"origin must be a number or a pair"),
    (lambda: check.check_samples(np.zeros(3), "X"), ValueError, r"X must be a 2D \(n_samples, n_features\) array"),
    (lambda: check.check_samples(np.array([[np.nan]]), "X"), ValueError, r"X contains NaN or infinite values"),
    (lambda: check.check_vector("s", np.zeros((2, 2))), ValueError, r"s must be a non-empty 1D array"),
    (lambda: check.check_label_list("patterns", []), ValueError, r"patterns must name at least one pattern label"),
    (lambda: check.check_bool("lazy_output", 1, allow_none=True), TypeError, r"lazy_output must be True, False or None"),
    (lambda: check.check_signal(np.zeros(3)), TypeError, r"signal must be a HyperSpy Signal2D .*got ndarray"),
])
def test_shared_checkers_name_the_parameter(call, error, pattern):
    with pytest.raises(error, match=pattern):
        call()


def test_real_checks_accept_infinity_when_asked():
    assert check.check_real("threshold", float("inf"), finite=False) == float("inf")
    with pytest.raises(ValueError, match="got nan"):
        check.check_real("threshold", float("nan"), finite=False)
