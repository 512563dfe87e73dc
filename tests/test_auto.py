"""The automatic stage: sizes from the lattice, the lattice background, crystallinity, n_patterns="auto"."""

import warnings

import hyperspy.api as hs
import numpy as np
import pytest
import scipy.ndimage as ndi

from hyperspy_symseg import auto, metrics, simulate, symmetry_segmentation
from hyperspy_symseg.descriptors._augmented import AugmentedDescriptor, lattice_translations
from hyperspy_symseg.descriptors._preprocess import background_support, box_mean_std, lattice_background


def quiet(**kwargs):
    return dict(random_state=0, show_progressbar=False, **kwargs)


# ------------------------------------------------------------------ the rules


def test_rule_at_15_px_gives_the_former_fixed_defaults():
    assert auto.sizes_for_period("local_correlation_map", 15) == dict(patch_x=12, patch_y=12, window_x=20, window_y=20)
    assert auto.sizes_for_period("rotational_symmetry_maximum_pooling", 15)["radius"] == 20
    assert auto.sizes_for_period("reflection_symmetry_maximum_pooling", 15)["window_x"] == 12
    assert auto.sizes_for_period("power_spectrum", 15) == dict(window_x=20, window_y=20)
    assert auto.stride_for_period(15, (512, 512)) == 4
    # the window reaches a lattice vector at every period
    for period in (4, 8, 25, 40):
        assert auto.sizes_for_period("local_correlation_map", period)["window_x"] >= period
    # a huge image keeps the grid bounded
    assert auto.stride_for_period(4, (8192, 8192)) * 1 >= 16


def test_explicit_numbers_win_and_the_choices_are_recorded():
    sim = simulate.two_grain_image((192, 192), random_state=0, period_px=10)
    seg = symmetry_segmentation(sim.image, 2, patch_x=6, patch_y=6, **quiet())
    spec = seg.descriptor.base
    assert (spec.patch_x, spec.patch_y) == (6, 6)
    info = seg.automatic
    assert info["auto_parameters"] == ["window_x", "window_y", "stride", "background"]
    assert info["window_x"] == round(info["period_px"] * 4 / 3)
    assert info["stride"] == auto.stride_for_period(info["period_px"], (192, 192))
    assert info["period_px"] == pytest.approx(10, rel=0.01)
    assert seg.labels.metadata.SymmetrySegmentation.automatic.period_px == pytest.approx(10, rel=0.01)
    text = seg.describe_parameters()
    assert "lattice |a| = 10, 10 px" in text and "window_x 13" in text and "background 10" in text


@pytest.mark.parametrize("period", [5, 30])
def test_accuracy_does_not_depend_on_the_sampling(period):
    """Only n_patterns given: the same bicrystal sampled at 5 or 30 px per period."""
    shape = (192, 192) if period == 5 else (448, 448)
    sim = simulate.two_grain_image(shape, random_state=1, period_px=period)
    seg = symmetry_segmentation(sim.image, 2, **quiet())
    assert metrics.matched_accuracy(seg.labels, sim.labels) > 0.96


def test_no_lattice_warns_and_falls_back():
    rng = np.random.default_rng(0)
    s = hs.signals.Signal2D(rng.normal(size=(96, 96)).astype(np.float32))
    with pytest.warns(UserWarning, match="no lattice was found"):
        seg = symmetry_segmentation(s, 2, **quiet())
    assert seg.automatic["period_px"] == auto.FALLBACK_PERIOD
    with pytest.raises(ValueError, match="crystallinity needs the lattice"):
        seg.crystal_labels()


# ------------------------------------------------------------ the background


def _slow_mid_range(image, size):
    """Grey opening and closing with explicit windows (the obvious, slow reference)."""
    pad = size // 2
    padded = np.pad(image, pad, mode="symmetric")
    h, w = image.shape

    def window_op(a, op):
        out = np.empty_like(image)
        for i in range(h):
            for j in range(w):
                out[i, j] = op(a[i:i + size, j:j + size])
        return out

    def erode(a):
        return window_op(np.pad(a, pad, mode="symmetric"), np.min)

    def dilate(a):
        return window_op(np.pad(a, pad, mode="symmetric"), np.max)

    del padded
    return 0.5 * (dilate(erode(image)) + erode(dilate(image)))


def test_lattice_background_matches_a_slow_reference():
    rng = np.random.default_rng(1)
    image = rng.normal(size=(24, 27)) + np.linspace(0, 3, 27)[None, :]
    size, sigma = 5, 1.5
    smooth = ndi.gaussian_filter(image, 1.0, mode="reflect")
    expected = ndi.gaussian_filter(_slow_mid_range(smooth, size), sigma, mode="reflect")
    np.testing.assert_allclose(lattice_background(image, size, sigma), expected, atol=1e-12)
    assert background_support(5, 1.5) >= 5 + 6


def test_lattice_background_removes_a_step_but_keeps_the_lattice():
    """A lattice on a strong step: after subtraction the step is gone, the columns stay."""
    y, x = np.mgrid[:128, :160].astype(float)
    lattice = np.exp(-(((x % 10) - 5) ** 2 + ((y % 10) - 5) ** 2) / (2 * 1.5**2))
    step = np.where(x >= 80, 3.0, 0.0)
    image = lattice * (x >= 80) + step
    prepared = image - lattice_background(image, 10, 2.5)
    # the step (3x the column height) is gone: both sides sit at the same level, and the
    # residual along the edge is confined to a few pixels (a Gaussian high-pass of one
    # period leaves a ridge spread over two periods, with 2.5 times the residual)
    assert abs(prepared[:, 20:60].mean()) < 0.05 and abs(prepared[:, 100:140].mean()) < 0.4
    gaussian = image - ndi.gaussian_filter(image, 10)
    residual = np.abs(prepared[:, 60:100].mean(axis=0)).sum()
    assert residual < 0.4 * np.abs(gaussian[:, 60:100].mean(axis=0)).sum()
    assert np.abs(prepared[:, 60:74].mean(axis=0)).max() < 0.2
    # the columns keep most of their contrast
    assert prepared[:, 100:140].std() > 0.8 * lattice[:, 100:140].std()


def test_box_mean_std_matches_brute_force():
    rng = np.random.default_rng(2)
    image = rng.normal(size=(30, 41)) * 5 + 100
    rows, cols, half = np.array([0, 7, 29]), np.array([0, 20, 40]), 3
    mean, std = box_mean_std(image, rows, cols, half)
    for a, r in enumerate(rows):
        for b, c in enumerate(cols):
            box = image[max(r - half, 0):r + half + 1, max(c - half, 0):c + half + 1]
            assert mean[a, b] == pytest.approx(box.mean(), rel=1e-10)
            assert std[a, b] == pytest.approx(box.std(), rel=1e-8)


def test_lattice_translations_prefer_small_rounding_errors():
    vectors = np.array([[0.0, 4.5], [3.9, 2.25]])
    shifts, halves = lattice_translations(vectors)
    assert len(shifts) == 4
    errors = [min(np.linalg.norm(s - (h * vectors[0] + k * vectors[1])) for h in range(-3, 4) for k in range(-3, 4))
              for s in shifts]
    assert max(errors) < 0.35
    assert np.abs(halves - shifts / 2).max() <= 1.0
    assert all(np.any(h) for h in halves)
    # No half is a lattice translation: the reference of the crystallinity lies off the lattice.
    basis = np.linalg.inv(vectors)
    for half_shift, shift in zip(halves, shifts):
        hk = shift @ basis
        assert not np.all(np.rint(hk) % 2 == 0), shift


def test_crystallinity_of_a_grain_of_the_graphene_set():
    """The halves of 2a translations were lattice vectors: a whole graphene grain read as not crystalline."""
    vectors = np.array([[-4.52, 3.11], [-4.93, -2.53]])  # the second grain of FS_004_layer_0027
    shifts, halves = lattice_translations(vectors)
    hk = halves @ np.linalg.inv(vectors)
    distance = np.abs(hk - np.rint(hk)).max(axis=1)
    assert np.all(distance > 0.2)


# ------------------------------------------------------------- the real traps


def test_particle_on_vacuum_with_a_strong_step_gives_particle_and_vacuum():
    """Particle and vacuum are the two patterns, not the band along the particle's edge.

    (With the soft-flatness weight at half a crystal's contrast, ``background=None``
    does as well on this scene: 0.984 against 0.974; at a tenth it was 0.969 / 0.970.)
    """
    sim = simulate.nanoparticle((256, 256), random_state=2, period_px=9)
    truth = sim.labels
    good = symmetry_segmentation(sim.image, 2, **quiet())
    assert metrics.matched_accuracy(good.labels, truth) > 0.97
    crystal = good.crystal_labels()
    assert metrics.matched_accuracy(crystal, truth) > 0.93
    assert crystal.metadata.Crystallinity.crystal_fraction == pytest.approx(np.mean(truth.data == 1), abs=0.08)


def test_crystallinity_is_high_in_crystal_low_in_amorphous():
    sim = simulate.crystal_and_amorphous((192, 192), random_state=0, period_px=12)
    seg = symmetry_segmentation(sim.image, 2, **quiet())
    c = np.asarray(seg.crystallinity.data)
    truth = sim.labels.data
    assert c[truth == 0].mean() > 0.4 and c[truth == 1].mean() < 0.15
    again = seg.crystallinity_map(sim.image)
    np.testing.assert_allclose(again.data, c, atol=1e-6)


def test_intensity_features_switch_and_route_equality():
    """With the extra channels on, every route (fit, predict, lazy tiles, saved model) gives the same labels."""
    from hyperspy_symseg import load_model, segment_with_model

    sim = simulate.particle_on_vacuum((160, 200), random_state=0, period_px=9)
    seg = symmetry_segmentation(sim.image, 2, **quiet(intensity_features=True))
    assert isinstance(seg.descriptor, AugmentedDescriptor) and seg.descriptor.n_extra == 3
    assert seg.descriptor.operation_names()[-3:] == ["crystallinity", "local mean", "local std"]
    np.testing.assert_array_equal(seg.predict(sim.image, show_progressbar=False).data, seg.labels.data)
    lazy = sim.image.as_lazy()
    lazy.data = lazy.data.rechunk((64, 80))
    tiled = seg.predict(lazy, show_progressbar=False)
    tiled.compute()
    np.testing.assert_array_equal(np.asarray(tiled.data), seg.labels.data)
    import tempfile
    from pathlib import Path

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "model.hspy"
        seg.save_model(path)
        again = segment_with_model(sim.image, load_model(path), show_progressbar=False)
    np.testing.assert_array_equal(again.data, seg.labels.data)
    explicit = dict(patch_x=7, patch_y=7, window_x=12, window_y=12, stride=3)
    plain = symmetry_segmentation(sim.image, 2, **quiet(intensity_features=False, background=None, **explicit))
    assert not isinstance(plain.descriptor, AugmentedDescriptor) and plain.lattice is None


def test_predict_warns_for_another_pixel_size():
    sim = simulate.two_grain_image((128, 128), random_state=0, period_px=10)
    seg = symmetry_segmentation(sim.image, 2, **quiet())
    other = sim.image.deepcopy()
    for axis in other.axes_manager.signal_axes:
        axis.scale *= 2
    with pytest.warns(UserWarning, match="pixel size"):
        seg.predict(other, show_progressbar=False)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        seg.predict(sim.image, show_progressbar=False)


# ------------------------------------------------------------- n_patterns auto


def test_perimeter_ratio_matches_brute_force():
    rng = np.random.default_rng(0)
    labels = (rng.random((2, 9, 11)) > 0.6).astype(int)
    labels[1, 2:6, 3:8] = 2
    ratios = auto.perimeter_ratios(labels, 3)
    for k in range(3):
        perimeter = 0
        for f, i, j in np.ndindex(labels.shape):
            for di, dj in ((1, 0), (0, 1)):
                if i + di < labels.shape[1] and j + dj < labels.shape[2]:
                    a, b = labels[f, i, j], labels[f, i + di, j + dj]
                    perimeter += (a != b) and (a == k or b == k)
        area = (labels == k).sum()
        assert ratios[k] == pytest.approx(perimeter / (2 * np.sqrt(np.pi * area)))


def test_gap_statistic_sees_two_blobs_and_not_one():
    rng = np.random.default_rng(0)
    one = rng.normal(size=(2000, 3))
    two = np.concatenate([one[:1000], one[1000:] + [6, 0, 0]])
    gap1, _ = auto.gap_statistic(one, 4, random_state=0)
    gap2, _ = auto.gap_statistic(two, 4, random_state=0)
    assert gap1[1] - gap1[0] < auto.GAIN_FIRST
    assert gap2[1] - gap2[0] > 0.3


@pytest.mark.parametrize("factory,expected", [
    (lambda: simulate.single_crystal((192, 192), random_state=0, period_px=12), 1),
    (lambda: simulate.two_grain_image((192, 192), random_state=0, period_px=10), 2),
    (lambda: simulate.triple_junction((256, 256), random_state=0, period_px=12), 3),
])
def test_auto_number_of_patterns(factory, expected):
    sim = factory()
    seg = symmetry_segmentation(sim.image, "auto", **quiet())
    assert seg.n_patterns == expected
    sel = seg.n_patterns_selection
    assert list(sel["tried"]) == list(range(1, auto.MAX_PATTERNS + 1))
    assert sel["accepted"][expected - 1] and 0 <= sel["stability"] <= 1
    assert seg.labels.metadata.SymmetrySegmentation.n_patterns_requested == "auto"
    if expected > 1:
        assert metrics.matched_accuracy(seg.labels, sim.labels) > 0.93


def test_plot_n_patterns_draws_the_perimeter_limit_of_each_k():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    seg = symmetry_segmentation(simulate.two_grain_image((192, 192), random_state=0, period_px=10).image, "auto",
                                **quiet())
    ax = seg.plot_n_patterns()
    sel = seg.n_patterns_selection
    cos = np.asarray(sel["profile_cosine"])
    expected = [auto.MAX_PERIMETER_RATIO] + [auto.perimeter_limit(float(c)) for c in cos[1:]]
    np.testing.assert_allclose(sel["perimeter_limit"], expected)  # the limits the decision used
    twin = [a for a in ax.figure.axes if a is not ax][0]
    limit = [line for line in twin.get_lines() if line.get_linestyle() == "--" and line.get_marker() in ("None", None, "")]
    np.testing.assert_allclose(limit[0].get_ydata(), expected)
    assert cos[1] <= auto.DISTINCT_COSINE and expected[1] == auto.MAX_PERIMETER_RATIO_DISTINCT  # two grains differ
    plt.close(ax.figure)


def test_gated_intensity_takes_the_crystals_value_inside_a_crystal():
    """Inside a crystal the intensity channels hold the crystals' typical value, not vacuum's 0."""
    from hyperspy_symseg.descriptors._augmented import INTENSITY_WEIGHT
    from hyperspy_symseg.descriptors._translation_family import TranslationDescriptor

    base = TranslationDescriptor(shifts=np.array([[0, 4]]), patch_x=4, patch_y=4)
    spec = AugmentedDescriptor(base, lattice_shifts=np.zeros((1, 1, 2), np.int64), half_shifts=np.zeros((1, 1, 2), np.int64),
                               patch=4, stats={"crystallinity": 0.8, "mean_range": (0.0, 10.0), "std_range": (0.0, 2.0),
                                               "mean_crystal": 7.0, "std_crystal": 1.0, "unit": 1.0})
    # crystallinity, mean, std: a crystal (gate 1) with any mean, vacuum, half-gated amorphous
    raw = np.array([[[0.8, 3.0, 0.2], [0.0, 0.5, 0.1], [0.2, 9.0, 1.5]]])
    out = spec.scale_channels(raw)[0]
    np.testing.assert_allclose(out[0, 1:], INTENSITY_WEIGHT * np.array([0.7, 0.5]))
    np.testing.assert_allclose(out[1, 1:], INTENSITY_WEIGHT * np.array([0.05, 0.05]))
    gate = 0.2 / 0.4
    np.testing.assert_allclose(out[2, 1:], INTENSITY_WEIGHT * ((1 - gate) * np.array([0.9, 0.75]) + gate * np.array([0.7, 0.5])))
    # Without a crystal on the fitted frames the channel falls back to the plain gate.
    spec = AugmentedDescriptor(base, lattice_shifts=spec.lattice_shifts, half_shifts=spec.half_shifts, patch=4,
                               stats={**spec.stats, "mean_crystal": np.nan, "std_crystal": np.nan})
    np.testing.assert_allclose(spec.scale_channels(raw)[0][0, 1:], 0.0)


def test_gate_sees_crystallinity_scaled_by_the_patch_contrast():
    """The gate's crystallinity times min(1, (1 + G**2) v / (v + v_c)), v_c = (G x a crystal's
    std)**2 with G = GATE_CONTRAST, while the crystallinity channel itself is not scaled."""
    from hyperspy_symseg.descriptors._augmented import (
        CRYSTALLINITY_WEIGHT, FLAT_FRACTION, GATE_CONTRAST, GATE_FRACTION, INTENSITY_WEIGHT,
    )
    from hyperspy_symseg.descriptors._translation_family import TranslationDescriptor

    base = TranslationDescriptor(shifts=np.array([[0, 4]]), patch_x=4, patch_y=4)
    stats = {"crystallinity": 0.8, "mean_range": (0.0, 10.0), "std_range": (0.0, 2.0), "mean_crystal": 7.0,
             "std_crystal": 1.0, "unit": 1.0, "flat_std": FLAT_FRACTION * 1.0}  # a crystal's std: 1
    spec = AugmentedDescriptor(base, lattice_shifts=np.zeros((1, 1, 2), np.int64),
                               half_shifts=np.zeros((1, 1, 2), np.int64), patch=4, stats=stats)
    raw = np.array([[[0.8, 3.0, 0.2], [0.8, 3.0, 0.2], [0.6, 9.0, 1.5]]])
    std = np.array([[3.0, 0.2, 1.0]])  # a high-contrast crystal, a sliver of one, a typical one
    contrast = np.minimum(1.0, (1 + GATE_CONTRAST**2) * std**2 / (std**2 + GATE_CONTRAST**2))
    out = spec.scale_channels(raw, contrast)[0]
    for i in range(3):
        gate = min(1.0, raw[0, i, 0] * contrast[0, i] / (GATE_FRACTION * 0.8))
        mean = (1 - gate) * raw[0, i, 1] / 10.0 + gate * 0.7
        np.testing.assert_allclose(out[i], [CRYSTALLINITY_WEIGHT * raw[0, i, 0], INTENSITY_WEIGHT * mean,
                                            INTENSITY_WEIGHT * ((1 - gate) * raw[0, i, 2] / 2.0 + gate * 0.5)])
    assert out[0, 1] == pytest.approx(INTENSITY_WEIGHT * 0.7)  # shut: the crystals' value
    assert out[1, 1] < 0.6 * INTENSITY_WEIGHT * 0.7  # the sliver's gate is open: its own, darker mean
    assert out[2, 1] == pytest.approx(INTENSITY_WEIGHT * 0.7)  # a crystal's typical contrast: shut, as before
    # compute() scales the gate by the background-free patch's contrast, not the channel
    y, x = np.mgrid[:48, :48]
    image = np.cos(2 * np.pi * x / 8) + np.cos(2 * np.pi * y / 8) + 0.05 * np.random.default_rng(0).normal(size=x.shape)
    image[:, :24] *= 0.2  # the same lattice at a fifth of the contrast: as crystalline, less gated
    spec = AugmentedDescriptor(base, lattice_shifts=np.array([[[0, 8], [8, 0]]]),
                               half_shifts=np.array([[[0, 4], [4, 0]]]), patch=4, stats=stats)
    grid = spec.grid(image.shape, 4)
    values = spec.compute(image, 4, grid=grid)
    prepared = spec.prepared(image)
    v = np.array([[prepared[max(r - 4, 0): r + 5, max(c - 4, 0): c + 5].var() for c in grid.cols()]
                  for r in grid.rows()])  # brute force: the clipped patch's variance
    expected = spec.scale_channels(spec.raw_channels(image, prepared, grid),
                                   np.minimum(1.0, (1 + GATE_CONTRAST**2) * v / (v + GATE_CONTRAST**2)))
    np.testing.assert_allclose(values[..., 1:], expected, rtol=1e-5, atol=1e-6)
    assert not np.allclose(values[..., 1:], spec.scale_channels(spec.raw_channels(image, prepared, grid)))


def test_decision_rule_stops_at_the_first_rejected_pattern():
    gap = np.array([0.0, 0.5, 0.6, 1.2])  # gains 0.5 (ok), 0.1 (< GAIN_NEXT), 0.6
    ok_shapes = [0.0, 1.0, 1.0, 1.0]
    assert auto._decide(gap, ok_shapes, [0.0] * 4) == (2, [True, True, False, True])
    assert auto._decide(gap, [0.0, auto.MAX_PERIMETER_RATIO + 1, 1.0, 1.0], [0.0] * 4)[0] == 1
    assert auto._decide(np.array([0.0, auto.GAIN_FIRST - 1e-9]), [0.0, 1.0], [0.0, 0.0])[0] == 1


def test_decision_rule_skips_a_k_that_only_fits_badly():
    """Three equivalent grains: two patterns gain nothing, three gain a lot."""
    gap = np.array([0.0, -0.02, 0.36, 0.4])
    shapes, bands = [0.0, 1.0, 1.0, 1.0], [0.0, 0.0, 1.0, 0.0]  # k=3 along k=2's (poor) boundaries
    assert auto._decide(gap, shapes, bands)[0] == 1  # without skip_bands: stop at the first rejected k
    assert auto._decide(gap, shapes, bands, None, [0.0] * 4) == (3, [True, False, True, False])
    need = auto.GAIN_FIRST + auto.GAIN_NEXT
    assert auto._decide(np.array([0.0, -0.02, need - 1e-6]), shapes[:3], bands[:3], None, [0.0] * 3)[0] == 1
    # not when k=2 also failed a shape test, nor when k=3 fails one
    assert auto._decide(gap, [0.0, 50.0, 1.0, 1.0], bands, None, [0.0] * 4)[0] == 1
    assert auto._decide(gap, shapes, bands, [0.0, 0.3, 0.99, 0.0], [0.0] * 4)[0] == 1
    assert auto._decide(gap, shapes, bands, None, [0.0, 0.0, 0.9, 0.0])[0] == 1
    # a k chosen normally is never undone, and only one k is skipped
    assert auto._decide(np.array([0.0, 0.5, 0.5, 1.2]), shapes, [0.0] * 4, None, [0.0] * 4)[0] == 2 + 2
    assert auto._decide(np.array([0.0, 0.0, 0.0, 2.0]), shapes, [0.0] * 4, None, [0.0] * 4)[0] == 1


def test_perimeter_limit_is_relaxed_only_for_distinct_profiles():
    gap = np.array([0.0, 0.5])
    between = 0.5 * (auto.MAX_PERIMETER_RATIO + auto.MAX_PERIMETER_RATIO_DISTINCT)
    shapes = [0.0, between]
    # particle / vacuum: a long, rough vacuum boundary, but two different structures
    assert auto._decide(gap, shapes, [0.0, 0.0], [0.0, auto.DISTINCT_COSINE]) == (2, [True, True])
    # one structure split in two (alike profiles): the strict limit
    assert auto._decide(gap, shapes, [0.0, 0.0], [0.0, auto.DISTINCT_COSINE + 1e-3]) == (1, [True, False])
    # no profiles measured: the strict limit
    assert auto._decide(gap, shapes, [0.0, 0.0]) == (1, [True, False])
    # thin bands stay out even between distinct structures
    assert auto._decide(gap, [0.0, auto.MAX_PERIMETER_RATIO_DISTINCT + 1e-3], [0.0, 0.0], [0.0, 0.1])[0] == 1
    assert auto.perimeter_limit(None) == auto.MAX_PERIMETER_RATIO == 5.0
    assert auto.perimeter_limit(0.2) == auto.MAX_PERIMETER_RATIO_DISTINCT == 10.0


def test_profile_cosine_matches_brute_force():
    rng = np.random.default_rng(3)
    profiles = rng.normal(size=(300, 7))
    labels = rng.integers(0, 4, 300)
    labels[labels == 2] = 3  # an empty label is left out
    best = -np.inf
    for a in (0, 1, 3):
        for b in (0, 1, 3):
            if a < b:
                ma, mb = profiles[labels == a].mean(axis=0), profiles[labels == b].mean(axis=0)
                best = max(best, float(ma @ mb / np.linalg.norm(ma) / np.linalg.norm(mb)))
    assert auto.profile_cosine(profiles, labels, 4) == pytest.approx(best, abs=1e-12)
    assert auto.profile_cosine(profiles, np.zeros(300, int), 2) == 0.0
    # one structure at two contrasts: the same profile scaled
    scaled = np.concatenate([np.tile([1.0, 0.5, -0.2], (50, 1)), 0.3 * np.tile([1.0, 0.5, -0.2], (50, 1))])
    assert auto.profile_cosine(scaled, np.repeat([0, 1], 50), 2) == pytest.approx(1.0)


def test_structure_channels_drop_the_zero_shift_and_the_intensity_channels():
    seg = symmetry_segmentation(simulate.two_grain_image((96, 96), random_state=0, period_px=10).image, 2, **quiet())
    spec = seg.descriptor
    index = auto.structure_channels(spec)
    names = spec.operation_names()
    kept = [names[i] for i in index]
    n_base = spec.base.n_operations
    zero = [i for i, (m, n) in enumerate(spec.shifts) if m == 0 and n == 0]
    assert len(index) == n_base - len(zero) + 1 and kept[-1] == "crystallinity"
    assert not set(zero) & set(index.tolist()) and "local mean" not in kept and "local std" not in kept


def test_decision_rule_rejects_one_structure_at_two_contrasts():
    gap = np.array([0.0, 0.5, 0.6])
    shapes = [0.0, 1.0, 1.0]
    assert auto._decide(gap, shapes, [0.0] * 3, [0.0, auto.MAX_PROFILE_COSINE, 0.0])[0] == 2
    assert auto._decide(gap, shapes, [0.0] * 3, [0.0, auto.MAX_PROFILE_COSINE + 1e-3, 0.0]) == (1, [True, False, False])


def test_fragile_choice_warns_and_reports_both_subsamples(monkeypatch):
    """Two subsamples whose gap curves decide differently: the mean decides, a warning says it is fragile."""
    rng = np.random.default_rng(0)
    X = np.concatenate([rng.normal(0, 1, (3000, 3)), rng.normal(0, 1, (3000, 3)) + [8, 0, 0]])
    grid = (60, 100)
    X = X[np.argsort(np.repeat(np.arange(2), 3000))]  # halves of the grid: compact regions
    curves = iter([(np.array([0.0, 0.06, 0.07]), np.zeros(3)), (np.array([0.0, 0.01, 0.02]), np.zeros(3))])
    monkeypatch.setattr(auto, "gap_statistic", lambda *a, **k: next(curves))
    with pytest.warns(UserWarning, match="sampling noise"):
        out = auto.choose_n_patterns(X, grid, max_patterns=3, random_state=0)
    assert out["n_patterns_per_subsample"].tolist() == [2, 1]
    assert out["n_patterns"] == 2  # mean gain 0.035 >= GAIN_FIRST
    np.testing.assert_allclose(out["gap"], [0.0, 0.035, 0.045])
    curves = iter([(np.array([0.0, 0.6, 0.7]), np.zeros(3))] * 2)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        again = auto.choose_n_patterns(X, grid, max_patterns=3, random_state=0)
    assert again["n_patterns"] == 2 and again["n_patterns_per_subsample"].tolist() == [2, 2]


def test_flatness_weight_matches_brute_force_patch_variance():
    """v / (v + v0) with v the variance of the background-free image over each clipped patch."""
    from hyperspy_symseg.descriptors._translation_family import TranslationDescriptor

    rng = np.random.default_rng(3)
    image = rng.normal(size=(40, 46))
    image[:, :20] *= 1e-3  # a nearly flat half
    base = TranslationDescriptor(shifts=np.array([[0, 4]]), patch_x=3, patch_y=3)
    spec = AugmentedDescriptor(base, lattice_shifts=np.zeros((1, 1, 2), np.int64), half_shifts=np.zeros((1, 1, 2), np.int64),
                               patch=3, stats={"flat_std": 0.05})
    grid = spec.grid(image.shape, 2)
    weight = spec.flatness_weight(image, grid)
    expected = np.empty(grid.shape)
    for i, r in enumerate(grid.rows()):
        for j, c in enumerate(grid.cols()):
            v = image[max(r - 3, 0): r + 4, max(c - 3, 0): c + 4].var()
            expected[i, j] = v / (v + 0.05**2)
    np.testing.assert_allclose(weight, expected, rtol=1e-5, atol=1e-7)
    assert weight[:, : grid.cols().searchsorted(15)].max() < 0.01 and weight[:, -3:].min() > 0.9
    # A descriptor fitted without the statistic (older saved models) is not weighted.
    assert AugmentedDescriptor(base, lattice_shifts=spec.lattice_shifts, half_shifts=spec.half_shifts,
                               patch=3).flatness_weight(image, grid) is None


def test_noise_free_particle_on_vacuum_has_no_halo_pattern():
    """Noise-free vacuum next to a particle holds only the edge columns' tails: it must not be a pattern."""
    sim = simulate.particle_on_vacuum((256, 256), random_state=0, period_px=4, peak_counts=None, scan_noise=None,
                                   background=None)
    seg = symmetry_segmentation(sim.image, 2, **quiet())
    assert seg.descriptor.stats["flat_std"] > 0
    assert metrics.matched_accuracy(seg.labels, sim.labels) > 0.95


def test_crystallinity_of_a_perfect_lattice_does_not_drop_at_the_image_edges():
    """Where the patch shifted by t would leave the image the channel uses -t: the mirrored
    lattice of the padding is no translate of the crystal, and edge grid points read low."""
    from hyperspy_symseg.descriptors._translation_family import TranslationDescriptor

    y, x = np.mgrid[:64, :72]
    image = np.cos(2 * np.pi * (x + 0.3) / 8.0) + np.cos(2 * np.pi * (y + 0.6) / 8.0)  # square, a = 8 px
    base = TranslationDescriptor(shifts=np.array([[0, 4]]), patch_x=4, patch_y=4)
    spec = AugmentedDescriptor(base, lattice_shifts=np.array([[[0, 8], [8, 0], [8, 8], [8, -8]]]),
                               half_shifts=np.array([[[0, 4], [4, 0], [4, 4], [4, -4]]]), patch=4)
    c = spec.raw_channels(image, image, spec.grid(image.shape, 2))[..., 0]
    # brute force at every grid point: r(t) = 1 for a lattice translation, r(t / 2) = 0 or -1
    # (corners, where a diagonal t fits neither way, are within 0.09; with the mirror alone edges were 0.29 low)
    np.testing.assert_allclose(c, c[10, 10], atol=0.1)
    assert c[10, 10] > 0.9


@pytest.mark.parametrize("patch, half", [(4, 4), (6, 6), (12, 6), (20, 10), (32, 16)])
def test_local_statistics_box_is_half_the_patch(patch, half):
    """The local mean and std channels are box statistics over half the patch (at least MIN_PATCH px,
    at most the patch), compared with a plain NumPy mean and std over that box."""
    from hyperspy_symseg.descriptors import _augmented as A
    from hyperspy_symseg.descriptors._grid import DescriptorGrid
    from hyperspy_symseg.descriptors._translation_family import TranslationDescriptor

    assert A.MIN_STATS_HALF == auto.MIN_PATCH
    base = TranslationDescriptor(shifts=np.array([[0, 4]]), patch_x=patch, patch_y=patch)
    spec = AugmentedDescriptor(base, lattice_shifts=np.array([[[0, 5]]], np.int64),
                               half_shifts=np.array([[[0, 2]]], np.int64), patch=patch)
    assert spec.stats_half == half
    image = np.random.default_rng(0).random((120, 120))
    grid = DescriptorGrid(50, 55, 2, 2, 7)
    raw = spec.raw_channels(image, image, grid)
    for i, y in enumerate(grid.rows()):
        for j, x in enumerate(grid.cols()):
            box = image[y - half : y + half + 1, x - half : x + half + 1]
            np.testing.assert_allclose(raw[i, j, 1:], [box.mean(), box.std()], rtol=1e-9, atol=1e-12)


def test_a_fit_computes_each_frames_background_once(monkeypatch):
    """background_free: inside shared_backgrounds each image's background is computed once,
    keyed by its content (a changed image is computed again), read-only, forgotten after the
    block; a fit (automatic stage, descriptors, boundary refinement) computes it once per image."""
    from hyperspy_symseg.descriptors import _preprocess as pre

    calls = []
    original = pre.lattice_background

    def counted(image, size, sigma):
        calls.append(np.asarray(image).shape)
        return original(image, size, sigma)

    monkeypatch.setattr(pre, "lattice_background", counted)
    rng = np.random.default_rng(0)
    image = rng.normal(size=(64, 80))
    expected = image - original(image, 9, 2.0)
    assert pre.background_free(image, 9, 2.0).flags.writeable  # outside a block: a new array each call
    pre.background_free(image, 9, 2.0)
    assert len(calls) == 2
    calls.clear()
    with pre.shared_backgrounds():
        first = pre.background_free(image, 9, 2.0)
        again = pre.background_free(image.copy(), 9, 2.0)  # another array, the same bytes
        np.testing.assert_array_equal(first, expected)
        assert again is first and not first.flags.writeable and len(calls) == 1
        other = image.copy()
        other[3, 4] += 1.0
        np.testing.assert_array_equal(pre.background_free(other, 9, 2.0), other - original(other, 9, 2.0))
        pre.background_free(image, 11, 2.0)  # another element: another background
        assert len(calls) == 3
    assert not pre._SHARED["entries"]
    # a whole fit: one background per image (three before: stats, descriptors, refinement)
    particle = simulate.particle_on_vacuum((192, 192), period_px=25, random_state=1, peak_counts=30)
    calls.clear()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        seg = symmetry_segmentation(particle.image, 2, random_state=0, show_progressbar=False)
    assert seg.parameters["background"] and len(calls) == 1
    assert not pre._SHARED["entries"]
