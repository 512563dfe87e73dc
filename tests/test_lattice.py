"""Lattice analysis against the forward model's known lattices, brute-force references and bad input."""

import copy
import itertools
import math

import numpy as np
import pytest

from hyperspy_symseg import simulate as S
from hyperspy_symseg.lattice import estimate_lattice, find_lattice, lagrange_reduce, power_spectrum

from conftest import shared_file


def primitive_vectors(lattice: S.Lattice, pixel_size: float) -> np.ndarray:
    """The true primitive cell in px, from the lattice's sites: the shortest translations
    that map the set of (site, intensity) onto itself."""
    vectors = lattice.vectors / pixel_size
    basis = lattice.basis
    candidates = [vectors[0], vectors[1]]
    # Centring translations: differences of sites with equal intensity that map the basis onto itself.
    for i, j in itertools.permutations(range(lattice.n_sites), 2):
        d = basis[j] - basis[i]
        shifted = (basis + d) % 1.0
        same = all(
            any(np.allclose(p, q, atol=1e-9) and np.isclose(a, b) for q, b in zip(basis % 1.0, lattice.intensities))
            for p, a in zip(shifted, lattice.intensities)
        )
        if same:
            candidates.append(d @ vectors)
    best = None
    for a, b in itertools.combinations(candidates, 2):
        area = abs(np.linalg.det(np.array([a, b])))
        if area > 1e-9 and (best is None or area < best[0] - 1e-9):
            best = (area, np.array([a, b]))
    return lagrange_reduce(best[1])


def same_lattice_errors(found: np.ndarray, true: np.ndarray) -> tuple[float, float]:
    """(max relative length error, max angle error in degrees) between two reduced bases,
    after matching each found vector to the nearest lattice vector of the same length."""
    length_error, angle_error = 0.0, 0.0
    for v in found:
        best = None
        for m, n in itertools.product(range(-2, 3), repeat=2):
            t = m * true[0] + n * true[1]
            if not np.any(t):
                continue
            for sign in (1, -1):
                d = np.linalg.norm(v - sign * t)
                if best is None or d < best[0]:
                    best = (d, sign * t)
        t = best[1]
        length_error = max(length_error, abs(np.linalg.norm(v) / np.linalg.norm(t) - 1))
        cos = np.clip(v @ t / (np.linalg.norm(v) * np.linalg.norm(t)), -1, 1)
        angle_error = max(angle_error, math.degrees(math.acos(cos)))
    return length_error, angle_error


LATTICES = {
    "square": lambda: S.Lattice.square(0.36, rotation=7.0),
    "rectangular": lambda: S.Lattice.rectangular(0.30, 0.42, rotation=-12.0),
    "hexagonal": lambda: S.Lattice.hexagonal(0.30, rotation=10.0),
    "honeycomb": lambda: S.Lattice.honeycomb(0.246, rotation=3.0, intensities=(1.0, 1.0)),
    "perovskite": lambda: S.Lattice.perovskite_001(0.39, rotation=20.0),
    "dumbbell": lambda: S.Lattice.dumbbell_110(0.543, rotation=5.0),
}


def crystal(lattice, period_px, counts=30.0, shape=(384, 384), seed=1, negate=False):
    """A single crystal with the longer primitive vector ``period_px`` long, at ``counts``."""
    true_nm = primitive_vectors(lattice, 1.0)
    pixel_size = float(np.linalg.norm(true_nm, axis=1).max()) / period_px
    probe = S.GaussianProbe(fwhm=0.35 * lattice.nearest_neighbour_distance())
    scene = S.Scene(shape, pixel_size, [S.Region(lattice)])
    sim = S.simulate_image(scene, probe, peak_counts=counts, scan_noise=S.ScanNoise(sigma=0.2 * pixel_size),
                           background=[S.ConstantBackground(0.05)], random_state=seed)
    image = sim.image.data.astype(np.float64)
    return (-image if negate else image), primitive_vectors(lattice, pixel_size), lattice.nearest_neighbour_distance() / pixel_size


@pytest.mark.parametrize("name", sorted(LATTICES))
@pytest.mark.parametrize("period", [4, 8, 15, 25, 40])
def test_known_lattices_at_30_counts(name, period):
    shape = (512, 512) if period >= 25 else (256, 256) if period <= 8 else (384, 384)
    image, true, _ = crystal(LATTICES[name](), period, shape=shape)
    result = find_lattice(image)
    assert result.found and len(result.lattices) == 1
    length_error, angle_error = same_lattice_errors(result.vectors, true)
    assert length_error <= 0.01, (result.vectors, true)
    assert angle_error <= 1.0
    assert 60.0 - 1e-6 <= result.angle_deg <= 90.0 + 1e-6
    assert result.quality > 0.3


@pytest.mark.parametrize("name", ["hexagonal", "perovskite"])
def test_hrtem_contrast_and_8_counts(name):
    """Contrast reversal (dark columns) and 8 counts at a column peak give the same lattice."""
    image, true, _ = crystal(LATTICES[name](), 12, counts=8.0, negate=True)
    result = find_lattice(image)
    length_error, angle_error = same_lattice_errors(result.vectors, true)
    assert length_error <= 0.01 and angle_error <= 1.0


def test_radial_peak_is_a_d_spacing_not_the_lattice_vector():
    """Hexagonal a = 14 px: the strongest FFT ring is at d = 12.1 px, the lattice vector is 14 px."""
    lattice = S.Lattice.hexagonal(0.28)
    scene = S.Scene((256, 256), 0.02, [S.Region(lattice)])
    sim = S.simulate_image(scene, S.GaussianProbe(0.09), random_state=0)
    result = find_lattice(sim.image.data)
    np.testing.assert_allclose(result.lengths_px, [14.0, 14.0], rtol=2e-3)
    spectrum = power_spectrum(sim.image.data)
    ky, kx = np.fft.fftfreq(256), np.fft.fftfreq(256)
    k = np.hypot(ky[:, None], kx[None, :])
    spectrum[k < 0.02] = 0
    assert 1 / k.ravel()[np.argmax(spectrum)] == pytest.approx(14 * math.sqrt(3) / 2, rel=0.03)


@pytest.mark.parametrize("name,expected", [("honeycomb", 1 / math.sqrt(3)), ("perovskite", 1 / math.sqrt(2))])
def test_min_separation_is_shorter_than_the_cell(name, expected):
    image, true, nn = crystal(LATTICES[name](), 20, counts=100.0)
    result = find_lattice(image)
    a = np.linalg.norm(true, axis=1).min()
    assert result.min_separation_px == pytest.approx(expected * a, rel=0.06)
    assert result.min_separation_px == pytest.approx(nn, rel=0.06)


@pytest.mark.parametrize("seed", range(3))
def test_no_lattice_in_noise_vacuum_or_amorphous(seed):
    rng = np.random.default_rng(seed)
    assert not find_lattice(rng.normal(size=(384, 384))).found
    assert not find_lattice(rng.poisson(2.0, size=(384, 384)).astype(float)).found
    scene = S.Scene((384, 384), 0.02, [S.Region(S.Amorphous())])
    amorphous = S.simulate_image(scene, S.GaussianProbe(0.09), peak_counts=30, random_state=seed).image.data
    result = find_lattice(amorphous)
    assert not result.found and result.quality < 0.02
    with pytest.raises(ValueError, match="no lattice was found"):
        result.vectors


def test_two_grains_give_two_lattices_and_vacuum_the_particle():
    sim = S.two_grain_image(random_state=0)  # hexagonal a = 0.3 nm, rotated 5 and 27 degrees
    result = estimate_lattice(sim.image)
    assert len(result.lattices) == 2
    assert sorted(round(lat.share, 1) for lat in result.lattices) == [0.5, 0.5]
    orientations = sorted(lat.orientation_deg % 60 for lat in result.lattices)
    np.testing.assert_allclose(orientations, [5.0, 27.0], atol=0.5)
    np.testing.assert_allclose(result.lengths, [0.3, 0.3], rtol=2e-3)
    assert result.units == "nm"
    particle = estimate_lattice(S.particle_on_vacuum(random_state=0, peak_counts=8).image)
    assert len(particle.lattices) == 1
    np.testing.assert_allclose(particle.lengths, [0.28, 0.28], rtol=3e-3)


def test_one_dimensional_fringes():
    y, x = np.mgrid[:256, :256]
    fringes = np.cos(2 * np.pi * (x * math.cos(0.3) + y * math.sin(0.3)) / 9.0)
    fringes += 0.2 * np.random.default_rng(0).normal(size=fringes.shape)
    result = find_lattice(fringes)
    assert len(result.lattices) == 1 and not result.lattices[0].is_2d
    assert result.lattices[0].lengths_px[0] == pytest.approx(9.0, rel=5e-3)
    assert math.isnan(result.angle_deg)


def test_lagrange_reduce_matches_brute_force():
    rng = np.random.default_rng(4)
    for _ in range(50):
        angle = rng.uniform(0, 2 * np.pi)
        opening = rng.uniform(np.pi / 3, np.pi / 2)
        lengths = sorted(rng.uniform(2, 10, 2))
        basis = np.array([[np.sin(angle), np.cos(angle)], [np.sin(angle + opening), np.cos(angle + opening)]])
        basis = basis * np.array(lengths)[:, None]
        skew = np.array([[1, rng.integers(-4, 5)], [0, 1]]) @ np.array([[1, 0], [rng.integers(-4, 5), 1]])
        vectors = skew @ basis
        reduced = lagrange_reduce(vectors)
        # Brute force: the shortest lattice vector and the shortest one independent of it.
        points = [m * basis[0] + n * basis[1] for m, n in itertools.product(range(-30, 31), repeat=2) if m or n]
        lengths = sorted(np.linalg.norm(p) for p in points)
        assert np.linalg.norm(reduced[0]) == pytest.approx(lengths[0])
        first = reduced[0] / np.linalg.norm(reduced[0])
        second = min(np.linalg.norm(p) for p in points if abs(first[0] * p[1] - first[1] * p[0]) > 1e-9 * np.linalg.norm(p))
        assert np.linalg.norm(reduced[1]) == pytest.approx(second)
        assert abs(np.linalg.det(reduced)) == pytest.approx(abs(np.linalg.det(basis)))
        assert reduced[0] @ reduced[1] >= -1e-9


def test_bad_input_and_the_input_is_not_modified():
    image, _, _ = crystal(LATTICES["square"](), 10, shape=(128, 128))
    before = image.copy()
    find_lattice(image)
    np.testing.assert_array_equal(image, before)
    with pytest.raises(ValueError, match="at least 32 x 32"):
        find_lattice(np.zeros((16, 200)))
    with pytest.raises(ValueError, match="2D array"):
        find_lattice(np.zeros((3, 64, 64)))
    with pytest.raises(ValueError, match="NaN"):
        find_lattice(np.full((64, 64), np.nan))
    with pytest.raises(TypeError, match="real numbers"):
        find_lattice(np.zeros((64, 64), dtype=complex))


def test_estimate_lattice_on_a_stack_frame_and_lazy():
    import hyperspy.api as hs

    image, true, _ = crystal(LATTICES["hexagonal"](), 12, shape=(128, 128))
    stack = hs.signals.Signal2D(np.stack([np.zeros_like(image) + 1.0, image]))
    assert not estimate_lattice(stack, frame=0).found
    assert estimate_lattice(stack, frame=1).found
    lazy = estimate_lattice(stack.as_lazy(), frame=1)
    np.testing.assert_allclose(lazy.vectors, estimate_lattice(stack, frame=1).vectors)
    assert lazy.units == "px"
    with pytest.raises(ValueError, match=r"frame must be an integer in \[0, 1\]"):
        estimate_lattice(stack, frame=2)


def test_real_single_crystal_srtio3():
    """SrTiO3 [001] HAADF at 0.01 nm/px: a = 0.3905 nm, B-site column at the cell centre."""
    import hyperspy.api as hs

    s = hs.load(shared_file("real/openncem_16_STOimage.emi"))
    s = s[0] if isinstance(s, list) else s
    result = estimate_lattice(s)
    assert len(result.lattices) == 1
    np.testing.assert_allclose(result.lengths, [0.3905, 0.3905], rtol=0.04)
    assert result.angle_deg == pytest.approx(90.0, abs=2.0)
    assert result.min_separation_px == pytest.approx(np.mean(result.lengths_px) / math.sqrt(2), rel=0.05)


@pytest.mark.parametrize("name", ["2013_1215_TEAMpt5_GBteather_TS_001_layer_0002", "2015_0110_GrGB_FS_004_layer_0027"])
def test_weak_second_graphene_grain_is_found(name):
    """A second grain of weak contrast (2-5 % of the first one's Bragg power) is a lattice too."""
    from PIL import Image

    path = shared_file(f"real/graphene_unet_labelled/{name}.png")
    image = np.asarray(Image.open(path).convert("L"), dtype=np.float64)
    result = find_lattice(image)
    assert len(result.lattices) == 2
    a, b = result.lattices
    assert 0.01 < b.share < 0.1
    np.testing.assert_allclose(np.linalg.norm(b.vectors, axis=1), np.linalg.norm(a.vectors, axis=1), rtol=0.03)
    turn = (a.orientation_deg - b.orientation_deg) % 60
    assert 5 < turn < 55  # another orientation, not a harmonic or a streak of the first


# ------------------------------------------------- the fast paths against their slow references


def _best_basis_reference(peaks, explained, max_period, rejected=(), n_candidates=14):
    """:func:`_lattice_indexing._best_basis` as it was: the candidates reduced and scored one at a time."""
    from hyperspy_symseg import _lattice_indexing as li

    idx = np.concatenate([np.flatnonzero(~explained)[:n_candidates], np.flatnonzero(explained)[:6]])
    if np.count_nonzero(~explained) == 0:
        return None
    k_av = peaks.k
    w_av = peaks.excess * ~explained
    tolerance = li.INDEX_TOLERANCE * peaks.bin_size
    cand = np.concatenate([peaks.k[idx], -peaks.k[idx]])
    i, j = np.triu_indices(len(cand), 1)
    bases = np.stack([cand[i], cand[j]], axis=1)
    det = np.abs(np.linalg.det(bases))
    scale = np.maximum(np.linalg.norm(cand[i], axis=1), np.linalg.norm(cand[j], axis=1))
    good = det >= 2.0 * tolerance * scale
    if not good.any():
        return None
    bases, det = bases[good], det[good]
    hk = np.rint(k_av[None, :, :] @ np.linalg.inv(bases))
    fit = hk @ bases
    residual = np.linalg.norm(k_av[None] - fit, axis=2)
    order = np.abs(hk).max(axis=2)
    ok = (residual <= tolerance + li.RELATIVE_TOLERANCE * np.linalg.norm(fit, axis=2)) & (order <= li.MAX_ORDER) & (order > 0)
    score = (ok * w_av[None, :]).sum(axis=1) / float(w_av.sum())
    keep = np.flatnonzero(score >= li.OCCUPANCY_SHARE * score.max()) if score.max() > 0 else np.array([], int)
    best_key, best_basis = None, None
    for p in keep:
        basis = li._reduce_reciprocal(bases[p])
        if np.linalg.norm(np.linalg.inv(basis).T, axis=1).max() > max_period:
            continue
        if any(np.allclose(basis, r) for r in rejected):
            continue
        occupancy = int((peaks.ratio_at(li._LOW_ORDERS[:4] @ basis) >= peaks.threshold).sum())
        key = (occupancy, score[p] >= li.SCORE_TOLERANCE * score.max(), det[p])
        if best_key is None or key > best_key:
            best_key, best_basis = key, basis
    return best_basis


def _lattice_calls(monkeypatch, module, name, images):
    """The arguments and results of every call of ``module.name`` while finding the lattices of ``images``."""
    calls = []
    original = getattr(module, name)

    def spy(*args, **kwargs):
        saved = copy.deepcopy((args, kwargs))  # the caller updates its arrays afterwards
        out = original(*args, **kwargs)
        calls.append(saved + (copy.deepcopy(out),))
        return out

    monkeypatch.setattr(module, name, spy)
    for image in images:
        find_lattice(image)
    monkeypatch.setattr(module, name, original)
    return calls


def test_best_basis_equals_one_candidate_at_a_time(monkeypatch):
    """The vectorised candidate scoring returns the very basis the one-at-a-time loop does.

    Two grains, a triple junction (previously rejected bases in play) and a noisy crystal.
    """
    from hyperspy_symseg import lattice as lattice_module

    images = [S.two_grain_image(shape=(256, 256), random_state=0).image.data,
              crystal(LATTICES["honeycomb"](), 8, counts=8.0, shape=(256, 256))[0]]
    images.append(S.triple_junction((256, 256), period_px=8, random_state=0, peak_counts=8).image.data)
    calls = _lattice_calls(monkeypatch, lattice_module, "_best_basis", images)
    assert len(calls) >= 5
    with_rejected = 0
    for args, kwargs, out in calls:
        ref = _best_basis_reference(*args, **kwargs)
        with_rejected += bool(len(args[3]))
        assert (out is None and ref is None) or np.array_equal(out, ref)
        if out is not None:
            assert out.shape == (2, 2) and np.all(np.isfinite(out))
    assert with_rejected >= 1


def _zoom_reference(image, corners, shape, k, step=0.25, n=5):
    """:func:`_lattice_spectrum._zoom` one peak and one tile product at a time."""
    from hyperspy_symseg._lattice_spectrum import _hann, _parabola_vertex

    h, w = shape
    taper = np.outer(_hann(h), _hann(w)).astype(np.float32)
    yy, xx = np.arange(h), np.arange(w)
    offsets = (np.arange(n) - n // 2) * step
    out = np.array(k, dtype=np.float64, copy=True)
    blocks = []
    for y, x in corners[:4]:
        block = image[y:y + h, x:x + w].astype(np.float32)
        blocks.append((block - block.mean()) * taper)
    for p in range(len(out)):
        for _ in range(2):
            ky = out[p, 0] + offsets / h
            kx = out[p, 1] + offsets / w
            ey = np.exp(-2j * np.pi * np.outer(ky, yy)).astype(np.complex64)
            ex = np.exp(-2j * np.pi * np.outer(xx, kx)).astype(np.complex64)
            power = sum(np.abs(ey @ (b @ ex)) ** 2 for b in blocks)
            i, j = np.unravel_index(np.argmax(power), power.shape)
            i, j = min(max(i, 1), n - 2), min(max(j, 1), n - 2)
            logs = np.log(np.maximum(power[i - 1:i + 2, j - 1:j + 2].astype(np.float64), 1e-300))
            out[p, 0] = ky[i] + _parabola_vertex(logs[0, 1], logs[1, 1], logs[2, 1]) * step / h
            out[p, 1] = kx[j] + _parabola_vertex(logs[1, 0], logs[1, 1], logs[1, 2]) * step / w
    return out


def test_zoom_equals_one_peak_at_a_time(monkeypatch):
    """The fine-grid refinement (all peaks in one product per tile) equals the per-peak loop, one and four tiles."""
    from hyperspy_symseg import _lattice_indexing as li
    from hyperspy_symseg._threading import single_threaded_blas

    images = [crystal(LATTICES["square"](), 15, shape=(256, 256))[0],
              S.two_grain_image(shape=(768, 768), random_state=1).image.data]
    calls = _lattice_calls(monkeypatch, li, "_zoom", images)
    assert {len(args[1]) for args, _, _ in calls} >= {1, 4}
    for args, kwargs, out in calls:
        with single_threaded_blas():
            ref = _zoom_reference(*args, **kwargs)
        np.testing.assert_array_equal(out, ref)
    image, corners, shape = calls[0][0][:3]
    assert li._zoom(image, corners, shape, np.zeros((0, 2))).shape == (0, 2)


def test_a_streaked_bragg_peak_is_no_second_lattice():
    """An intensity step along an interface streaks every Bragg peak; a peak plus a point
    of its streak once indexed as a cell (15, 124 px), which set the window to 124 px."""
    import sys
    from pathlib import Path

    from hyperspy_symseg._lattice_indexing import _modulation

    a = np.array([[0.0, 15.0], [13.0, 7.5]])
    assert _modulation(np.array([[0.0, 15.0], [124.0, 3.0]]), a)
    assert _modulation(np.array([[124.0, 3.0], [-13.0, -7.5]]), a)  # either vector, either sign
    assert not _modulation(np.array([[0.0, 15.0], [30.0, 0.0]]), a)  # a 2x superstructure is kept
    assert not _modulation(np.array([[0.0, 19.0], [124.0, 3.0]]), a)  # no shared vector: another cell
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
    from _suite import build_suite

    case = next(c for c in build_suite(periods=[15.0], doses=[100.0], kinds=["phases"])
                if c.name == "interface with intensity step")
    result = estimate_lattice(case.result.image)
    assert len(result.lattices) == 1
    np.testing.assert_allclose(result.lattices[0].lengths_px, [15.0, 15.0], rtol=3e-3)


def test_a_false_supercell_is_reduced_to_the_true_cell():
    """Unit test of the rule: a reciprocal row whose every n-th line alone carries the
    lattice's power is a supercell; a real superstructure (its extra lines carry a few per
    cent) is kept."""
    from hyperspy_symseg._lattice_indexing import SUPERCELL_SHARE, coarsest_reciprocal

    true = np.array([[1 / 40, 0.0], [0.0, 1 / 40]])
    fine = true.copy()
    fine[1] /= 3  # b2 one third as long: a 40 x 120 px cell in real space
    hk_true = np.array([(h, k) for h in range(-2, 3) for k in range(-2, 3) if (h, k) != (0, 0)])
    hk = hk_true * np.array([1, 3])
    power = np.linspace(1.0, 2.0, len(hk))
    np.testing.assert_allclose(coarsest_reciprocal(fine, hk, power), true)
    # stray power off every third line, below the share: still the true cell
    stray = np.vstack([hk, [[0, 1], [1, 2]]])
    np.testing.assert_allclose(coarsest_reciprocal(fine, stray, np.r_[power, 0.4 * SUPERCELL_SHARE * power.sum(),
                                                                     0.4 * SUPERCELL_SHARE * power.sum()]), true)
    # a superstructure: its half-order lines carry 5 %
    assert coarsest_reciprocal(fine, stray, np.r_[power, [0.05 * power.sum()] * 2]) is None
    assert coarsest_reciprocal(true, hk_true, power) is None  # already the coarsest
    # too few reflections on the coarser lines to say
    assert coarsest_reciprocal(fine, np.array([[1, 0], [0, 3], [1, 3]]), np.ones(3)) is None


def test_triple_junction_at_40_px_is_no_supercell():
    """Three grains of one square lattice at 40 px per period: the stray peaks of two
    grains once made the third a (40, 120) px cell, and the automatic patch followed it."""
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
    from _suite import build_suite

    case = next(c for c in build_suite(periods=[40.0], doses=["clean"], kinds=["grains"])
                if c.name == "triple junction")
    result = find_lattice(case.result.image)
    assert len(result.lattices) >= 2
    for lat in result.lattices:
        np.testing.assert_allclose(lat.lengths_px, [40.0, 40.0], rtol=0.03)
