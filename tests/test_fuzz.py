"""Property-based checks of the public functions on random images and parameters (issue 11).

* random images 24-128 px and random parameters in their documented ranges either
  raise a ValueError/TypeError naming a parameter, or return labels of the input's
  shape with values in [0, n_patterns);
* the Pearson families (translations, rotations, reflections) are invariant to an
  added constant and to a scale factor;
* predict(fitted image) equals the labels, eagerly, lazily and tiled, for every
  descriptor family and decomposition;
* save/load round trips give back the same labels, grid labels, model and descriptors.

Bounded to about a minute by default. A longer run:
``HYPOTHESIS_PROFILE=long python -m pytest tests/test_fuzz.py`` (10x the examples),
or ``HYPOTHESIS_PROFILE=long HYPOTHESIS_SCALE=50`` for 50x.
"""

import os
import tempfile
import warnings

import numpy as np
import pytest

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

import hyperspy.api as hs  # noqa: E402

import hyperspy_symseg as ss  # noqa: E402

settings.register_profile(
    "default", deadline=None, database=None, derandomize=True, print_blob=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
settings.register_profile(
    "long", deadline=None, database=None, print_blob=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
PROFILE = os.environ.get("HYPOTHESIS_PROFILE", "default")
SCALE = float(os.environ.get("HYPOTHESIS_SCALE", "10" if PROFILE == "long" else "1"))


def examples(n: int):
    """Settings of one property: ``n`` examples in the default run, SCALE times more in the long one."""
    return settings(settings.get_profile(PROFILE), max_examples=max(1, int(n * SCALE)))


# ------------------------------------------------------------------- strategies


@st.composite
def images(draw, min_size=24, max_size=128):
    """(H, W) float64 images: lattices (one or two grains) with noise, pure noise, or constant."""
    h = draw(st.integers(min_size, max_size))
    w = draw(st.integers(min_size, max_size))
    kind = draw(st.sampled_from(["lattice", "two grains", "noise", "constant", "lattice + vacuum"]))
    seed = draw(st.integers(0, 2**16))
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[:h, :w].astype(float)
    period = draw(st.floats(3.0, 12.0))

    def lattice(angle):
        t = np.deg2rad(angle)
        u, v = np.cos(t) * x + np.sin(t) * y, -np.sin(t) * x + np.cos(t) * y
        return (1 + np.cos(2 * np.pi * u / period)) * (1 + np.cos(2 * np.pi * v / period))

    noise = draw(st.sampled_from([0.0, 0.05, 0.3]))
    if kind == "constant":
        return np.full((h, w), draw(st.floats(-5, 5)))
    if kind == "noise":
        return rng.normal(size=(h, w))
    image = lattice(draw(st.floats(0, 90)))
    if kind == "two grains":
        image = np.where(x < w // 2, image, lattice(draw(st.floats(0, 90))))
    elif kind == "lattice + vacuum":
        image = np.where(x < w // 3, 1.0, image)
    return image + noise * rng.normal(size=(h, w))


def _translation_params(draw, preselected):
    p = {"patch_x": draw(st.integers(1, 12)), "patch_y": draw(st.integers(1, 12)),
         "method": draw(st.sampled_from(["direct", "fft"])), "edges": draw(st.sampled_from(["shrink", "exclude"]))}
    if preselected:
        n = draw(st.integers(1, 8))
        p["preselected_translations"] = np.array(draw(st.lists(
            st.tuples(st.integers(-12, 12), st.integers(-12, 12)), min_size=n, max_size=n)))
    else:
        p.update(window_x=draw(st.integers(1, 16)), window_y=draw(st.integers(1, 16)),
                 max_num_points=draw(st.integers(1, 100)))
    return p


def _point_params(draw, name):
    wx, wy = draw(st.integers(0, 10)), draw(st.integers(0, 10))
    p = {"radius": draw(st.floats(1.0, 16.0)), "window_x": wx, "window_y": wy,
         "num_max": draw(st.integers(1, min(4, (2 * wx + 1) * (2 * wy + 1)))), "pool_step": draw(st.integers(1, 4)),
         "n_radii": draw(st.integers(1, 10)), "edges": draw(st.sampled_from(["shrink", "exclude"]))}
    if name == "rotational_symmetry_maximum_pooling":
        p["angles"] = tuple(draw(st.lists(st.sampled_from([60.0, 90.0, 120.0, 180.0, 45.0, 30.0]), min_size=1,
                                          max_size=4, unique=True)))
    else:
        p["num_reflection_plane"] = draw(st.integers(1, 10))
    return p


@st.composite
def descriptor_params(draw, families=None):
    """(descriptor name, its parameters), drawn in the documented ranges."""
    names = families or ["local_correlation_map", "preselected_translations", "rotational_symmetry_maximum_pooling",
                         "reflection_symmetry_maximum_pooling", "power_spectrum"]
    name = draw(st.sampled_from(names))
    if name in ("local_correlation_map", "preselected_translations"):
        return name, _translation_params(draw, name == "preselected_translations")
    if name == "power_spectrum":
        return name, {"window_x": draw(st.integers(1, 16)), "window_y": draw(st.integers(1, 16)),
                      "log": draw(st.booleans()), "crop": draw(st.one_of(st.none(), st.floats(0.05, 1.0))),
                      "taper": draw(st.sampled_from(["hann", None]))}
    return name, _point_params(draw, name)


@st.composite
def runs(draw):
    """Everything symmetry_segmentation takes, in range."""
    name, params = draw(descriptor_params())
    algorithm = draw(st.sampled_from(["PCA", "NMF", "nfindr"]))
    n_components = draw(st.one_of(st.none(), st.integers(1, 8), st.floats(0.05, 0.95)))
    return dict(
        descriptor=name, n_patterns=draw(st.integers(1, 5)), stride=draw(st.integers(1, 8)),
        n_components=n_components, decomposition_algorithm=algorithm, random_state=draw(st.integers(0, 100)),
        n_init=draw(st.integers(1, 4)), **params,
    )


#: Words an error message must contain one of: a parameter (or the input) it is about.
NAMED = ("n_patterns", "stride", "n_components", "decomposition_algorithm", "descriptor", "patch_x", "patch_y",
         "window_x", "window_y", "max_num_points", "preselected_translations", "radius", "num_max", "pool_step",
         "n_radii", "n_angles", "angles", "num_reflection_plane", "crop", "taper", "log", "image", "signal",
         "max_samples", "n_init", "method", "edges")


def _named(message: str) -> bool:
    return any(word in message for word in NAMED)


def _segment(image, kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return ss.symmetry_segmentation(hs.signals.Signal2D(image), show_progressbar=False, **kwargs)


# ------------------------------------------------------------------- properties


@examples(40)
@given(image=images(), kwargs=runs())
def test_clear_error_or_valid_labels(image, kwargs):
    before = image.copy()
    try:
        seg = _segment(image, kwargs)
    except (ValueError, TypeError) as error:
        assert _named(str(error)), f"{type(error).__name__} names no parameter: {error}"
        hypothesis.event("clear error")
        return
    finally:
        np.testing.assert_array_equal(image, before)  # the input is never modified
    hypothesis.event("labels")
    labels = seg.labels.data
    assert labels.shape == image.shape
    assert np.issubdtype(labels.dtype, np.integer)
    assert labels.min() >= 0 and labels.max() < kwargs["n_patterns"]
    assert np.all(np.isfinite(seg.cluster_centers))
    assert seg.pattern_sizes.sum() == image.size


@examples(25)
@given(image=images(min_size=40), family=descriptor_params(families=[
    "local_correlation_map", "preselected_translations", "rotational_symmetry_maximum_pooling",
    "reflection_symmetry_maximum_pooling"]),
    scale=st.one_of(st.floats(1e-3, 1e3), st.floats(-1e3, -1e-3)), offset=st.floats(-1e3, 1e3),
    stride=st.integers(2, 8))
def test_pearson_scores_ignore_offset_and_scale(image, family, scale, offset, stride):
    name, params = family
    spec = ss.descriptors.make_descriptor(name, **params)
    need_y, need_x = spec.min_shape
    if image.shape[0] < need_y or image.shape[1] < need_x:
        return
    plain = spec.compute(image, stride)
    changed = spec.compute(scale * image + offset, stride)
    # float32 scores; a large offset costs float64 bits of the image itself (|offset| / |image| ~ 1e3)
    np.testing.assert_allclose(changed, plain, atol=2e-5)


@st.composite
def fits(draw):
    """Valid runs (checked before fitting) with every family and decomposition."""
    name, params = draw(descriptor_params())
    choices = ["PCA", "nfindr"] + (["NMF"] if name == "power_spectrum" else [])
    return dict(descriptor=name, n_patterns=draw(st.integers(2, 4)), stride=draw(st.integers(2, 6)),
                decomposition_algorithm=draw(st.sampled_from(choices)), random_state=draw(st.integers(0, 100)),
                **params)


def _fit_or_skip(image, kwargs):
    try:
        return _segment(image, kwargs)
    except (ValueError, TypeError) as error:
        assert _named(str(error)), error
        hypothesis.assume(False)


@examples(20)
@given(image=images(min_size=48), kwargs=fits(), chunks=st.integers(24, 64))
def test_predict_on_the_fitted_image_gives_its_labels(image, kwargs, chunks):
    seg = _fit_or_skip(image, kwargs)
    s = hs.signals.Signal2D(image)
    np.testing.assert_array_equal(seg.predict(s, show_progressbar=False).data, seg.labels.data)
    lazy = hs.signals.Signal2D(s.data).as_lazy()
    np.testing.assert_array_equal(np.asarray(seg.predict(lazy).data.compute()), seg.labels.data)
    tiled = lazy.deepcopy()
    tiled.data = tiled.data.rechunk(chunks)
    np.testing.assert_array_equal(np.asarray(seg.predict(tiled).data.compute()), seg.labels.data)


@examples(10)
@given(image=images(min_size=48), kwargs=fits(), ext=st.sampled_from([".hspy", ".zspy"]))
def test_save_load_round_trip(image, kwargs, ext):
    seg = _fit_or_skip(image, kwargs)
    with tempfile.TemporaryDirectory() as folder:
        path = os.path.join(folder, f"seg{ext}")
        seg.save(path)
        back = ss.load_segmentation(path)
        np.testing.assert_array_equal(back.labels.data, seg.labels.data)
        np.testing.assert_array_equal(back.grid_labels, seg.grid_labels)
        np.testing.assert_array_equal(back.cluster_centers, seg.cluster_centers)
        np.testing.assert_array_equal(np.asarray(back.descriptors.data), np.asarray(seg.descriptors.data))
        assert back.parameters["n_patterns"] == seg.n_patterns
        model_path = os.path.join(folder, f"model{ext}")
        seg.save_model(model_path)
        again = ss.segment_with_model(hs.signals.Signal2D(image), model_path, show_progressbar=False)
        np.testing.assert_array_equal(again.data, seg.labels.data)
