"""HRTEM imaging (weak phase object through the CTF) against direct references.

The reference for an isolated column is the Hankel transform of the radially
symmetric transfer function, integrated directly; the renderer computes it on a
padded FFT grid.
"""

import math

import numpy as np
import pytest
from scipy.special import j0

from hyperspy_symseg import simulate as S

PX = 0.02


def hankel_psf(transfer, r, k_max, n=20000):
    """h(r) = 2 pi int_0^inf T(k) J0(2 pi k r) k dk by the trapezoid rule."""
    k = np.linspace(0.0, k_max, n)
    t = transfer(k) * k
    w = np.full(n, k[1] - k[0])
    w[[0, -1]] *= 0.5
    return np.array([2 * np.pi * np.sum(w * t * j0(2 * np.pi * k * ri)) for ri in np.atleast_1d(r)])


def test_transfer_function_formula():
    t = S.HRTEMTransfer(energy=200, defocus=-20.0, cs=0.5, focal_spread=3.0, convergence=0.2, aperture=20.0,
                        column_width=0.06)
    lam = S.electron_wavelength(200)
    k = np.array([0.0, 1.0, 3.0, 5.0, 9.0])
    chi = np.pi * lam * -20.0 * k**2 + 0.5 * np.pi * 0.5e6 * lam**3 * k**4
    e_t = np.exp(-0.5 * (np.pi * lam * 3.0) ** 2 * k**4)
    e_s = np.exp(-((np.pi * 0.2e-3 / lam) ** 2) * (lam * -20.0 * k + 0.5e6 * lam**3 * k**3) ** 2)
    sigma = 0.06 / (2 * math.sqrt(2 * math.log(2)))
    g = np.exp(-2 * np.pi**2 * sigma**2 * k**2)
    ref = np.sin(chi) * e_t * e_s * g * (k <= 20e-3 / lam)
    np.testing.assert_allclose(t.transfer(k), ref, atol=1e-15)
    assert t.transfer(np.array([0.0]))[0] == 0.0  # a weak phase object has no mean contrast
    np.testing.assert_allclose(t.chi(k), chi)


@pytest.mark.parametrize("defocus, cs", [(-6.0, 0.0), (8.0, 0.0), (-10.0, 0.002)])
def test_isolated_column_equals_hankel_reference(defocus, cs):
    probe = S.HRTEMTransfer(defocus=defocus, cs=cs, contrast=0.1)
    n = 81
    c = (n // 2) * PX
    img = S.render_columns([[c, c]], [1.0], (n, n), PX, probe)
    r = np.arange(n // 2 + 1) * PX
    h = hankel_psf(probe.transfer, r, probe._k_limit() * 1.3)
    assert np.abs(h).argmax() == 0  # the extremum is at the column, so max|h| = |h(0)|
    ref = 1.0 + 0.1 * h / abs(h[0])
    np.testing.assert_allclose(img[n // 2, n // 2:], ref, atol=2e-4)
    # radial symmetry of the rendered image
    np.testing.assert_allclose(img[n // 2:, n // 2], img[n // 2, n // 2:], atol=1e-9)


def test_contrast_reversal_with_the_sign_of_defocus():
    lat = S.Lattice.square(0.3)
    scene = S.Scene((96, 96), PX, [S.Region(lat, origin=(0.0, 0.0))])
    under = S.simulate_image(scene, S.HRTEMTransfer(defocus=-6.0), random_state=0).noise_free
    over = S.simulate_image(scene, S.HRTEMTransfer(defocus=6.0), random_state=0).noise_free
    np.testing.assert_allclose(under - 1.0, -(over - 1.0), atol=1e-10)  # exact with cs = 0
    sim = S.simulate_image(scene, S.HRTEMTransfer(defocus=-6.0), random_state=0)
    iy, ix = np.rint(sim.positions[len(sim.positions) // 2] / PX).astype(int)
    assert under[iy, ix] < 0.97 and over[iy, ix] > 1.03  # dark columns in underfocus, bright in overfocus


def test_scherzer_underfocus_gives_dark_columns():
    lam = S.electron_wavelength(300)
    cs = 1.0
    df = -math.sqrt(4 / 3 * cs * 1e6 * lam)  # Scherzer defocus
    probe = S.HRTEMTransfer(energy=300, defocus=df, cs=cs, focal_spread=4.0, convergence=0.1)
    img = S.render_columns([[0.6, 0.6]], [1.0], (61, 61), PX, probe)
    assert img[30, 30] == pytest.approx(1.0 - 0.1, abs=1e-6) and img.max() < 1.0 + 0.1


def test_hrtem_image_mean_is_the_bright_field_and_noise_is_poisson():
    scene = S.Scene((128, 128), PX, [S.Region(S.Lattice.hexagonal(0.3))])
    sim = S.simulate_image(scene, S.HRTEMTransfer(), peak_counts=400, random_state=1)
    assert sim.noise_free.mean() == pytest.approx(400.0, rel=0.01)
    resid = (sim.image.data - sim.noise_free) / np.sqrt(sim.noise_free)
    assert resid.std() == pytest.approx(1.0, abs=0.03)
    assert sim.image.metadata.General.title.startswith("Simulated HRTEM image")
    assert sim.image.metadata.Simulation.probe.type == "HRTEMTransfer"
    assert "HRTEM" in sim.image.metadata.Simulation.model
    assert sim.image.metadata.Acquisition_instrument.TEM.beam_energy == 80.0


def test_hrtem_psf_has_zero_mean_and_bad_input():
    psf = S.HRTEMTransfer().psf((128, 128), PX)
    assert abs(psf.sum()) * PX**2 < 1e-12
    with pytest.raises(ValueError, match="contrast must be > 0"):
        S.HRTEMTransfer(contrast=0.0)
    with pytest.raises(ValueError, match="focal_spread must be >= 0"):
        S.HRTEMTransfer(focal_spread=-1.0)
    with pytest.raises(ValueError, match="aperture must be > 0"):
        S.HRTEMTransfer(aperture=0.0)
    with pytest.raises(TypeError, match="probe must be a GaussianProbe, PhysicalProbe or HRTEMTransfer"):
        S.render_columns([[0, 0]], [1], (8, 8), PX, probe="hrtem")
