"""Lattice non-local means: a brute-force reference, defects kept, signal class and lazy equals eager."""

import math

import numpy as np
import pytest

from hyperspy_symseg import simulate as S
from hyperspy_symseg.atom_columns import denoise
from hyperspy_symseg.columns import _denoise

PX = 0.02


def keys(x):
    x = abs(x)
    a = -0.5
    if x <= 1:
        return (a + 2) * x**3 - (a + 3) * x**2 + 1
    if x < 2:
        return a * x**3 - 5 * a * x**2 + 8 * a * x - 4 * a
    return 0.0


def reference_nlm(data, translations, r, h, mf_sigma=0.0, c=4.0):
    """Obviously-correct loops: cubic resampling, patch distances, matched filter, weights."""
    g = _denoise.anscombe(data)
    ny, nx = data.shape
    num = data.astype(float).copy()
    den = np.ones_like(num)
    for ty, tx in translations:
        iy, ix = math.floor(ty), math.floor(tx)
        fy, fx = ty - iy, tx - ix
        sg = np.full((ny, nx), np.nan)
        sd = np.full((ny, nx), np.nan)
        for i in range(ny):
            for j in range(nx):
                si, sj = i + iy, j + ix
                if si - 1 < 0 or si + 2 > ny - 1 or sj - 1 < 0 or sj + 2 > nx - 1:
                    continue
                vg = vd = 0.0
                for a in range(4):
                    for b in range(4):
                        w = keys(a - 1 - fy) * keys(b - 1 - fx)
                        vg += w * g[si - 1 + a, sj - 1 + b]
                        vd += w * data[si - 1 + a, sj - 1 + b]
                sg[i, j], sd[i, j] = vg, vd
        e = np.nan_to_num(g - sg, nan=0.0)
        if mf_sigma > 0:
            rm = int(math.ceil(3 * mf_sigma))
            k1 = np.exp(-0.5 * (np.arange(-rm, rm + 1) / mf_sigma) ** 2)
            k2 = np.outer(k1 / k1.sum(), k1 / k1.sum())
            ep = np.pad(e, rm)
            m = np.array([[np.sum(k2 * ep[i:i + 2 * rm + 1, j:j + 2 * rm + 1]) for j in range(nx)] for i in range(ny)])
            m /= math.sqrt(2 * np.sum(k2**2))
        for i in range(ny):
            for j in range(nx):
                if not np.isfinite(sd[i, j]) or i < r or j < r or i >= ny - r or j >= nx - r:
                    continue
                dg = (g[i - r:i + r + 1, j - r:j + r + 1] - sg[i - r:i + r + 1, j - r:j + r + 1]) ** 2
                if not np.all(np.isfinite(dg)):
                    continue
                w = math.exp(-max(dg.mean() - 2.0, 0.0) / h**2)
                if mf_sigma > 0:
                    w *= math.exp(-max(m[i, j] ** 2 - c, 0.0))
                num[i, j] += w * sd[i, j]
                den[i, j] += w
    return num / den


def test_kernel_equals_brute_force():
    rng = np.random.default_rng(0)
    data = rng.poisson(5.0 + 4.0 * np.sin(np.arange(24)[:, None] / 2.0) ** 2, (24, 30)).astype(float)
    t = np.array([[2.3, -1.6], [-2.3, 1.6], [0.0, 3.0], [4.0, 0.0]])
    got = _denoise.lattice_nlm(data, t, patch_radius=2, h=0.8)
    np.testing.assert_allclose(got, reference_nlm(data, t, 2, 0.8), rtol=1e-12, atol=1e-12)
    got = _denoise.lattice_nlm(data, t, patch_radius=2, h=0.8, column_sigma=1.2, mf_threshold=1.0)
    ref = reference_nlm(data, t, 2, 0.8, mf_sigma=1.2, c=1.0)
    np.testing.assert_allclose(got, ref, rtol=1e-12, atol=1e-12)
    assert np.abs(ref - reference_nlm(data, t, 2, 0.8)).max() > 1e-3  # the matched filter matters here


def test_translations_from_vectors():
    v = np.array([[0.0, 10.0], [8.66, 5.0]])
    t = _denoise.translations_from_vectors(v, 21.0, n_max=12)
    assert len(t) == 12
    lengths = np.hypot(t[:, 0], t[:, 1])
    assert np.all(np.diff(np.round(lengths, 6)) >= 0) and lengths.max() <= 21.0
    # both signs of every translation
    assert all(np.any(np.all(np.isclose(t, -u), axis=1)) for u in t)
    one_d = _denoise.translations_from_vectors(np.array([[0.0, 7.0], [np.nan, np.nan]]), 30.0, 8)
    np.testing.assert_allclose(np.sort(one_d[:, 1]), [-28, -21, -14, -7, 7, 14, 21, 28])


def crystal_with_vacancy(counts, seed):
    """Hexagonal crystal (15 px, sigma 1.9 px) with a few vacancies; noisy, clean and perfect images."""
    rng = np.random.default_rng(seed)
    scene = S.Scene((160, 160), PX, [S.Region(S.Lattice.hexagonal(15 * PX, rotation=7.0), origin=(0.01, 0.02))])
    pos = scene.columns(margin=1.0).positions
    centre = np.array([80, 80]) * PX
    order = np.argsort(np.hypot(*(pos - centre).T))
    vac = order[[0, 9, 20]]  # three vacancies near the centre, not neighbours of each other
    keep = np.ones(len(pos), bool)
    keep[vac] = False
    probe = S.GaussianProbe(fwhm=1.9 * PX * 2.3548)
    clean = (S.render_columns(pos[keep], np.ones(keep.sum()), (160, 160), PX, probe) + 0.1) * counts
    perfect = (S.render_columns(pos, np.ones(len(pos)), (160, 160), PX, probe) + 0.1) * counts
    noisy = rng.poisson(clean).astype(float)
    return noisy, clean, perfect, pos[vac] / PX


def site_mean(img, sites, radius=1.5):
    yy, xx = np.mgrid[: img.shape[0], : img.shape[1]]
    return np.array([img[(yy - y) ** 2 + (xx - x) ** 2 <= radius**2].mean() for y, x in sites])


def test_vacancy_survives_and_noise_drops():
    import hyperspy.api as hs

    noisy, clean, perfect, vac = crystal_with_vacancy(30, seed=1)
    out = denoise(hs.signals.Signal2D(noisy)).data
    true_contrast = site_mean(perfect, vac) - site_mean(clean, vac)
    kept = site_mean(perfect, vac) - site_mean(out, vac)
    assert np.sum(kept) >= 0.9 * np.sum(true_contrast)
    rmse_noisy = np.sqrt(np.mean((noisy - clean) ** 2))
    rmse_out = np.sqrt(np.mean((out - clean) ** 2))
    assert 20 * np.log10(rmse_noisy / rmse_out) > 5.0  # dB gained (160 px: translations up to 40 px)
    # a plain lattice average (weights all 1) paints the vacancies over
    lattice_avg = _denoise.lattice_nlm(noisy, _denoise.translations_from_vectors(
        np.array([[0.0, 15.0], [-12.99, 7.5]]) @ np.array([[np.cos(np.radians(7)), -np.sin(np.radians(7))],
                                                           [np.sin(np.radians(7)), np.cos(np.radians(7))]]).T,
        60.0, 48), h=1e6)
    assert np.sum(site_mean(perfect, vac) - site_mean(lattice_avg, vac)) < 0.5 * np.sum(true_contrast)


@pytest.fixture(scope="module")
def grains():
    return S.two_grain_image(shape=(192, 192), peak_counts=20, random_state=2)


def test_same_class_axes_metadata_and_lazy_equals_eager(grains):
    s = grains.image
    before = s.data.copy()
    out = denoise(s)
    assert type(out) is type(s)
    assert out.data.shape == s.data.shape and out.data.dtype == np.float32
    for a, b in zip(out.axes_manager.signal_axes, s.axes_manager.signal_axes):
        assert (a.scale, a.offset, a.units, a.name) == (b.scale, b.offset, b.units, b.name)
    assert out.metadata.General.title == s.metadata.General.title
    assert out.metadata.Processing.denoise.method == "lattice_nlm"
    np.testing.assert_array_equal(s.data, before)
    lazy_in = s.as_lazy()
    lazy_in.data = lazy_in.data.rechunk((64, 64))
    lazy = denoise(lazy_in)
    assert lazy._lazy
    np.testing.assert_array_equal(lazy.data.compute(), out.data)


def test_series_uses_the_same_translations(grains):
    import hyperspy.api as hs

    stack = hs.stack([grains.image, grains.image], show_progressbar=False)
    out = denoise(stack)
    np.testing.assert_array_equal(out.data[0], out.data[1])
    np.testing.assert_array_equal(out.data[0], denoise(grains.image).data)


def test_no_lattice_and_bad_parameters(grains):
    import hyperspy.api as hs

    rng = np.random.default_rng(0)
    with pytest.raises(ValueError, match="holds no lattice"):
        denoise(hs.signals.Signal2D(rng.poisson(5.0, (128, 128)).astype(float)))
    with pytest.raises(ValueError, match="method must be one of"):
        denoise(grains.image, "median")
    with pytest.raises(ValueError, match="h must be a finite number > 0"):
        denoise(grains.image, h=0)
    with pytest.raises(ValueError, match="patch_radius must be an integer in"):
        denoise(grains.image, patch_radius=0)
    with pytest.raises(ValueError, match="translations must be a finite"):
        denoise(grains.image, translations=[1.0, 2.0])
    with pytest.raises(ValueError, match="lattice_vectors must be linearly independent"):
        denoise(grains.image, lattice_vectors=[[0.0, 15.0], [0.0, 30.0]])
    with pytest.raises(ValueError, match="at most one of translations and lattice_vectors"):
        denoise(grains.image, translations=[[0.0, 15.0]], lattice_vectors=[[0.0, 15.0], [13.0, 7.5]])
    with pytest.raises(TypeError, match="signal must be a HyperSpy signal"):
        denoise(np.zeros((32, 32)))
