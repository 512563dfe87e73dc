"""benchmarks/_suite.py: the quick suite builds, its labels have the stated number of regions, and
the simulated period (measured from the FFT of clean single-crystal cases) is the requested one."""

import itertools
import math
import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
from _suite import QUICK_DOSES, QUICK_PERIODS, build_suite  # noqa: E402

KINDS = {"grains", "phases", "vacuum", "amorphous", "control", "distorted", "hrtem", "contaminant"}


def fft_peaks(image, n_peaks=12):
    """Frequencies (cycles/px, (ky, kx)) of the strongest local maxima of the windowed power spectrum."""
    img = image - image.mean()
    win = np.outer(np.hanning(img.shape[0]), np.hanning(img.shape[1]))
    f = np.abs(np.fft.fftshift(np.fft.fft2(img * win))) ** 2
    n = img.shape[0]
    c = n // 2
    f[c - 3 : c + 4, c - 3 : c + 4] = 0
    ky, kx = np.meshgrid(np.arange(n) - c, np.arange(n) - c, indexing="ij")
    f[np.hypot(ky, kx) > 0.4 * n] = 0  # the fundamental peaks of >= 4 px periods lie within 0.25 cycles/px
    peaks = []
    work = f.copy()
    for _ in range(n_peaks):
        iy, ix = np.unravel_index(work.argmax(), work.shape)
        if work[iy, ix] < 0.02 * f.max():
            break
        lg = np.log(f[iy - 1 : iy + 2, ix - 1 : ix + 2] + 1e-300)  # Gaussian (log-parabola) refinement
        dy = 0.5 * (lg[0, 1] - lg[2, 1]) / (lg[0, 1] - 2 * lg[1, 1] + lg[2, 1])
        dx = 0.5 * (lg[1, 0] - lg[1, 2]) / (lg[1, 0] - 2 * lg[1, 1] + lg[1, 2])
        peaks.append(np.array([iy + dy - c, ix + dx - c]) / n)
        work[max(iy - 3, 0) : iy + 4, max(ix - 3, 0) : ix + 4] = 0
    return peaks


def measured_period(image):
    """Shortest real-space lattice vector (px) from the two lowest-frequency independent FFT peaks."""
    peaks = sorted(fft_peaks(image), key=lambda k: math.hypot(*k))
    k1 = peaks[0]
    k2 = next(k for k in peaks[1:] if abs(k1[0] * k[1] - k1[1] * k[0]) > 0.2 * math.hypot(*k1) * math.hypot(*k))
    real = np.linalg.inv(np.array([k1, k2])).T  # rows: real-space vectors dual to k1, k2
    return min(math.hypot(*(a * real[0] + b * real[1]))
               for a, b in itertools.product(range(-2, 3), repeat=2) if (a, b) != (0, 0))


def test_quick_suite_builds_with_the_stated_regions():
    shape = (96, 96)
    suite = build_suite(quick=True, shape=shape)
    names = list(dict.fromkeys(c.name for c in suite))
    assert len(names) == 18 and len(suite) == 18 * len(QUICK_PERIODS) * len(QUICK_DOSES)
    assert {c.kind for c in suite} == KINDS
    assert {c.period_px for c in suite} == set(QUICK_PERIODS) and {c.dose for c in suite} == set(QUICK_DOSES)
    assert len({c.key for c in suite}) == len(suite)
    for name in names:  # the doses of one scene and period share the specimen seed
        for p in QUICK_PERIODS:
            assert len({c.seed for c in suite if c.name == name and c.period_px == p}) == 1
    assert next(c for c in suite if c.kind == "control").n_regions == 1
    assert next(c for c in suite if c.kind == "contaminant").n_regions == 3
    for case in suite:  # one period and dose (~0.2 s per case): every scene
        if case.dose != QUICK_DOSES[-1] or case.period_px != 15:
            continue
        res = case.result
        assert res.image.data.shape == shape, case.key
        assert len(np.unique(res.labels.data)) == case.n_regions, case.key
        assert np.all(np.isfinite(res.image.data)) and res.image.data.min() >= 0, case.key
        case.release()
        assert case._result is None


@pytest.mark.parametrize("period", QUICK_PERIODS)
def test_clean_single_crystal_has_the_requested_period(period):
    (case,) = build_suite(periods=(period,), doses=("clean",), shape=(256, 256), kinds=["control"])[:1]
    assert case.name == "single crystal" and case.dose == "clean"
    img = case.result.image.data.astype(float)
    assert measured_period(img) == pytest.approx(period, rel=0.02)
    assert case.result.image.axes_manager[0].scale == pytest.approx(0.39 / period)


def test_suite_is_deterministic_and_checks_its_arguments():
    a = build_suite(periods=(8,), doses=(30,), shape=(64, 64), kinds=["vacuum"])
    b = build_suite(periods=(8,), doses=(30,), shape=(64, 64), kinds=["vacuum"])
    assert [c.key for c in a] == ["particle on vacuum @ 8 px, 30", "thick particle on vacuum @ 8 px, 30"]
    np.testing.assert_array_equal(a[1].result.image.data, b[1].result.image.data)
    # A case is the same specimen whatever else the run holds (its seed comes from the
    # period's value, not its place in the list).
    wider = build_suite(periods=(4, 8), doses=("clean", 30), shape=(64, 64), kinds=["vacuum"])
    same = next(w for w in wider if w.key == a[1].key)
    assert same.seed == a[1].seed
    np.testing.assert_array_equal(same.result.image.data, a[1].result.image.data)
    c = build_suite(periods=(8,), doses=(30,), shape=(64, 64), kinds=["vacuum"], seed=1)
    assert not np.array_equal(a[1].result.image.data, c[1].result.image.data)
    with pytest.raises(ValueError, match="doses must be 'clean' or numbers > 0"):
        build_suite(doses=("dirty",))
    with pytest.raises(ValueError, match="kinds must be among"):
        build_suite(kinds=["nonsense"])
    with pytest.raises(ValueError, match="periods must be numbers > 0"):
        build_suite(periods=(0,))
