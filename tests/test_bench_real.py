"""The real-image benchmark's loading and reference labels (benchmarks/_real_data.py).

Skipped when ../shared/data/real is absent. The image tools are also checked on
synthetic images whose answer is known.
"""

import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
import _real_data as data
from conftest import lattice


def _need(relative):
    path = data.REAL / relative
    if not path.exists():
        pytest.skip(f"{path} is not available")
    return path


# --------------------------------------------------------------------------- tools on synthetic images
def test_lattice_period_of_a_cosine_lattice():
    image = lattice((256, 256), 12.8, 0.0)  # 256 / 12.8 = 20 periods: an exact FFT bin
    assert data.lattice_period(image) == pytest.approx(12.8, rel=1e-9)


def test_otsu_separates_two_modes():
    rng = np.random.default_rng(0)
    values = np.r_[rng.normal(0.0, 1.0, 5000), rng.normal(10.0, 1.0, 5000)]
    assert 3.0 < data.otsu_threshold(values) < 7.0


def test_scored_mask_leaves_a_band_around_the_boundary():
    labels = np.zeros((40, 60), int)
    labels[:, 30:] = 1
    scored = data.scored_mask(labels, 5.0)
    # boundary pixels are columns 29 and 30; a pixel is scored if its distance to them is > 5
    expected = np.zeros(60, bool)
    expected[:24] = True
    expected[36:] = True
    assert np.array_equal(scored[0], expected)
    assert scored.all(axis=0).sum() == 48
    assert data.scored_mask(np.zeros((5, 5), int), 3.0).all()


def test_particle_labels_find_a_disc():
    yy, xx = np.mgrid[:200, :200]
    disc = np.hypot(yy - 100, xx - 90) < 50
    image = disc * (2.0 + lattice((200, 200), 8.0, 10.0)) + 0.05 * np.random.default_rng(1).normal(size=(200, 200))
    labels, _ = data.particle_labels(image, 8.0)
    scored = data.scored_mask(labels, 8.0)
    assert np.mean(labels[scored] == disc[scored]) > 0.99
    # the 25 % level of a sharp edge blurred with sigma = p lies 0.67 p outside it (inside the band)
    radius = np.sqrt(labels.sum() / np.pi)
    assert 50 + 0.67 * 8.0 - 1.5 < radius < 50 + 0.67 * 8.0 + 1.5


def test_grain_labels_split_two_rotated_lattices():
    left = lattice((192, 192), 9.0, 0.0)
    right = lattice((192, 192), 9.0, 30.0)
    truth = np.zeros((192, 192), int)
    truth[:, 96:] = 1
    image = np.where(truth == 0, left, right)
    labels, _ = data.grain_labels(image, 9.0)
    scored = data.scored_mask(truth, 9.0)
    agree = np.mean(labels[scored] == truth[scored])
    assert max(agree, 1 - agree) > 0.98


def test_interface_rows_follow_a_step():
    image = np.ones((120, 160))
    image[70:, :80] = 0.3  # bright above, dark below; the interface steps from row 70 to row 50
    image[50:, 80:] = 0.3
    rows = data.interface_rows(image + 0.1 * lattice((120, 160), 6.0, 0.0), 6.0, (10, 110), -1)
    assert np.all(np.abs(rows[:60] - 70) <= 2)
    assert np.all(np.abs(rows[100:] - 50) <= 2)


# --------------------------------------------------------------------------- real files
def test_ptir_particle_reference():
    _need("statstem_ExamplePtIr.mat")
    case = data.CASES_BY_KEY["PtIr"]
    signal = data.load_case(case)
    assert signal.data.shape == (512, 512)
    assert signal.axes_manager.signal_axes[0].scale == pytest.approx(0.01211)
    ref = data.reference(case, signal)
    fraction = ref.labels.mean()
    assert 0.1 < fraction < 0.9
    assert 15 < ref.period < 21  # the README's lattice: ~18 px
    assert 0.5 < ref.scored.mean() < 1.0
    # the particle is the bright one: mean intensity inside far above the vacuum
    d = signal.data
    assert d[ref.labels[0] == 1].mean() > 5 * d[ref.labels[0] == 0].mean()


def test_interface_1_reference():
    _need("atomsegnet_interface_1.png")
    case = data.CASES_BY_KEY["interface_1"]
    signal = data.load_case(case)
    assert signal.data.shape == (1060, 800)  # scale-bar columns cropped
    # the burned-in scale bar (2592 px >= 250, rows 925-1041, cols 808-1008) is gone
    assert (signal.data[900:] >= 250).sum() == 0
    ref = data.reference(case, signal)
    row = ref.info["interface row (median)"]
    assert 660 <= row <= 720
    assert ref.info["max"] - ref.info["min"] < 2 * ref.period  # a flat interface
    upper = signal.data[: int(row) - 40].mean()
    lower = signal.data[int(row) + 40:].mean()
    assert upper > 1.5 * lower


def test_ytian_grain_reference_per_frame():
    _need("ytian_GB_disp_3frames.tif")
    case = data.CASES_BY_KEY["ytian_GB"]
    signal = data.load_case(case)
    assert signal.data.shape == (3, 567, 860)
    ref = data.reference(case, signal)
    assert ref.labels.shape == (3, 567, 860)
    for lab in ref.labels:
        # a horizontal boundary: the top rows are one grain, the bottom rows the other
        assert lab[:150].mean() in (0.0, 1.0) and lab[-150:].mean() in (0.0, 1.0)
        assert lab[:150].mean() != lab[-150:].mean()
        rows = np.argmax(lab != lab[:1], axis=0)
        assert np.all((rows > 220) & (rows < 400))


def test_graphene_pairs_and_masks():
    _need("graphene_unet_labelled")
    pairs = data.graphene_pairs()
    assert len(pairs) == 24
    signal, truth = data.load_graphene(*pairs[0][1:])
    assert signal.data.shape == truth.shape == (256, 256)
    assert set(np.unique(truth)) <= {0, 1}
    assert 0.5 < truth.mean() < 1.0  # mostly graphene (label 1)


def test_benchmark_skips_without_the_data(monkeypatch, tmp_path, capsys):
    import bench_real

    monkeypatch.setattr(data, "REAL", tmp_path / "absent")
    assert bench_real.main(["--png-dir", ""]) == 0
    assert "Skipped: the real images are not available" in capsys.readouterr().out
