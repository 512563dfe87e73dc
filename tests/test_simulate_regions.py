"""Forward model: thickness maps, diffuse levels, overlay regions, lattice periods and the probe rule.

Each feature is compared with a slow, obviously correct reference: the formula of
the thickness map at the column positions, a direct Gaussian sum, a Gaussian blur
of the region mask by scipy.ndimage, the union of two separately built column sets,
brute-force search of lattice translations and the FFT peak of a rendered lattice.
"""

import math

import numpy as np
import pytest
from scipy import ndimage
from scipy.spatial import cKDTree

from hyperspy_symseg import simulate as S

PX = 0.02


def direct_gaussians(positions, intensities, y, x, sigma):
    out = np.zeros(np.broadcast_shapes(np.shape(y), np.shape(x)))
    for (py, pxx), i in zip(positions, intensities):
        out += i * np.exp(-((y - py) ** 2 + (x - pxx) ** 2) / (2 * sigma**2))
    return out


def clean(scene, probe=None, **kw):
    return S.simulate_image(scene, probe or S.GaussianProbe(0.08), **kw)


# --------------------------------------------------------------------------- #
# thickness
# --------------------------------------------------------------------------- #
def test_wedge_and_dome_formulas():
    w = S.WedgeThickness(angle=90.0, slope=0.5, level=1.0, minimum=0.2)
    y = np.array([-1.0, 0.0, 1.0, 3.0])  # angle 90: rises toward -y (up, as displayed)
    np.testing.assert_allclose(w(y, 0.0), np.maximum(0.2, 1.0 - 0.5 * y))
    d = S.DomeThickness(center=(0.5, -0.5), radius=2.0, minimum=0.25)
    r = np.array([0.0, 1.0, 2.0, 3.0])
    np.testing.assert_allclose(d(0.5 + r, -0.5), 0.25 + 0.75 * np.sqrt(np.clip(1 - (r / 2) ** 2, 0, None)))


def test_thickness_multiplies_column_intensities():
    lat = S.Lattice.square(0.3, intensities=(0.8,))
    wedge = S.WedgeThickness(angle=0.0, slope=0.2, level=1.0, minimum=0.1)
    scene = S.Scene((96, 96), PX, [S.Region(lat, origin=(0.0, 0.0), thickness=wedge)])
    sim = clean(scene, random_state=0)
    cy, cx = scene.center
    p = sim.true_positions
    np.testing.assert_allclose(sim.column_intensities, 0.8 * wedge(p[:, 0] - cy, p[:, 1] - cx), rtol=1e-12)
    assert sim.column_intensities.max() > 1.2 * sim.column_intensities.min()
    # a callable with the same formula gives the same image; a number scales every column
    same = S.Scene((96, 96), PX, [S.Region(lat, origin=(0.0, 0.0), thickness=lambda y, x: wedge.evaluate(y, x))])
    np.testing.assert_array_equal(clean(same, random_state=0).image.data, sim.image.data)
    half = S.Scene((96, 96), PX, [S.Region(lat, origin=(0.0, 0.0), thickness=0.5)])
    np.testing.assert_allclose(clean(half, random_state=0).column_intensities, 0.4)


def test_thickness_image_equals_direct_gaussian_sum():
    lat = S.Lattice.hexagonal(0.35)
    dome = S.DomeThickness(radius=0.8, minimum=0.3)
    scene = S.Scene((80, 80), PX, [S.Region(lat, origin=(0.05, 0.02), thickness=dome)])
    probe = S.GaussianProbe(0.1)
    sim = clean(scene, probe, random_state=0)
    y = np.arange(80)[:, None] * PX
    x = np.arange(80)[None, :] * PX
    cols = scene.resolved(0).columns(margin=1.0)
    ref = direct_gaussians(cols.positions, cols.intensities, y, x, probe.sigma)
    np.testing.assert_allclose(sim.noise_free, ref, atol=1e-5)
    # the centre column is full height, the rim ones at ~minimum
    assert sim.column_intensities.max() == pytest.approx(1.0, abs=0.05)


# --------------------------------------------------------------------------- #
# diffuse level
# --------------------------------------------------------------------------- #
def test_level_is_the_region_mask_blurred_by_the_probe():
    shape = (120, 120)
    ell = S.Ellipse((0.1, -0.2), (0.7, 0.45), 25.0)
    scene = S.Scene(shape, PX, [S.Region(None), S.Region(None, ell, name="blob", level=0.6)])
    probe = S.GaussianProbe(0.09)
    sim = clean(scene, probe, random_state=0)
    mask = scene.label_image() == 1
    sigma_px = math.hypot(probe.sigma / PX, 0.7)  # probe and the 0.7 px anti-aliasing blur
    ref = 0.6 * ndimage.gaussian_filter(mask.astype(float), sigma_px, mode="constant", truncate=10.0)
    np.testing.assert_allclose(sim.noise_free, ref, atol=1e-6)
    assert sim.noise_free[mask].max() == pytest.approx(0.6, abs=1e-6)


def test_level_follows_thickness_and_adds_to_columns():
    lat = S.Lattice.square(0.3)
    dome = S.DomeThickness(radius=1.5, minimum=0.2)
    scene = S.Scene((128, 128), PX, [S.Region(S.Vacuum()),
                                      S.Region(lat, S.Ellipse((0, 0), (1.0, 1.0)), thickness=dome, level=0.5)])
    with_level = clean(scene, random_state=0).noise_free
    no_level = clean(S.Scene((128, 128), PX, [S.Region(S.Vacuum()),
                                              S.Region(lat, S.Ellipse((0, 0), (1.0, 1.0)), thickness=dome)]),
                     random_state=0).noise_free
    diffuse = with_level - no_level
    c = 63  # centre pixel: thickness ~1 -> level 0.5; 0.9 nm off centre -> 0.5 * dome(0.9)
    assert diffuse[c, c] == pytest.approx(0.5, abs=2e-3)
    off = c + int(round(0.9 / PX))
    assert diffuse[c, off] == pytest.approx(0.5 * float(dome(0.0, (off - 63.5) * PX)), abs=0.02)
    assert abs(diffuse[0, 0]) < 1e-9  # vacuum far from the region


# --------------------------------------------------------------------------- #
# overlay regions
# --------------------------------------------------------------------------- #
def overlay_scene(transmission, overlay=True):
    lat = S.Lattice.hexagonal(0.3)
    am = S.Amorphous(density=10.0, min_distance=0.15, intensity=(0.5, 0.9), seed=3)
    patch = S.Ellipse((0.2, 0.1), (0.6, 0.4), 30.0)
    regions = [S.Region(lat, origin=(0.01, 0.02), name="crystal"),
               S.Region(am, patch, name="dirt", overlay=overlay, transmission=transmission if overlay else 1.0)]
    return S.Scene((100, 100), PX, regions, min_separation=0.2), lat, am, patch


def test_overlay_keeps_the_columns_below_attenuated_and_adds_its_own():
    scene, lat, am, patch = overlay_scene(0.4)
    cols = scene.columns(margin=0.5)
    # reference: the crystal alone and the amorphous patch alone, built separately
    crystal = S.Scene((100, 100), PX, [S.Region(lat, origin=(0.01, 0.02))]).columns(margin=0.5)
    dirt = S.Scene((100, 100), PX, [S.Region(S.Vacuum()), S.Region(am, patch)]).columns(margin=0.5)
    mine = cols.regions == 0
    np.testing.assert_allclose(cols.positions[mine], crystal.positions)
    cy, cx = scene.center
    under = patch.contains(crystal.positions[:, 0] - cy, crystal.positions[:, 1] - cx)
    assert under.sum() > 10
    np.testing.assert_allclose(cols.intensities[mine], np.where(under, 0.4, 1.0))
    np.testing.assert_allclose(cols.positions[~mine], dirt.positions)  # not thinned by min_separation
    np.testing.assert_allclose(cols.intensities[~mine], dirt.intensities)


def test_overlay_labels_are_the_overlay_and_transmission_zero_removes_the_columns_below():
    over, *_ = overlay_scene(0.0)
    paint, *_ = overlay_scene(None, overlay=False)
    np.testing.assert_array_equal(over.label_image(), paint.label_image())
    assert (over.label_image() == 1).mean() > 0.05
    a, b = over.columns(margin=0.5), paint.columns(margin=0.5)
    np.testing.assert_allclose(a.positions[a.regions == 0], b.positions[b.regions == 0])
    # painting also thins the amorphous columns near the crystal; the overlay does not
    assert (a.regions == 1).sum() >= (b.regions == 1).sum()


def test_overlay_image_is_the_sum_of_both_layers():
    scene, lat, am, patch = overlay_scene(0.5)
    probe = S.GaussianProbe(0.08)
    sim = clean(scene, probe, random_state=0)
    # reference: the crystal attenuated under the patch (a thickness map) plus the patch alone on vacuum
    attenuated = S.Scene((100, 100), PX, [S.Region(lat, origin=(0.01, 0.02),
                                                   thickness=lambda y, x: np.where(patch.contains(y, x), 0.5, 1.0))])
    alone = S.Scene((100, 100), PX, [S.Region(S.Vacuum()), S.Region(am, patch)])
    ref = clean(attenuated, probe, random_state=0).noise_free + clean(alone, probe, random_state=0).noise_free
    np.testing.assert_allclose(sim.noise_free, ref, atol=1e-7)  # images are clipped at 0 (FFT ringing ~1e-8)
    assert set(np.unique(sim.column_regions)) == {0, 1}
    assert np.abs(sim.noise_free - clean(attenuated, probe, random_state=0).noise_free).max() > 0.3


def test_content_weights_stack_transmissions():
    regions = [S.Region(None), S.Region(None, S.HalfPlane(90.0), overlay=True, transmission=0.5),
               S.Region(None, S.HalfPlane(0.0), overlay=True, transmission=0.2)]
    scene = S.Scene((8, 8), 1.0, regions)
    y = np.array([0.0, 0.0, 7.0, 7.0])
    x = np.array([0.0, 7.0, 0.0, 7.0])  # top-left, top-right, bottom-left, bottom-right
    w = scene.content_weights(y, x)
    np.testing.assert_allclose(w[0], [1.0, 0.5, 0.2, 0.1])
    np.testing.assert_allclose(w[1], [0.0, 1.0, 0.0, 0.2])
    np.testing.assert_allclose(w[2], [0.0, 0.0, 1.0, 1.0])
    np.testing.assert_array_equal(scene.label_at(y, x), [0, 1, 2, 2])


# --------------------------------------------------------------------------- #
# period and probe rule
# --------------------------------------------------------------------------- #
def brute_force_period(lat):
    """Shortest t among columns differences such that every column + t is a column of the same intensity."""
    r = 4 * float(np.abs(lat.vectors).sum())
    pos, sites = lat.points((-r, r, -r, r))
    inten = lat.intensities[sites]
    centre = np.argmin(np.hypot(*pos.T))
    inner = np.hypot(*pos.T) < r / 2
    tree = cKDTree(pos)
    best = np.inf
    for j in range(len(pos)):
        t = pos[j] - pos[centre]
        d = math.hypot(*t)
        if d < 1e-9 or d >= best or inten[j] != inten[centre]:
            continue
        dist, k = tree.query(pos[inner] + t)
        if np.all(dist < 1e-6) and np.all(inten[k] == inten[inner]):
            best = d
    return best


@pytest.mark.parametrize("lat", [
    S.Lattice.hexagonal(0.3, rotation=7.0), S.Lattice.square(0.36), S.Lattice.honeycomb(0.246),
    S.Lattice.honeycomb(0.246, intensities=(1.0, 1.0)), S.Lattice.perovskite_001(0.39),
    S.Lattice.centred_rectangular(0.35, 0.5), S.Lattice.centred_rectangular(0.35, 0.5, intensities=(1.0, 0.5)),
    S.Lattice.dumbbell_110(), S.Lattice.rectangular(0.3, 0.45, rotation=30.0),
], ids=lambda lat: f"{lat.name}-{len(set(lat.intensities.tolist()))}")
def test_lattice_period_equals_brute_force(lat):
    assert lat.period == pytest.approx(brute_force_period(lat), rel=1e-9)


def test_period_examples_and_pixel_size():
    assert S.Lattice.centred_rectangular(0.35, 0.5).period == pytest.approx(math.hypot(0.175, 0.25))
    assert S.Lattice.honeycomb(0.246, intensities=(1.0, 1.0)).period == pytest.approx(0.246)
    assert S.pixel_size_for_period(S.Lattice.hexagonal(0.3), 15) == 0.02
    assert S.pixel_size_for_period(S.Lattice.square(0.4), 8) == pytest.approx(0.05)


def fft_period_px(image, lat_vectors_dir):
    """Period (px) of the strongest non-zero FFT peak, refined by a parabola."""
    img = image - image.mean()
    win = np.outer(np.hanning(img.shape[0]), np.hanning(img.shape[1]))
    f = np.abs(np.fft.fftshift(np.fft.fft2(img * win)))
    n = img.shape[0]
    c = n // 2
    f[c - 2 : c + 3, c - 2 : c + 3] = 0
    iy, ix = np.unravel_index(f.argmax(), f.shape)

    def refine(a, b, cc):
        den = a - 2 * b + cc
        return 0.0 if den == 0 else 0.5 * (a - cc) / den

    dy = refine(f[iy - 1, ix], f[iy, ix], f[iy + 1, ix])
    dx = refine(f[iy, ix - 1], f[iy, ix], f[iy, ix + 1])
    k = math.hypot(iy + dy - c, ix + dx - c) / n
    return 1.0 / k


@pytest.mark.parametrize("period", [4, 9, 25])
def test_rendered_period_matches_period_px(period):
    lat = S.Lattice.square(0.36, rotation=0.0)  # FFT peak along the axes: one peak, period = a
    sim = S.single_crystal((200, 200), lattice=lat, period_px=period, random_state=1, peak_counts=None,
                           scan_noise=None, background=None)
    assert fft_period_px(sim.image.data.astype(float), None) == pytest.approx(period, rel=0.01)


def test_probe_rule_and_columns_resolved_at_four_pixels_per_period():
    lat = S.Lattice.hexagonal(0.3)
    probe = S.probe_for_lattice(lat)
    assert probe.fwhm == pytest.approx(0.35 * 0.3)
    assert S.probe_for_lattice([lat, S.Lattice.honeycomb(0.246)]).fwhm == pytest.approx(0.35 * 0.246 / math.sqrt(3))
    assert S.probe_for_lattice(S.Amorphous(min_distance=0.2)).fwhm == pytest.approx(0.07)
    px = S.pixel_size_for_period(lat, 4)
    img = S.render_columns([[0.5, 0.5], [0.5, 0.8]], [1.0, 1.0], (24, 24), px, probe)  # 4 px apart, one row
    row = img[int(round(0.5 / px))]
    j0, j1 = int(round(0.5 / px)), int(round(0.8 / px))
    assert row[(j0 + j1) // 2] < 0.05 * row[j0]
    # the ready-made scenes use it with period_px
    sim = S.two_grain_image((64, 64), period_px=4, random_state=0)
    assert sim.image.metadata.Simulation.probe.fwhm == pytest.approx(probe.fwhm)
    assert sim.image.axes_manager[0].scale == pytest.approx(0.075)


def test_bad_region_and_sampling_arguments():
    lat = S.Lattice.square(0.3)
    with pytest.raises(ValueError, match="transmission applies to overlay regions only"):
        S.Region(lat, transmission=0.5)
    with pytest.raises(ValueError, match=r"transmission must be in \[0, 1\]"):
        S.Region(lat, overlay=True, transmission=1.5)
    with pytest.raises(TypeError, match="overlay must be True or False"):
        S.Region(lat, overlay="yes")
    with pytest.raises(TypeError, match="thickness must be None, a number >= 0, a ThicknessMap"):
        S.Region(lat, thickness="thick")
    with pytest.raises(ValueError, match="thickness must be >= 0"):
        S.Region(lat, thickness=-1.0)
    with pytest.raises(ValueError, match="thickness must return finite values >= 0"):
        clean(S.Scene((32, 32), PX, [S.Region(lat, thickness=lambda y, x: -np.ones_like(y))]))
    with pytest.raises(ValueError, match=r"minimum must be in \[0, 1\]"):
        S.DomeThickness(minimum=2.0)
    with pytest.raises(ValueError, match="level must be finite"):
        S.Region(lat, level=float("nan"))
    with pytest.raises(ValueError, match="period_px must be > 0"):
        S.pixel_size_for_period(lat, 0)
    with pytest.raises(TypeError, match="lattice must be a Lattice"):
        S.pixel_size_for_period(S.Vacuum(), 4)
    with pytest.raises(ValueError, match="give pixel_size or period_px, not both"):
        S.two_grain_image((64, 64), 0.02, period_px=4)
    with pytest.raises(ValueError, match=r"fraction must be in \(0, 2\]"):
        S.probe_for_lattice(lat, fraction=3.0)
    with pytest.raises(ValueError, match="at least one Lattice or Amorphous"):
        S.probe_for_lattice([S.Vacuum()])
