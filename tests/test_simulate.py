"""Tests of the forward model hyperspy_symseg.simulate.

Every fast numerical path is compared with a slow, obviously correct reference
(direct summation of Gaussians / Airy patterns, brute-force enumeration, pure
Python geometry).
"""

import math
import time

import numpy as np
import pytest
from matplotlib.path import Path as MplPath
from scipy.spatial.distance import cdist, pdist
from scipy.special import j1

from hyperspy_symseg import simulate as S

PX = 0.02


# --------------------------------------------------------------------------- #
# references
# --------------------------------------------------------------------------- #
def direct_gaussians(positions, intensities, y, x, sigma):
    """sum_c I_c exp(-|r - p_c|^2 / (2 sigma^2)) at points (y, x), by direct summation."""
    out = np.zeros(np.broadcast_shapes(np.shape(y), np.shape(x)))
    for (py, pxx), i in zip(positions, intensities):
        out += i * np.exp(-((y - py) ** 2 + (x - pxx) ** 2) / (2 * sigma**2))
    return out


def airy(r, wavelength, alpha):
    """Aberration-free probe intensity (2 J1(v) / v)^2, v = 2 pi alpha r / lambda; peak 1."""
    v = 2 * np.pi * alpha * np.asarray(r, float) / wavelength
    out = np.ones_like(v)
    nz = v > 1e-9
    out[nz] = (2 * j1(v[nz]) / v[nz]) ** 2
    return out


def grid(shape, px=PX):
    return np.arange(shape[0])[:, None] * px, np.arange(shape[1])[None, :] * px


def clean(scene, probe=None, **kw):
    """Noise-free, distortion-free simulation."""
    return S.simulate_image(scene, probe or S.GaussianProbe(0.08), **kw)


# --------------------------------------------------------------------------- #
# physics constants and probes
# --------------------------------------------------------------------------- #
@pytest.mark.parametrize("energy, wavelength_pm", [(100, 3.70144), (200, 2.50793), (300, 1.96875)])
def test_relativistic_wavelength(energy, wavelength_pm):
    assert S.electron_wavelength(energy) * 1e3 == pytest.approx(wavelength_pm, rel=2e-5)


@pytest.mark.parametrize(
    "probe",
    [S.GaussianProbe(0.08), S.PhysicalProbe(200, 24), S.PhysicalProbe(300, 21, defocus=-5, cs=0.01, source_size=0.07)],
)
def test_psf_integrates_to_one(probe):
    px = 0.01
    psf = probe.psf((256, 256), px)
    assert psf.sum() * px**2 == pytest.approx(1.0, abs=1e-9)
    assert psf.min() > -1e-6 * psf.max()  # an intensity
    assert np.unravel_index(psf.argmax(), psf.shape) == (128, 128)  # centred


def test_gaussian_psf_shape_and_fwhm():
    p = S.GaussianProbe(fwhm=0.1)
    px = 0.005
    psf = p.psf((201, 201), px)
    y, x = grid((201, 201), px)
    ref = np.exp(-((y - 100 * px) ** 2 + (x - 100 * px) ** 2) / (2 * p.sigma**2)) / (2 * np.pi * p.sigma**2)
    np.testing.assert_allclose(psf, ref, atol=1e-9 * ref.max())
    profile = psf[100] / psf[100, 100]
    right = np.argmax(profile[100:] < 0.5) + 100
    half = np.interp(0.5, [profile[right], profile[right - 1]], [right * px, (right - 1) * px]) - 100 * px
    assert 2 * half == pytest.approx(0.1, rel=1e-3)


def test_physical_probe_is_airy_without_aberrations():
    probe = S.PhysicalProbe(energy=200, convergence=24)
    px = 0.005
    psf = probe.psf((400, 400), px)
    y, x = grid((400, 400), px)
    ref = airy(np.hypot(y - 200 * px, x - 200 * px), probe.wavelength, 0.024)
    np.testing.assert_allclose(psf / psf.max(), ref, atol=2e-3)
    # FWHM of the Airy disc: 0.5145 lambda / alpha
    profile = psf[200, 200:] / psf[200, 200]
    i = np.argmax(profile < 0.5)
    half = np.interp(0.5, [profile[i], profile[i - 1]], [i * px, (i - 1) * px])
    assert 2 * half == pytest.approx(0.5145 * probe.wavelength / 0.024, rel=5e-3)


def test_defocus_sign_convention():
    # chi = pi lambda df k^2 + pi/2 Cs lambda^3 k^4: negative df balances positive Cs -> sharper probe
    peak = {df: S.PhysicalProbe(200, 10, defocus=df, cs=1.2).psf((256, 256), 0.02).max() for df in (-50, 0, 50)}
    assert peak[-50] > 2 * peak[0] > 2 * peak[50]
    p = S.PhysicalProbe(200, 10, defocus=-50, cs=1.2)
    k = np.array([0.0, 1.0, 2.0])
    lam = p.wavelength
    np.testing.assert_allclose(p.chi(k), np.pi * lam * -50 * k**2 + np.pi / 2 * 1.2e6 * lam**3 * k**4)


def test_source_size_broadens_probe():
    sharp = S.PhysicalProbe(200, 24).psf((256, 256), 0.01)
    blurred = S.PhysicalProbe(200, 24, source_size=0.09).psf((256, 256), 0.01)
    assert blurred.max() < 0.5 * sharp.max()
    assert blurred.sum() == pytest.approx(sharp.sum())


# --------------------------------------------------------------------------- #
# renderer against direct summation
# --------------------------------------------------------------------------- #
@pytest.mark.parametrize("fwhm, tol", [(0.08, 1e-5), (0.12, 1e-7)])
def test_render_columns_equals_direct_gaussian_sum(fwhm, tol):
    rng = np.random.default_rng(1)
    shape = (50, 64)
    pos = np.column_stack([rng.uniform(-0.3, 50 * PX + 0.3, 40), rng.uniform(-0.3, 64 * PX + 0.3, 40)])
    inten = rng.uniform(0.3, 1.5, 40)
    probe = S.GaussianProbe(fwhm)
    img = S.render_columns(pos, inten, shape, PX, probe)
    ref = direct_gaussians(pos, inten, *grid(shape), probe.sigma)
    assert img.shape == shape
    np.testing.assert_allclose(img, ref, atol=tol * ref.max())


def test_render_columns_equals_direct_airy_sum():
    rng = np.random.default_rng(2)
    shape = (48, 56)
    pos = np.column_stack([rng.uniform(0, 48 * PX, 25), rng.uniform(0, 56 * PX, 25)])
    inten = rng.uniform(0.5, 1.0, 25)
    probe = S.PhysicalProbe(200, 24)
    img = S.render_columns(pos, inten, shape, PX, probe)
    y, x = grid(shape)
    ref = sum(i * airy(np.hypot(y - a, x - b), probe.wavelength, 0.024) for (a, b), i in zip(pos, inten))
    np.testing.assert_allclose(img, ref, atol=1e-3 * ref.max())


def test_isolated_unit_column_has_peak_one():
    for probe in (S.GaussianProbe(0.09), S.PhysicalProbe(200, 24, source_size=0.05)):
        img = S.render_columns([[20 * PX, 30 * PX]], [1.0], (40, 60), PX, probe)
        assert img.max() == pytest.approx(1.0, abs=1e-6)
        assert np.unravel_index(img.argmax(), img.shape) == (20, 30)


# --------------------------------------------------------------------------- #
# lattices
# --------------------------------------------------------------------------- #
def brute_force_points(lat, bounds, origin):
    v = lat.vectors
    pts = []
    for n1 in range(-60, 61):
        for n2 in range(-60, 61):
            for s, f in enumerate(lat.basis):
                p = np.asarray(origin) + (n1 + f[0]) * v[0] + (n2 + f[1]) * v[1]
                if bounds[0] <= p[0] <= bounds[1] and bounds[2] <= p[1] <= bounds[3]:
                    pts.append((p[0], p[1], s))
    return np.array(sorted(pts))


@pytest.mark.parametrize(
    "lat",
    [
        S.Lattice.square(0.4, rotation=17),
        S.Lattice.hexagonal(0.3, rotation=-8),
        S.Lattice.honeycomb(0.25, rotation=33),
        S.Lattice.dumbbell_110(0.543, rotation=5),
        S.Lattice.perovskite_001(0.39, intensities=(1, 0.5, 0.1)),
    ],
)
def test_lattice_points_equal_brute_force(lat):
    bounds, origin = (-0.3, 2.1, 0.1, 3.3), (0.05, -0.11)
    pos, sites = lat.points(bounds, origin)
    got = np.array(sorted(zip(pos[:, 0], pos[:, 1], sites)))
    ref = brute_force_points(lat, bounds, origin)
    assert got.shape == ref.shape
    np.testing.assert_allclose(got, ref, atol=1e-12)


@pytest.mark.parametrize(
    "lat, nn, coordination",
    [
        (S.Lattice.square(0.4), 0.4, 4),
        (S.Lattice.rectangular(0.3, 0.5), 0.3, 2),
        (S.Lattice.hexagonal(0.3), 0.3, 6),
        (S.Lattice.centred_rectangular(0.4, 0.6), math.hypot(0.2, 0.3), 4),
        (S.Lattice.honeycomb(0.246), 0.246 / math.sqrt(3), 3),
        (S.Lattice.perovskite_001(0.39), 0.39 / math.sqrt(2), 4),
        (S.Lattice.dumbbell_110(0.543), 0.543 / 4, 1),
    ],
)
def test_lattice_geometry(lat, nn, coordination):
    assert lat.nearest_neighbour_distance() == pytest.approx(nn, rel=1e-9)
    pos, _ = lat.points((-3, 3, -3, 3))
    centre = np.argmin(np.hypot(*pos.T))
    d = np.hypot(*(pos - pos[centre]).T)
    assert np.sum(np.abs(d - nn) < 1e-9) == coordination


def test_lattice_rotation_convention_and_intensities():
    lat = S.Lattice.square(0.4, rotation=30)
    # counter-clockwise as displayed, y down: a1 = a (-sin 30, cos 30)
    np.testing.assert_allclose(lat.vectors[0], [-0.2, 0.4 * math.cos(math.radians(30))])
    np.testing.assert_allclose(lat.rotated(15).vectors, S.Lattice.square(0.4, rotation=45).vectors)
    hc = S.Lattice.honeycomb(0.25, intensities=(1.0, 0.4))
    np.testing.assert_array_equal(hc.intensities, [1.0, 0.4])
    db = S.Lattice.dumbbell_110(0.565, intensities=(1.0, 0.7))
    np.testing.assert_array_equal(db.intensities, [1.0, 0.7, 1.0, 0.7])
    # the dumbbell is vertical before rotation: its two columns share x
    pos, sites = db.points((-0.2, 0.01, -0.01, 0.01), (0.0, 0.0))
    assert len(pos) == 2 and np.ptp(pos[:, 1]) < 1e-12 and np.ptp(pos[:, 0]) == pytest.approx(0.565 / 4)
    assert S.Lattice.hexagonal(0.3).cell_area == pytest.approx(0.3**2 * math.sqrt(3) / 2)


# --------------------------------------------------------------------------- #
# shapes and scenes
# --------------------------------------------------------------------------- #
def test_half_plane_conventions():
    # points above, below, left of and right of the centre
    y = np.array([-1.0, 1.0, 0.0, 0.0])
    x = np.array([0.0, 0.0, -1.0, 1.0])
    np.testing.assert_array_equal(S.HalfPlane(90, 0.5).contains(y, x), [False, False, False, True])  # right
    np.testing.assert_array_equal(S.HalfPlane(0, 0.5).contains(y, x), [False, True, False, False])  # lower
    np.testing.assert_array_equal(S.HalfPlane(180, 0.5).contains(y, x), [True, False, False, False])  # upper
    np.testing.assert_array_equal(S.HalfPlane(270, 0.5).contains(y, x), [False, False, True, False])  # left
    assert not S.HalfPlane(90, offset=1.5).contains(0.0, 1.0)
    # 30 degrees: boundary direction (-1/2, sqrt(3)/2); normal (sqrt(3)/2, 1/2) points into the region
    hp = S.HalfPlane(30, offset=0.2)
    n = np.array([math.cos(math.radians(30)), math.sin(math.radians(30))])
    rng = np.random.default_rng(0)
    pts = rng.uniform(-2, 2, (500, 2))
    np.testing.assert_array_equal(hp.contains(pts[:, 0], pts[:, 1]), pts @ n > 0.2)


def test_curved_boundaries():
    rng = np.random.default_rng(1)
    y, x = rng.uniform(-3, 3, (2, 2000))
    flat = S.SinusoidalBoundary(90, 0.3, amplitude=0.0).contains(y, x)
    np.testing.assert_array_equal(flat, S.HalfPlane(90, 0.3).contains(y, x))
    wave = S.SinusoidalBoundary(90, 0.0, amplitude=0.5, wavelength=2.0, phase=0.0)
    # angle 90: the line runs upwards, t = -y; boundary at x = 0.5 sin(2 pi t / 2)
    np.testing.assert_array_equal(wave.contains(y, x), x > 0.5 * np.sin(np.pi * -y))
    bulge = S.BulgingBoundary(90, 0.0, bulge=1.0, width=0.5, position=0.0)
    np.testing.assert_array_equal(bulge.contains(y, x), x > np.exp(-(y**2) / 0.5))


def test_polygon_equals_matplotlib_path():
    rng = np.random.default_rng(2)
    verts = np.array([[0.0, 0.0], [1.0, 2.0], [2.5, 0.5], [1.2, 1.0], [3.0, -1.0], [0.5, -2.0]])  # concave
    pts = rng.uniform(-3, 4, (4000, 2))
    ref = MplPath(verts[:, ::-1]).contains_points(pts[:, ::-1])
    got = S.Polygon(verts).contains(pts[:, 0], pts[:, 1])
    assert np.mean(got == ref) == 1.0
    hexagon = S.Polygon.regular(6, 1.0)
    assert hexagon.contains(0.0, 0.0) and hexagon.contains(0.0, 0.95) and not hexagon.contains(0.0, 1.05)


def test_ellipse_and_sectors():
    rng = np.random.default_rng(3)
    y, x = rng.uniform(-3, 3, (2, 3000))
    e = S.Ellipse(center=(0.5, -0.2), semi_axes=(2.0, 0.7), angle=90)  # long axis vertical
    np.testing.assert_array_equal(e.contains(y, x), ((y - 0.5) / 2.0) ** 2 + ((x + 0.2) / 0.7) ** 2 < 1)
    tj = S.TripleJunction(center=(0.3, 0.1), angles=(90, 200, 330))
    inside = np.stack([tj.sector(k).contains(y, x) for k in range(3)])
    assert np.all(inside.sum(axis=0) == 1)  # the sectors partition the plane
    phi = np.degrees(np.arctan2(-(y - 0.3), x - 0.1)) % 360
    np.testing.assert_array_equal(inside[0], (phi >= 90) & (phi < 200))


def test_scene_paints_later_regions_over_earlier():
    lat = S.Lattice.square(0.4)
    regions = [S.Region(lat), S.Region(lat, S.HalfPlane(90)), S.Region(None, S.Ellipse((0, 0), (0.2, 0.2)))]
    sc = S.Scene((40, 50), PX, regions)
    lab = sc.label_image()
    y, x = grid((40, 50))
    yc, xc = y - sc.center[0], x - sc.center[1]
    expected = np.where(np.hypot(yc, xc) < 0.2, 2, np.where(xc > 0, 1, 0))
    np.testing.assert_array_equal(lab, expected)
    assert lab.dtype == np.int32
    with pytest.raises(ValueError, match="covered by no region"):
        S.Scene((20, 20), PX, [S.Region(lat, S.HalfPlane(90))]).label_image()


def test_column_positions_match_lattice_and_regions():
    lat0 = S.Lattice.hexagonal(0.3, rotation=4)
    lat1 = S.Lattice.square(0.36, rotation=25)
    regions = [S.Region(lat0, origin=(0.01, 0.02)), S.Region(lat1, S.HalfPlane(80, 0.1), origin=(0.0, 0.0))]
    sc = S.Scene((120, 140), PX, regions)
    sim = clean(sc)
    pos, reg = sim.positions, sim.column_regions
    np.testing.assert_allclose(pos, sim.true_positions)  # no scan noise
    cy, cx = sc.center
    for k, (lat, origin) in enumerate([(lat0, (0.01, 0.02)), (lat1, (0.0, 0.0))]):
        p = pos[reg == k] - (np.array(origin) + [cy, cx])
        frac = p @ np.linalg.inv(lat.vectors)
        np.testing.assert_allclose(frac, np.round(frac), atol=1e-9)  # on the lattice
        # every lattice point of the region inside the image is present, unless dropped at the boundary
        fov = (-0.5 * PX, 119.5 * PX - 1e-12, -0.5 * PX, 139.5 * PX - 1e-12)
        ref, _ = lat.points(fov, (origin[0] + cy, origin[1] + cx))
        ref = ref[sc.label_at(ref[:, 0], ref[:, 1]) == k]
        if k == 0:
            assert len(p) == len(ref)
        else:  # region 1 loses the columns too close to region 0's
            missing = ref[cdist(ref, pos[reg == k]).min(axis=1) > 1e-9]
            assert 0 < len(missing) < 0.2 * len(ref)
            assert np.all(cdist(missing, pos[reg == 0]).min(axis=1) < sc.min_separation)
    # region index = label at the column (no distortion)
    lab = sc.label_at(pos[:, 0], pos[:, 1])
    np.testing.assert_array_equal(lab, reg)
    # columns of different regions never closer than min_separation
    assert cdist(pos[reg == 0], pos[reg == 1]).min() >= sc.min_separation
    assert sc.min_separation == pytest.approx(0.75 * 0.3)
    # the image is bright at the columns and each column's region is the pixel label
    img = sim.image.data
    iy, ix = np.rint(pos / PX).astype(int).T
    assert np.median(img[iy, ix]) > 0.9
    np.testing.assert_array_equal(sim.labels.data[iy, ix][np.abs(lab - reg) == 0], reg)


def test_amorphous_region():
    am = S.Amorphous(density=8.0, min_distance=0.22, intensity=(0.3, 0.6))
    sc = S.Scene((150, 150), PX, [S.Region(am)])
    sim = clean(sc, random_state=4)
    pos = sim.true_positions
    assert pdist(pos).min() >= 0.22
    area = (150 * PX) ** 2
    assert len(pos) == pytest.approx(8.0 * area, rel=0.1)
    assert sim.column_intensities.min() >= 0.3 and sim.column_intensities.max() <= 0.6
    assert np.all(sim.column_sites == -1)
    with pytest.raises(ValueError, match="packing"):
        S.Amorphous(density=30.0, min_distance=0.25)


def test_vacuum_and_amorphous_next_to_crystal():
    lat = S.Lattice.square(0.35)
    regions = [S.Region(lat), S.Region(S.Amorphous(), S.HalfPlane(90)), S.Region(None, S.HalfPlane(0, 0.5))]
    sc = S.Scene((100, 100), PX, regions)
    sim = clean(sc, random_state=0)
    reg = sim.column_regions
    assert set(np.unique(reg)) == {0, 1}  # vacuum has no columns
    assert cdist(sim.positions[reg == 0], sim.positions[reg == 1]).min() >= sc.min_separation
    # vacuum pixels farther than 0.2 nm (~5 probe sigma) from every column are dark (only PSF tails)
    y, x = grid((100, 100))
    far = cdist(np.column_stack([np.broadcast_to(y, (100, 100)).ravel(), np.broadcast_to(x, (100, 100)).ravel()]),
                sim.true_positions).min(axis=1).reshape(100, 100) > 0.2
    vac = (sim.labels.data == 2) & far
    assert vac.sum() > 1000
    assert sim.image.data[vac].max() < 1e-3
    assert sim.image.data[sim.labels.data == 0].max() > 0.9


# --------------------------------------------------------------------------- #
# scan noise
# --------------------------------------------------------------------------- #
def test_scan_noise_displacements_follow_the_model():
    sn = S.ScanNoise(sigma=0.02, frequency=50, phase=90, drift=(0.0, 0.0), line_time=1e-3)
    d = sn.displacements(20000, np.random.default_rng(0))
    t = np.arange(20000) * 1e-3
    sx, sy = np.sin(2 * np.pi * 50 * t), np.sin(2 * np.pi * 50 * t + np.pi / 2)
    ok = np.abs(sx) > 0.5
    z = d[ok, 1] / (0.02 * sx[ok])  # one normal draw per row ...
    np.testing.assert_allclose(d[ok, 0], z * 0.02 * sy[ok], atol=1e-15)  # ... shared by y, with the phase
    assert np.std(z) == pytest.approx(1.0, abs=0.03)
    assert np.mean(z) == pytest.approx(0.0, abs=0.03)
    sn = S.ScanNoise(sigma=0.0, drift=(0.3, -0.2), line_time=2e-3)
    drift = sn.displacements(10, np.random.default_rng(0), t0=1.0)
    np.testing.assert_allclose(drift, -np.outer(1.0 + np.arange(10) * 2e-3, [0.3, -0.2]))


def test_scan_noise_moves_rows_and_labels_with_them():
    lat = S.Lattice.hexagonal(0.3, rotation=7)
    sc = S.Scene((60, 70), PX, [S.Region(lat), S.Region(lat.rotated(20), S.HalfPlane(80, 0.1))])
    probe = S.GaussianProbe(0.08)
    sim = S.simulate_image(sc, probe, scan_noise=S.ScanNoise(0.03, 50, 90, drift=(0.5, -0.3)), random_state=3)
    d = sim.scan_displacement
    assert d.shape == (60, 2) and np.abs(d).max() > 0.02
    # reference: every pixel of row i samples the undistorted specimen at (i px + dy_i, j px + dx_i)
    cols = sim.scene.columns(margin=0.6)
    Y = np.arange(60)[:, None] * PX + d[:, :1]
    X = np.arange(70)[None, :] * PX + d[:, 1:]
    ref = direct_gaussians(cols.positions, cols.intensities, Y, X, probe.sigma)
    np.testing.assert_allclose(sim.image.data, ref, atol=1e-5)
    np.testing.assert_array_equal(sim.labels.data, sim.scene.label_at(Y, X))
    # apparent positions invert the distortion: true = apparent + delta(apparent row)
    app, tp = sim.positions, sim.true_positions
    s = app[:, 0] / PX
    np.testing.assert_allclose(app[:, 0] + np.interp(s, np.arange(60), d[:, 0]), tp[:, 0], atol=1e-12)
    np.testing.assert_allclose(app[:, 1] + np.interp(s, np.arange(60), d[:, 1]), tp[:, 1], atol=1e-12)


def test_labels_and_columns_stay_registered_under_drift():
    # a vertical boundary, strong horizontal drift: the boundary in row i moves by -dx_i
    lat = S.Lattice.square(0.5)
    sc = S.Scene((80, 80), PX, [S.Region(lat, origin=(0, 0)), S.Region(None, S.HalfPlane(90, 0.0))])
    sn = S.ScanNoise(sigma=0.0, drift=(0.0, 5.0), line_time=1e-3)  # 0.4 nm = 20 px over the frame
    sim = S.simulate_image(sc, S.GaussianProbe(0.08), scan_noise=sn)
    dx = sim.scan_displacement[:, 1]
    first_vacuum = np.argmax(sim.labels.data == 1, axis=1)
    boundary = sc.center[1]  # x of the boundary in the image frame
    np.testing.assert_array_equal(first_vacuum, np.floor((boundary - dx) / PX).astype(int) + 1)
    assert np.ptp(first_vacuum) >= 18
    # each column's centroid in the image lies at its apparent position
    img = sim.image.data
    for p in sim.positions:
        i, j = np.rint(p / PX).astype(int)
        if 4 <= i < 76 and 4 <= j < 76:
            w = img[i - 4 : i + 5, j - 4 : j + 5]
            yy, xx = np.mgrid[i - 4 : i + 5, j - 4 : j + 5]
            c = np.array([(w * yy).sum(), (w * xx).sum()]) / w.sum() * PX
            np.testing.assert_allclose(c, p, atol=0.1 * PX)
    moved = np.abs(sim.positions[:, 1] - sim.true_positions[:, 1])
    assert moved.max() > 10 * PX


# --------------------------------------------------------------------------- #
# noise and backgrounds
# --------------------------------------------------------------------------- #
def test_poisson_mean_and_variance_on_flat_image():
    sc = S.Scene((256, 256), PX, [S.Region(None)])
    sim = S.simulate_image(sc, peak_counts=40.0, background=0.5, random_state=0)
    data = sim.image.data.astype(float)
    np.testing.assert_allclose(sim.noise_free, 20.0)
    assert data.mean() == pytest.approx(20.0, rel=0.01)
    assert data.var() == pytest.approx(20.0, rel=0.03)
    assert np.all(data == np.round(data))  # counts


def test_counts_scale_with_dose():
    sc = S.Scene((128, 128), PX, [S.Region(S.Lattice.square(0.4))])
    means = {}
    for dose in (200.0, 2000.0):
        sim = S.simulate_image(sc, dose=dose, peak_fraction=0.1, background=0.05, random_state=1)
        means[dose] = sim.image.data.mean()
        nf = S.simulate_image(sc, background=0.05, random_state=1).image.data
        np.testing.assert_allclose(sim.noise_free, dose * 0.1 * nf, rtol=1e-5, atol=1e-6)
    assert means[2000.0] / means[200.0] == pytest.approx(10.0, rel=0.02)


def test_poisson_variance_equals_mean_on_structured_image():
    sim = S.two_grain_image(shape=(192, 192), peak_counts=60, scan_noise=None, random_state=5)
    mu = sim.noise_free
    x = sim.image.data.astype(float)
    assert np.mean(x - mu) == pytest.approx(0.0, abs=0.05)
    sel = mu > 3
    assert np.mean((x[sel] - mu[sel]) ** 2 / mu[sel]) == pytest.approx(1.0, abs=0.03)


def test_read_noise():
    sc = S.Scene((128, 128), PX, [S.Region(None)])
    sim = S.simulate_image(sc, background=0.3, read_noise=0.05, random_state=2)
    resid = sim.image.data - sim.noise_free
    assert resid.std() == pytest.approx(0.05, rel=0.03)


def test_backgrounds():
    sc = S.Scene((64, 80), PX, [S.Region(None)])
    lin = S.LinearBackground(level=0.2, gradient=(0.1, -0.05))
    sim = clean(sc, background=[lin, 0.1])
    y, x = grid((64, 80))
    np.testing.assert_allclose(sim.image.data, 0.3 + 0.1 * (y - sc.center[0]) - 0.05 * (x - sc.center[1]), atol=1e-6)
    # low-frequency field: the separable scan-grid path equals direct evaluation
    lf = S.LowFrequencyBackground(amplitude=0.05, length=1.5, level=0.1)._prepared(np.random.default_rng(0))
    ys = np.linspace(-1, 1, 30)
    xs = np.linspace(-2, 2, 40)
    dx = np.random.default_rng(1).normal(0, 0.05, 30)
    np.testing.assert_allclose(lf._rows(ys, xs, dx), lf.evaluate(ys[:, None], xs[None, :] + dx[:, None]), atol=1e-12)
    # and its standard deviation over many realisations is the amplitude
    rng = np.random.default_rng(3)
    vals = [S.LowFrequencyBackground(0.05, 1.5)._prepared(rng).evaluate(0.0, 0.0) for _ in range(2000)]
    assert np.std(vals) == pytest.approx(0.05, rel=0.08)


# --------------------------------------------------------------------------- #
# signals, determinism, series, ready-made scenes
# --------------------------------------------------------------------------- #
def test_signals_axes_and_metadata(tmp_path):
    import hyperspy.api as hs
    from hyperspy.signals import Signal2D

    from hyperspy_symseg.signals import AtomicResolutionImage

    sim = S.two_grain_image(shape=(64, 96), pixel_size=0.025, random_state=0)
    img, lab = sim.image, sim.labels
    assert isinstance(img, AtomicResolutionImage)
    assert img.metadata.Signal.signal_type == "atomic_resolution"
    assert type(lab) is Signal2D and lab.data.dtype == np.int32
    assert img.data.dtype == np.float32 and img.data.shape == lab.data.shape == (64, 96)
    for s in (img, lab):
        ax_x, ax_y = s.axes_manager.signal_axes
        assert (ax_x.name, ax_y.name) == ("x", "y")
        assert (ax_x.size, ax_y.size) == (96, 64)
        for ax in (ax_x, ax_y):
            assert ax.units == "nm" and ax.scale == pytest.approx(0.025) and ax.offset == 0
    assert "two grains" in img.metadata.General.title
    meta = img.metadata.Simulation
    assert meta.probe.type == "GaussianProbe" and meta.probe.fwhm == pytest.approx(0.09)
    assert meta.region_names == ["grain_left", "grain_right"]
    assert meta.random_state == 0 and meta.peak_counts == 100
    assert set(np.unique(lab.data)) == {0, 1}
    assert sim.positions.shape[1] == 2 and len(sim.column_regions) == len(sim.positions)
    # plain values: the file round trip keeps the simulation metadata and the signal type
    img.save(tmp_path / "sim.hspy")
    back = hs.load(tmp_path / "sim.hspy")
    assert isinstance(back, AtomicResolutionImage)
    assert back.metadata.Simulation.scene.regions.region_1.shape.type == "HalfPlane"
    m = sim.markers()
    np.testing.assert_allclose(m.kwargs["offsets"], sim.positions[:, ::-1])


def test_physical_probe_metadata():
    sc = S.Scene((32, 32), PX, [S.Region(S.Lattice.square(0.4))])
    sim = S.simulate_image(sc, S.PhysicalProbe(300, 21))
    assert sim.image.metadata.Acquisition_instrument.TEM.beam_energy == 300
    assert sim.image.metadata.Simulation.probe.wavelength == pytest.approx(S.electron_wavelength(300))


def test_same_seed_same_image_different_seed_different_image():
    kw = dict(shape=(96, 96))
    a, b = S.two_grain_image(random_state=11, **kw), S.two_grain_image(random_state=11, **kw)
    c = S.two_grain_image(random_state=12, **kw)
    np.testing.assert_array_equal(a.image.data, b.image.data)
    np.testing.assert_array_equal(a.labels.data, b.labels.data)
    np.testing.assert_array_equal(a.positions, b.positions)
    assert not np.array_equal(a.image.data, c.image.data)
    assert not np.array_equal(a.positions.shape, c.positions.shape) or not np.allclose(a.positions, c.positions)
    gen = np.random.default_rng(5)
    d = S.two_grain_image(random_state=gen, **kw)
    assert d.image.data.shape == (96, 96)


def test_migrating_boundary_series():
    sim = S.migrating_boundary_series(n_frames=4, shape=(80, 96), drift=(0.02, 0.04), frame_time=0.5, random_state=0)
    img, lab = sim.image, sim.labels
    assert img.data.shape == lab.data.shape == (4, 80, 96)
    (t,) = img.axes_manager.navigation_axes
    assert t.name == "t" and t.units == "s" and t.scale == 0.5
    assert lab.axes_manager.navigation_axes[0].name == "t"
    assert [ax.name for ax in img.axes_manager.signal_axes] == ["x", "y"]
    assert isinstance(sim.positions, list) and len(sim.positions) == 4
    # the boundary migrates into grain 1 (label 1 shrinks) and bulges
    frac1 = (lab.data == 1).mean(axis=(1, 2))
    assert np.all(np.diff(frac1) < 0)
    # frame-to-frame drift: grain-0 columns of frame k are those of frame 0 moved by k * drift
    p0 = sim.true_positions[0][sim.column_regions[0] == 0]
    for k in (1, 3):
        pk = sim.true_positions[k][sim.column_regions[k] == 0]
        d = cdist(pk - k * np.array([0.02, 0.04]), p0).min(axis=1)
        assert np.median(d) < 1e-9
    # per-frame labels match the per-frame scenes after their shift and scan distortion
    for k in range(4):
        dd = sim.scan_displacement[k]
        Y = np.arange(80)[:, None] * PX + dd[:, :1] - k * 0.02
        X = np.arange(96)[None, :] * PX + dd[:, 1:] - k * 0.04
        np.testing.assert_array_equal(lab.data[k], sim.scene[k].label_at(Y, X))
    m = sim.markers()
    assert m.kwargs["offsets"].shape == (4,)


@pytest.mark.parametrize(
    "factory, n_labels",
    [
        (S.two_grain_image, 2),
        (S.two_phase_image, 2),
        (S.particle_on_vacuum, 2),
        (S.crystal_and_amorphous, 2),
        (S.triple_junction, 3),
        (S.precipitate, 2),
    ],
)
def test_ready_made_scenes(factory, n_labels):
    sim = factory(shape=(128, 128), random_state=0)
    assert sim.image.data.shape == (128, 128)
    assert np.unique(sim.labels.data).tolist() == list(range(n_labels))
    assert len(sim.region_names) == n_labels
    assert len(sim.positions) > 20
    assert sim.image.metadata.Simulation.peak_counts == 100
    assert 0 < sim.image.data.mean() < sim.image.data.max()


def test_particle_on_amorphous_support_and_overrides():
    sim = S.particle_on_vacuum(shape=(96, 96), support="amorphous", peak_counts=None, scan_noise=None, background=None)
    assert set(np.unique(sim.column_regions)) == {0, 1}
    assert np.all(sim.image.data == sim.noise_free.astype(np.float32))  # no noise at all
    with pytest.raises(TypeError, match="unexpected keyword"):
        S.two_grain_image(shape=(64, 64), lattice_constant=0.3)


def test_default_demo_image_is_fast_and_sensible():
    S.two_grain_image(shape=(64, 64), random_state=0)  # warm caches
    t0 = time.perf_counter()
    sim = S.two_grain_image(random_state=0)
    elapsed = time.perf_counter() - t0
    assert sim.image.data.shape == (512, 512)
    assert elapsed < 2.0, f"512x512 two_grain_image took {elapsed:.2f} s"
    # HAADF-like: ~100 counts at the columns, left/right halves are the two grains
    peaks = sim.image.data[tuple(np.rint(sim.positions / 0.02).astype(int).T)]
    assert 60 < np.median(peaks) < 200
    lab = sim.labels.data
    assert (lab[:, :200] == 0).all() and (lab[:, -200:] == 1).all()
    # lattice period 15 px: the default hexagonal lattice has a = 0.3 nm at 0.02 nm/px
    assert S.Lattice.hexagonal(0.3).nearest_neighbour_distance() / 0.02 == pytest.approx(15)


# --------------------------------------------------------------------------- #
# input validation
# --------------------------------------------------------------------------- #
def test_bad_input_raises_clear_errors():
    lat = S.Lattice.square(0.4)
    with pytest.raises(ValueError, match="pixel_size"):
        S.Scene((32, 32), 0.0, [S.Region(lat)])
    with pytest.raises(ValueError, match="shape"):
        S.Scene((2, 32), PX, [S.Region(lat)])
    with pytest.raises(TypeError, match="shape"):
        S.Scene((32.0, 32), PX, [S.Region(lat)])
    with pytest.raises(ValueError, match="regions"):
        S.Scene((32, 32), PX, [])
    with pytest.raises(ValueError, match="a must be > 0"):
        S.Lattice.square(-0.4)
    with pytest.raises(ValueError, match="intensities"):
        S.Lattice.honeycomb(0.25, intensities=(1, 2, 3))
    with pytest.raises(ValueError, match="linearly independent"):
        S.Lattice((0, 1), (0, 2))
    with pytest.raises(ValueError, match="fwhm"):
        S.GaussianProbe(0)
    with pytest.raises(ValueError, match="energy"):
        S.PhysicalProbe(energy=-200)
    with pytest.raises(TypeError, match="lattice"):
        S.Region("fcc")
    with pytest.raises(TypeError, match="shape"):
        S.Region(lat, shape=(1, 2))
    sc = S.Scene((32, 32), PX, [S.Region(lat)])
    with pytest.raises(ValueError, match="at most one"):
        S.simulate_image(sc, peak_counts=10, dose=100)
    with pytest.raises(ValueError, match="dose"):
        S.simulate_image(sc, dose=-1)
    with pytest.raises(TypeError, match="scan_noise"):
        S.simulate_image(sc, scan_noise=0.02)
    with pytest.raises(TypeError, match="probe"):
        S.simulate_image(sc, probe=0.08)
    with pytest.raises(TypeError, match="background"):
        S.simulate_image(sc, background="flat")
    with pytest.raises(TypeError, match="random_state"):
        S.simulate_image(sc, random_state="seed")
    with pytest.raises(TypeError, match="scene"):
        S.simulate_image("scene")
    with pytest.raises(ValueError, match="sigma"):
        S.ScanNoise(sigma=-0.01)
    with pytest.raises(ValueError, match="same shape"):
        S.simulate_series([sc, S.Scene((32, 48), PX, [S.Region(lat)])])
    with pytest.raises(ValueError, match="n_frames"):
        S.migrating_boundary_series(n_frames=0)
