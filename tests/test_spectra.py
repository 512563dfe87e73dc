"""Per-segment spectra: label transfer to the SI grid, accumulation, navigation masks."""

import copy
import warnings

import dask.array as da
import numpy as np
import pytest
from hyperspy.signals import LazySignal1D, Signal1D, Signal2D

from hyperspy_symseg import simulate
from hyperspy_symseg.spectra import UNASSIGNED, labels_on_si_grid, navigation_mask, segment_spectra

N_CHANNELS = 80
ENERGY = np.arange(N_CHANNELS, dtype=float)
#: One Gaussian peak per region (+ background), counts per pixel.
TRUE_SPECTRA = 5.0 + 40.0 * np.stack(
    [np.exp(-0.5 * ((ENERGY - 25.0) / 4.0) ** 2), np.exp(-0.5 * ((ENERGY - 55.0) / 6.0) ** 2)]
)


@pytest.fixture(scope="module")
def sim():
    return simulate.two_grain_image(shape=(128, 128), random_state=0)


def make_si(labels_array, scale=0.02, offset=(0.0, 0.0), units="nm", seed=0, cls=Signal1D, dtype=float):
    """SI whose spectrum at each pixel is the Poisson-noisy spectrum of its region.

    offset is (x, y); the navigation axes are x (columns) and y (rows).
    """
    rng = np.random.default_rng(seed)
    data = rng.poisson(TRUE_SPECTRA[labels_array]).astype(dtype)
    si = cls(data)
    for axis, name, off in zip(si.axes_manager.navigation_axes, "xy", offset):
        axis.name, axis.scale, axis.offset, axis.units = name, scale, off, units
    e = si.axes_manager.signal_axes[0]
    e.name, e.units, e.offset, e.scale = "Energy loss", "eV", 100.0, 0.5
    si.metadata.General.title = "SI"
    return si


def direct(si_data, grid, n, method="mean"):
    """Independent reference: reduce the spectra of every label with plain numpy."""
    out = np.zeros((n, si_data.shape[-1]))
    for k in range(n):
        sel = si_data[grid == k]
        out[k] = sel.mean(axis=0) if method == "mean" else sel.sum(axis=0)
    return out


# ----------------------------------------------------------------- same field of view


def test_recovers_region_means_and_counts(sim):
    truth = sim.labels.data
    si = make_si(truth)
    out = segment_spectra(sim.labels, si)
    counts = np.bincount(truth.ravel(), minlength=2)
    np.testing.assert_array_equal(out.metadata.SegmentSpectra.pixels_per_pattern, counts)
    assert out.metadata.SegmentSpectra.method == "mean"
    assert out.metadata.SegmentSpectra.unassigned_fraction == 0.0
    assert out.metadata.SegmentSpectra.n_si_pixels == 128 * 128
    assert out.data.shape == (2, N_CHANNELS)
    np.testing.assert_allclose(out.data, direct(si.data, truth, 2), rtol=1e-12)
    # to the Poisson noise level of a mean over ~8000 spectra (5 sigma)
    sigma = np.sqrt(TRUE_SPECTRA / counts[:, None])
    assert np.all(np.abs(out.data - TRUE_SPECTRA) < 5 * sigma)
    # the axes: one navigation axis "pattern", the SI's signal axis
    nav = out.axes_manager.navigation_axes
    assert len(nav) == 1 and nav[0].name == "pattern" and nav[0].size == 2
    e = out.axes_manager.signal_axes[0]
    assert (e.name, e.units, e.offset, e.scale, e.size) == ("Energy loss", "eV", 100.0, 0.5, N_CHANNELS)
    assert out.metadata.General.title == "Segment mean spectra of SI"


def test_labels_on_si_grid_same_grid(sim):
    si = make_si(sim.labels.data, units="nm", offset=(1.5, -2.0))
    labels = sim.labels.deepcopy()
    labels.axes_manager[0].offset, labels.axes_manager[1].offset = 1.5, -2.0
    grid = labels_on_si_grid(labels, si)
    assert isinstance(grid, Signal2D) and grid.data.dtype == np.int32
    np.testing.assert_array_equal(grid.data, sim.labels.data)
    for a, b in zip(grid.axes_manager.signal_axes, si.axes_manager.navigation_axes):
        assert (a.name, a.units, a.offset, a.scale, a.size) == (b.name, b.units, b.offset, b.scale, b.size)
    md = grid.metadata.LabelsOnSIGrid
    assert md.unassigned_value == UNASSIGNED and md.unassigned_fraction == 0.0
    np.testing.assert_array_equal(md.pixels_per_label, np.bincount(sim.labels.data.ravel()))


def test_method_sum(sim):
    truth = sim.labels.data
    si = make_si(truth)
    out = segment_spectra(sim.labels, si, method="sum")
    np.testing.assert_allclose(out.data, direct(si.data, truth, 2, "sum"), rtol=1e-12)
    np.testing.assert_allclose(out.data.sum(), si.data.sum())
    assert out.metadata.SegmentSpectra.method == "sum"
    assert out.metadata.General.title == "Segment sum spectra of SI"


def test_array_labels_on_si_grid(sim):
    truth = sim.labels.data
    si = make_si(truth)
    out = segment_spectra(truth, si)
    np.testing.assert_allclose(out.data, direct(si.data, truth, 2), rtol=1e-12)
    with pytest.raises(ValueError, match="SI navigation shape"):
        segment_spectra(truth[:64], si)


# ----------------------------------------------------- offsets, units, partial overlap


def test_offset_subregion_in_micrometres(sim):
    """Velox-like: image offset -39.6 nm, SI a sub-region calibrated in µm."""
    labels = sim.labels.deepcopy()
    for axis in labels.axes_manager.signal_axes:
        axis.offset = -39.6
    rows, cols = slice(10, 100), slice(20, 120)
    sub = sim.labels.data[rows, cols]
    si = make_si(sub, scale=0.02e-3, offset=((-39.6 + 20 * 0.02) * 1e-3, (-39.6 + 10 * 0.02) * 1e-3), units="µm")
    grid = labels_on_si_grid(labels, si)
    np.testing.assert_array_equal(grid.data, sub)
    assert grid.axes_manager.signal_axes[0].units == "µm"
    out = segment_spectra(labels, si)
    np.testing.assert_array_equal(out.metadata.SegmentSpectra.pixels_per_pattern, np.bincount(sub.ravel(), minlength=2))
    np.testing.assert_allclose(out.data, direct(si.data, sub, 2), rtol=1e-12)


def test_si_partly_outside_image(sim):
    """SI shifted by 3.4 px right and 2 px up: pixels outside the image are unassigned."""
    truth = sim.labels.data
    si = make_si(np.zeros((128, 128), int), offset=(3.4 * 0.02, -2 * 0.02))
    grid = labels_on_si_grid(sim.labels, si).data
    expected = np.full((128, 128), UNASSIGNED)
    # SI column i is centred on image column i + 3.4 -> nearest i + 3; row r on image row r - 2
    expected[2:, :125] = truth[:126, 3:]
    np.testing.assert_array_equal(grid, expected)
    out = segment_spectra(sim.labels, si, method="sum")
    md = out.metadata.SegmentSpectra
    assert md.unassigned_pixels == 128 * 128 - 126 * 125
    assert md.unassigned_fraction == pytest.approx(1 - 126 * 125 / 128**2)
    np.testing.assert_array_equal(md.pixels_per_pattern, np.bincount(expected[expected >= 0], minlength=2))
    np.testing.assert_allclose(out.data, direct(si.data, expected, 2, "sum"), rtol=1e-12)


def test_non_overlapping_field_of_view(sim):
    si = make_si(np.zeros((16, 16), int), scale=0.02e-3, offset=(0.5, 0.0), units="µm")  # x from 500 nm
    with pytest.raises(ValueError, match=r"do not overlap.*si covers x: \[499\.99.*nm.*labels cover x: \[-0\.01, 2\.55\] nm"):
        segment_spectra(sim.labels, si)
    with pytest.raises(ValueError, match="do not overlap"):
        labels_on_si_grid(sim.labels, si)


def test_units_that_cannot_be_compared(sim):
    si = make_si(np.zeros((16, 16), int), units="eV")
    with pytest.raises(ValueError, match="cannot be converted"):
        segment_spectra(sim.labels, si)
    si = Signal1D(np.zeros((16, 16, 5)))  # uncalibrated navigation axes
    with pytest.raises(ValueError, match="no units"):
        segment_spectra(sim.labels, si)


# ------------------------------------------------------------- coarser and finer SIs


def test_binned_4x4_majority_and_coverage(sim):
    truth = sim.labels.data
    si = make_si(truth).rebin(scale=(4, 4, 1))
    blocks = truth.reshape(32, 4, 32, 4).transpose(0, 2, 1, 3).reshape(32, 32, 16)
    votes = np.stack([(blocks == k).sum(-1) for k in range(2)], -1) / 16
    share = votes.max(-1)
    tie = votes[..., 0] == votes[..., 1]
    for coverage in (0.5, 0.8):
        expected = np.where((share >= coverage) & ~tie, votes.argmax(-1), UNASSIGNED)
        grid = labels_on_si_grid(sim.labels, si, coverage=coverage).data
        np.testing.assert_array_equal(grid, expected)
        out = segment_spectra(sim.labels, si, method="sum", coverage=coverage)
        np.testing.assert_array_equal(
            out.metadata.SegmentSpectra.pixels_per_pattern, np.bincount(expected[expected >= 0], minlength=2)
        )
        np.testing.assert_allclose(out.data, direct(si.data, expected, 2, "sum"), rtol=1e-12)
        assert out.metadata.SegmentSpectra.coverage == coverage
    n_loose = (labels_on_si_grid(sim.labels, si, coverage=0.5).data == UNASSIGNED).sum()
    n_strict = (labels_on_si_grid(sim.labels, si, coverage=0.8).data == UNASSIGNED).sum()
    assert 0 < n_loose < n_strict < 32 * 8  # only blocks along the boundary


HAND_LABELS = np.array(
    [
        [0, 0, 1, 1],
        [0, 0, 0, 2],
        [0, 1, 2, 2],
        [1, 0, 2, 2],
    ]
)


def hand_signals(si_shape, si_offset, si_scale=2.0):
    labels = Signal2D(HAND_LABELS.astype(np.uint8))
    for axis in labels.axes_manager.signal_axes:
        axis.units = "nm"
    si = Signal1D(np.arange(np.prod(si_shape) * 3, dtype=float).reshape(si_shape + (3,)))
    for axis, off in zip(si.axes_manager.navigation_axes, si_offset):
        axis.scale, axis.offset, axis.units = si_scale, off, "nm"
    return labels, si


def test_hand_made_2x2_binned():
    # SI pixel (r, c) covers image rows 2r..2r+1 and columns 2c..2c+1.
    # shares: top-left {0: 1}, top-right {1: .5, 0: .25, 2: .25}, bottom-left {0: .5, 1: .5} (tie), bottom-right {2: 1}
    labels, si = hand_signals((2, 2), (0.5, 0.5))
    assert labels_on_si_grid(labels, si).data.tolist() == [[0, 1], [-1, 2]]
    assert labels_on_si_grid(labels, si, coverage=0.75).data.tolist() == [[0, -1], [-1, 2]]
    assert labels_on_si_grid(labels, si, coverage=0.0).data.tolist() == [[0, 1], [-1, 2]]
    out = segment_spectra(labels, si)
    np.testing.assert_array_equal(out.data, si.data.reshape(4, 3)[[0, 1, 3]])
    np.testing.assert_array_equal(out.metadata.SegmentSpectra.pixels_per_pattern, [1, 1, 1])
    assert out.metadata.SegmentSpectra.unassigned_fraction == 0.25


def test_hand_made_binned_half_outside():
    # 2 x 3 SI of 2 x 2 px pixels; x offset -0.5: columns [-1, 0], [1, 2], [3, 4] (-1 and 4 outside)
    # row 0: {0: .5} -> 0;  {0: .75, 1: .25} -> 0;  {1: .25, 2: .25} tie -> -1
    # row 1: {0: .25, 1: .25} tie -> -1;  {2: .5, 1: .25, 0: .25} -> 2;  {2: .5} -> 2
    labels, si = hand_signals((2, 3), (-0.5, 0.5))
    assert labels_on_si_grid(labels, si).data.tolist() == [[0, 0, -1], [-1, 2, 2]]
    assert labels_on_si_grid(labels, si, coverage=0.6).data.tolist() == [[-1, 0, -1], [-1, -1, -1]]


def test_hand_made_finer_si_nearest_pixel():
    # SI pixels of 0.5 px; centres at image coordinates -0.75, -0.25, 0.25, ..., 3.75
    labels, si = hand_signals((2, 10), (-0.75, 0.25), si_scale=0.5)
    grid = labels_on_si_grid(labels, si).data
    # row centres 0.25, 0.75 -> image rows 0, 1; column centres -> -, 0, 0, 1, 1, 2, 2, 3, 3, -
    assert grid.tolist() == [[-1, 0, 0, 0, 0, 1, 1, 1, 1, -1], [-1, 0, 0, 0, 0, 0, 0, 2, 2, -1]]


def test_finer_si_2x_oversampled(sim):
    truth = sim.labels.data
    fine = np.repeat(np.repeat(truth, 2, axis=0), 2, axis=1)
    # SI pixel i centred at image pixel coordinate (i - 0.5) / 2 -> nearest image pixel i // 2
    si = make_si(fine, scale=0.01, offset=(-0.005, -0.005))
    grid = labels_on_si_grid(sim.labels, si).data
    np.testing.assert_array_equal(grid, fine)
    out = segment_spectra(sim.labels, si)
    np.testing.assert_array_equal(out.metadata.SegmentSpectra.pixels_per_pattern, 4 * np.bincount(truth.ravel()))
    np.testing.assert_allclose(out.data, direct(si.data, fine, 2), rtol=1e-12)


# ------------------------------------------------------------------------ lazy SIs


def test_lazy_si_chunked(sim):
    truth = sim.labels.data
    si = make_si(truth, dtype=np.uint16)
    lazy = si.as_lazy()
    lazy.data = lazy.data.rechunk((48, 40, 32))
    eager = segment_spectra(sim.labels, si)
    out = segment_spectra(sim.labels, lazy)
    assert not out._lazy and type(out) is Signal1D
    np.testing.assert_allclose(out.data, eager.data, rtol=1e-12)
    np.testing.assert_array_equal(out.metadata.SegmentSpectra.pixels_per_pattern, eager.metadata.SegmentSpectra.pixels_per_pattern)
    assert lazy._lazy and isinstance(lazy.data, da.Array)
    # binned + lazy sums
    out = segment_spectra(sim.labels, lazy.rebin(scale=(4, 4, 1)), method="sum")
    np.testing.assert_allclose(out.data, segment_spectra(sim.labels, si.rebin(scale=(4, 4, 1)), method="sum").data)


def test_lazy_si_is_reduced_chunk_by_chunk(sim):
    """Every chunk of the SI is read once; the SI is never loaded as a whole."""
    truth = sim.labels.data
    si = make_si(truth)
    reads = []

    def chunk(block_info=None):
        (r0, r1), (c0, c1), (e0, e1) = block_info[None]["array-location"]
        reads.append((r1 - r0) * (c1 - c0) * (e1 - e0))
        return si.data[r0:r1, c0:c1, e0:e1]

    data = da.map_blocks(chunk, chunks=((32,) * 4, (64,) * 2, (N_CHANNELS,)), dtype=float)
    lazy = LazySignal1D(data)
    for a, b in zip(lazy.axes_manager._axes, si.axes_manager._axes):
        a.name, a.units, a.scale, a.offset = b.name, b.units, b.scale, b.offset
    out = segment_spectra(sim.labels, lazy)
    np.testing.assert_allclose(out.data, direct(si.data, truth, 2), rtol=1e-12)
    assert len(reads) == 8 and max(reads) == si.data.size // 8


# ------------------------------------------------------------------- empty patterns


def test_more_patterns_than_labels_warns(sim):
    si = make_si(sim.labels.data)
    with pytest.warns(UserWarning, match=r"Pattern\(s\) \[2, 3\] got no SI pixel.*NaN"):
        out = segment_spectra(sim.labels, si, n_patterns=4)
    assert out.data.shape == (4, N_CHANNELS)
    assert np.isnan(out.data[2:]).all() and np.isfinite(out.data[:2]).all()
    np.testing.assert_array_equal(out.metadata.SegmentSpectra.pixels_per_pattern, [8199, 8185, 0, 0])
    assert out.metadata.SegmentSpectra.empty_patterns == [2, 3]
    with pytest.warns(UserWarning, match="zeros"):
        out = segment_spectra(sim.labels, si, n_patterns=3, method="sum")
    np.testing.assert_array_equal(out.data[2], 0.0)
    with pytest.raises(ValueError, match="n_patterns must be at least 2"):
        segment_spectra(sim.labels, si, n_patterns=1)
    with pytest.raises(TypeError, match="n_patterns"):
        segment_spectra(sim.labels, si, n_patterns=2.5)


def test_pattern_outside_si_warns(sim):
    """An SI over grain 0 only: pattern 1 gets no pixel (n_patterns from the labels)."""
    truth = sim.labels.data
    # the left-most 16 columns are in grain 0 throughout
    assert (truth[:, :16] == 0).all()
    si = make_si(truth[:, :16])
    with pytest.warns(UserWarning, match=r"\[1\] got no SI pixel"):
        out = segment_spectra(sim.labels, si)
    np.testing.assert_array_equal(out.metadata.SegmentSpectra.pixels_per_pattern, [128 * 16, 0])


def test_n_patterns_from_segmentation_metadata(sim):
    labels = sim.labels.deepcopy()
    labels.metadata.set_item("SymmetrySegmentation.n_patterns", 3)
    si = make_si(sim.labels.data)
    with pytest.warns(UserWarning, match=r"\[2\]"):
        out = segment_spectra(labels, si)
    assert out.axes_manager.navigation_axes[0].size == 3


# ---------------------------------------------------------------- errors, inputs


def test_wrong_si_dimensionality(sim):
    with pytest.raises(ValueError, match="exactly 2 navigation axes"):
        segment_spectra(sim.labels, Signal1D(np.zeros((5, 10))))
    with pytest.raises(ValueError, match="exactly 2 navigation axes"):
        segment_spectra(sim.labels, Signal1D(np.zeros((2, 5, 5, 10))))
    with pytest.raises(ValueError, match="signal dimension 2"):
        segment_spectra(sim.labels, sim.image)
    with pytest.raises(TypeError, match="si must be a HyperSpy Signal1D"):
        segment_spectra(sim.labels, np.zeros((5, 5, 10)))


def test_bad_arguments(sim):
    si = make_si(sim.labels.data)
    with pytest.raises(ValueError, match="method must be one of 'mean', 'sum'"):
        segment_spectra(sim.labels, si, method="median")
    with pytest.raises(ValueError, match=r"coverage must be a real number in \[0, 1\]"):
        segment_spectra(sim.labels, si, coverage=1.5)
    with pytest.raises(TypeError, match="coverage"):
        segment_spectra(sim.labels, si, coverage="half")
    with pytest.raises(TypeError, match="labels must be a label Signal2D"):
        segment_spectra([[0, 1]], si)
    stack = Signal2D(np.zeros((2, 128, 128), np.uint8))
    with pytest.raises(ValueError, match=r"labels.inav\[i\]"):
        segment_spectra(stack, si)
    with pytest.raises(TypeError, match="integer pattern labels"):
        segment_spectra(Signal2D(np.full((128, 128), 0.5)), si)
    with pytest.raises(TypeError, match="patterns must be"):
        navigation_mask(sim.labels, si, "grain")
    with pytest.raises(ValueError, match="patterns must be pattern labels >= 0"):
        navigation_mask(sim.labels, si, [-1])
    with pytest.raises(ValueError, match="at least one"):
        navigation_mask(sim.labels, si, [])


def test_inputs_not_modified(sim):
    labels = sim.labels.deepcopy()
    for axis in labels.axes_manager.signal_axes:
        axis.offset = -39.6
    si = make_si(sim.labels.data[:64, :64], scale=0.02e-3, offset=(-39.6e-3, -39.6e-3), units="µm").rebin(scale=(2, 2, 1))
    labels_before, si_before = labels.data.copy(), si.data.copy()
    axes_before = (copy.deepcopy(labels.axes_manager._get_axes_dicts()), copy.deepcopy(si.axes_manager._get_axes_dicts()))
    md_before = (labels.metadata.as_dictionary(), si.metadata.as_dictionary())
    with pytest.warns(UserWarning, match=r"\[1\] got no SI pixel"):  # the SI sees grain 0 only
        segment_spectra(labels, si)
    with pytest.warns(UserWarning, match=r"\[1\] got no SI pixel"):
        segment_spectra(labels, si.as_lazy())
    labels_on_si_grid(labels, si)
    navigation_mask(labels, si, 0)
    np.testing.assert_array_equal(labels.data, labels_before)
    np.testing.assert_array_equal(si.data, si_before)
    assert (labels.axes_manager._get_axes_dicts(), si.axes_manager._get_axes_dicts()) == axes_before
    assert (labels.metadata.as_dictionary(), si.metadata.as_dictionary()) == md_before
    assert si.axes_manager.navigation_axes[0].units == "µm"


# -------------------------------------------------------------------- output class


class MySpectrum(Signal1D):
    """A user's Signal1D subclass."""


def test_output_keeps_custom_class_and_metadata(sim):
    si = make_si(sim.labels.data, cls=MySpectrum)
    si.metadata.set_item("Acquisition_instrument.TEM.beam_energy", 300.0)
    si.original_metadata.set_item("Detector.name", "EELS camera")
    out = segment_spectra(sim.labels, si)
    assert type(out) is MySpectrum
    assert out.metadata.Acquisition_instrument.TEM.beam_energy == 300.0
    assert out.original_metadata.Detector.name == "EELS camera"
    assert out.metadata.SegmentSpectra.n_patterns == 2


def test_output_is_exspy_eels_spectrum(sim):
    exspy = pytest.importorskip("exspy")
    si = make_si(sim.labels.data)
    si.set_signal_type("EELS")
    si.set_microscope_parameters(beam_energy=200.0, convergence_angle=20.0, collection_angle=30.0)
    assert isinstance(si, exspy.signals.EELSSpectrum)
    for s in (si, si.as_lazy()):
        out = segment_spectra(sim.labels, s)
        assert type(out) is exspy.signals.EELSSpectrum
        assert out.metadata.Signal.signal_type == "EELS"
        assert out.metadata.Acquisition_instrument.TEM.beam_energy == 200.0
        assert out.metadata.Acquisition_instrument.TEM.Detector.EELS.collection_angle == 30.0
        np.testing.assert_allclose(out.data, direct(si.data, sim.labels.data, 2), rtol=1e-12)


# ------------------------------------------------------------- navigation masks


def test_navigation_mask_values(sim):
    truth = sim.labels.data
    si = make_si(truth)
    mask = navigation_mask(sim.labels, si, 1)
    assert mask.axes_manager.signal_dimension == 0
    assert mask.axes_manager.navigation_shape == si.axes_manager.navigation_shape
    assert mask.data.dtype == bool
    np.testing.assert_array_equal(mask.data, truth != 1)  # True = excluded
    assert mask.metadata.NavigationMask.kept_pixels == 8185
    np.testing.assert_array_equal(navigation_mask(sim.labels, si, [0, 1]).data, np.zeros_like(truth, bool))
    assert isinstance(mask.T, Signal2D)
    with pytest.warns(UserWarning, match="excludes everything"):
        assert navigation_mask(sim.labels, si, 5).data.all()


def test_navigation_mask_in_decomposition(sim):
    truth = sim.labels.data[:, :96]  # not square: array and navigation orders differ
    si = make_si(truth)
    keep = truth == 1
    mask = navigation_mask(sim.labels, si, 1)
    s = si.deepcopy()
    s.decomposition(navigation_mask=mask, output_dimension=2, print_info=False, svd_solver="full")
    loadings = s.learning_results.loadings.reshape(truth.shape + (-1,))
    assert np.isnan(loadings[~keep]).all() and np.isfinite(loadings[keep]).all()
    np.testing.assert_array_equal(np.reshape(s.learning_results.navigation_mask, truth.shape), ~keep)
    # the same model as a decomposition of the kept spectra alone
    kept = Signal1D(si.data[keep])
    kept.decomposition(output_dimension=2, print_info=False, svd_solver="full")
    np.testing.assert_allclose(
        s.learning_results.explained_variance[:2], kept.learning_results.explained_variance[:2], rtol=1e-8
    )
    np.testing.assert_array_equal(s.data, si.data)  # decomposition left the data as they were


def test_navigation_mask_in_cluster_analysis(sim):
    truth = sim.labels.data[:, :96]
    si = make_si(truth)
    keep = truth == 0
    mask = navigation_mask(sim.labels, si, 0)
    s = si.deepcopy()
    s.cluster_analysis("signal", n_clusters=2, navigation_mask=mask.data, preprocessing=None, random_state=0)
    membership = s.learning_results.cluster_labels.reshape((2,) + truth.shape)
    # masked pixels belong to no cluster, every kept pixel to exactly one
    np.testing.assert_array_equal(membership.sum(axis=0), keep.astype(membership.dtype))


def test_with_real_segmentation(sim):
    """segment_spectra on the labels of a symmetry segmentation of the image."""
    from hyperspy_symseg import symmetry_segmentation

    seg = symmetry_segmentation(sim.image, n_patterns=2, random_state=0)
    si = make_si(sim.labels.data)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        out = segment_spectra(seg.labels, si)
    sizes = np.bincount(seg.labels.data.ravel(), minlength=2)
    np.testing.assert_array_equal(out.metadata.SegmentSpectra.pixels_per_pattern, sizes)
    # each pattern's spectrum is close to the region it mostly covers
    for k in range(2):
        region = np.bincount(sim.labels.data[seg.labels.data == k], minlength=2).argmax()
        assert np.abs(out.data[k] - TRUE_SPECTRA[region]).max() < 0.1 * TRUE_SPECTRA.max()


def test_result_methods_use_the_labels_and_pattern_count():
    """seg.segment_spectra / seg.navigation_mask on a segmentation result (and a stack frame)."""
    import hyperspy.api as hs

    from hyperspy_symseg import simulate, symmetry_segmentation

    sim = simulate.two_grain_image(shape=(128, 128), random_state=0)
    seg = symmetry_segmentation(sim.image, 3, stride=4, random_state=0, patch_x=8, patch_y=8, window_x=12,
                                window_y=12)
    nav = sim.image.axes_manager.signal_axes
    rng = np.random.default_rng(0)
    data = rng.poisson(5.0, size=(128, 128, 30)).astype(float) + 50.0 * (sim.labels.data[..., None] == 1)
    si = hs.signals.Signal1D(data, axes=[
        {"name": "y", "size": 128, "scale": nav[1].scale, "units": nav[1].units},
        {"name": "x", "size": 128, "scale": nav[0].scale, "units": nav[0].units},
        {"name": "E", "size": 30},
    ])
    spectra = seg.segment_spectra(si)
    assert spectra.axes_manager.navigation_shape == (3,)
    np.testing.assert_array_equal(spectra.metadata.SegmentSpectra.pixels_per_pattern, seg.pattern_sizes)
    mask = seg.navigation_mask(si, [0])
    assert int((~mask.data).sum()) == seg.pattern_sizes[0]
    stack = hs.signals.Signal2D(np.stack([sim.image.data, sim.image.data]))
    for a, b in zip(stack.axes_manager.signal_axes, nav):
        a.scale, a.units = b.scale, b.units
    video = seg.predict(stack)
    seg.labels = video
    np.testing.assert_array_equal(seg.segment_spectra(si, frame=1).data, spectra.data)
