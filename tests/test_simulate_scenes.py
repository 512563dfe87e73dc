"""The ready-made scenes that look like real images, the imaging presets, and the docstring examples."""

import doctest
import importlib
import math

import numpy as np
import pytest

from hyperspy_symseg import simulate as S

SMALL = (96, 96)


def test_every_public_name_is_exported_and_documented():
    for name in S.__all__:
        obj = getattr(S, name)
        assert obj.__doc__, name
    for name in ("single_crystal", "nanoparticle", "phase_interface", "contaminated_graphene",
                 "distorted_imaging", "hrtem_imaging", "pixel_size_for_period", "probe_for_lattice",
                 "HRTEMTransfer", "WedgeThickness", "DomeThickness", "ThicknessMap"):
        assert name in S.__all__
    assert S.scenes.single_crystal is S.single_crystal


MODULES = ["_lattices", "_shapes", "_scene", "_thickness", "_probes", "_noise", "_render", "_sampling",
           "_presets", "_simulate", "_result", "scenes", "_realistic"]


@pytest.mark.parametrize("module", MODULES)
def test_docstring_examples_run(module):
    mod = importlib.import_module(f"hyperspy_symseg.simulate.{module}")
    result = doctest.testmod(mod, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert result.failed == 0


@pytest.mark.parametrize("factory, kwargs, names", [
    (S.single_crystal, {}, ["crystal"]),
    (S.nanoparticle, {}, ["vacuum", "particle"]),
    (S.nanoparticle, {"support": "carbon"}, ["carbon", "particle"]),
    (S.phase_interface, {}, ["phase_hexagonal", "phase_centred_rectangular"]),
    (S.contaminated_graphene, {}, ["grain_0", "grain_1", "contaminant"]),
    (S.contaminated_graphene, {"hrtem": False}, ["grain_0", "grain_1", "contaminant"]),
])
def test_new_scenes_labels_determinism_and_calibration(factory, kwargs, names):
    a = factory(SMALL, period_px=6, random_state=3, **kwargs)
    b = factory(SMALL, period_px=6, random_state=3, **kwargs)
    c = factory(SMALL, period_px=6, random_state=4, **kwargs)
    assert a.region_names == names
    np.testing.assert_array_equal(np.unique(a.labels.data), np.arange(len(names)))
    np.testing.assert_array_equal(a.image.data, b.image.data)
    np.testing.assert_array_equal(a.labels.data, b.labels.data)
    assert not np.array_equal(a.image.data, c.image.data)
    assert a.image.data.shape == SMALL and a.image.data.dtype == np.float32
    first = a.scene.regions[0].lattice if names[0] not in ("vacuum", "carbon") else a.scene.regions[1].lattice
    assert a.image.axes_manager[0].scale == pytest.approx(first.period / 6)
    assert len(a.positions) == len(a.column_regions) > 0


def test_nanoparticle_has_a_strong_step_and_a_thickness_ramp():
    sim = S.nanoparticle((160, 160), period_px=8, random_state=0, peak_counts=None, scan_noise=None)
    img, lab = sim.noise_free, sim.labels.data
    vac = img[lab == 0]
    assert vac.mean() < 0.03 and img[lab == 1].mean() > 0.4  # bright particle, near-zero vacuum
    # intensity rises toward the centre: columns (and the diffuse level) follow the dome
    cy, cx = sim.scene.center
    r = np.hypot(sim.true_positions[:, 0] - cy, sim.true_positions[:, 1] - cx)
    dome = sim.scene.regions[1].thickness
    y, x = sim.true_positions[:, 0] - cy, sim.true_positions[:, 1] - cx
    np.testing.assert_allclose(sim.column_intensities, dome(y, x))
    inner, outer = sim.column_intensities[r < 0.3 * r.max()], sim.column_intensities[r > 0.8 * r.max()]
    assert inner.mean() > 1.25 * outer.mean()  # dome(0.8 R) = 0.35 + 0.65 * 0.6 = 0.74
    carbon = S.nanoparticle((160, 160), period_px=8, support="carbon", random_state=0, peak_counts=None,
                            scan_noise=None)
    assert (carbon.column_regions == 0).sum() > 100 and carbon.column_sites[carbon.column_regions == 0].max() == -1


def test_nanoparticle_on_holey_carbon_has_three_regions():
    sim = S.nanoparticle((160, 160), period_px=8, support="holey carbon", random_state=0, peak_counts=None,
                         scan_noise=None)
    img, lab = sim.noise_free, sim.labels.data
    assert sim.region_names == ["carbon", "particle", "vacuum"]
    share = np.bincount(lab.ravel(), minlength=3) / lab.size
    assert 0.3 < share[0] < 0.8 and 0.2 < share[1] < 0.5 and 0.05 < share[2] < 0.2
    # the hole holds no carbon columns and is darker than the film around it
    assert img[lab == 2].mean() < 0.6 * img[lab == 0].mean()
    assert img[lab == 0].mean() < 0.3 * img[lab == 1].mean()
    with pytest.raises(ValueError, match="support must be one of"):
        S.nanoparticle((64, 64), period_px=8, support="lacey")


def test_contaminant_lies_over_the_graphene():
    sim = S.contaminated_graphene((128, 128), period_px=8, random_state=0, peak_counts=None, transmission=0.4)
    lab = sim.labels.data
    px = sim.image.axes_manager[0].scale
    iy, ix = np.clip(np.rint(sim.positions / px).astype(int), 0, 127).T
    under = (lab[iy, ix] == 2) & (sim.column_regions < 2)  # graphene columns under the contaminant
    assert under.sum() > 20
    np.testing.assert_allclose(sim.column_intensities[under], 0.4)
    np.testing.assert_allclose(sim.column_intensities[(lab[iy, ix] < 2) & (sim.column_regions < 2)], 1.0)
    assert sim.image.metadata.Simulation.probe.type == "HRTEMTransfer"
    assert sim.scene.regions[2].overlay and sim.scene.regions[2].transmission == 0.4


def test_phase_interface_geometry():
    sim = S.phase_interface((128, 128), period_px=8, random_state=0, angle=0.0, offset=0.25)
    rows = np.flatnonzero((sim.labels.data == 1).all(axis=1))
    assert rows.min() == pytest.approx(64 + 0.25 * 128, abs=2)


def test_period_px_on_every_ready_made_scene():
    for f in (S.two_grain_image, S.two_phase_image, S.particle_on_vacuum, S.crystal_and_amorphous,
              S.triple_junction, S.precipitate):
        sim = f((64, 64), period_px=5, random_state=0)
        first = sim.scene.regions[0].lattice if f is not S.particle_on_vacuum else sim.scene.regions[1].lattice
        assert sim.image.axes_manager[0].scale == pytest.approx(first.period / 5), f.__name__
    series = S.migrating_boundary_series(2, (48, 48), period_px=5, random_state=0)
    assert series.image.axes_manager[1].scale == pytest.approx(S.Lattice.centred_rectangular(0.35, 0.5).period / 5)
    # without period_px the defaults are unchanged: 0.02 nm and GaussianProbe(0.09)
    sim = S.two_grain_image((64, 64), random_state=0)
    assert sim.image.axes_manager[0].scale == 0.02 and sim.image.metadata.Simulation.probe.fwhm == 0.09


def test_distorted_imaging_shear_stretch_and_background():
    ny = 128
    opts = S.distorted_imaging((ny, ny), 0.02, jitter=0.0, shear=0.05, stretch=-0.03, background_amplitude=0.3)
    sim = S.single_crystal((ny, ny), 0.02, random_state=0, peak_counts=None, **opts)
    d = sim.scan_displacement
    height = (ny - 1) * 0.02
    assert (d[0, 1] - d[-1, 1]) / height == pytest.approx(0.05)
    assert (d[0, 0] - d[-1, 0]) / height == pytest.approx(-0.03)
    lf = opts["background"][1]
    assert lf.amplitude == 0.3 and lf.length == pytest.approx(0.2 * ny * 0.02)
    jitter = S.distorted_imaging((ny, ny), 0.02, jitter=0.5, shear=0.0, stretch=0.0)["scan_noise"]
    assert jitter.sigma == pytest.approx(0.01)


def test_distorted_imaging_background_stays_positive():
    # a detector's background is positive: the strong low-frequency field must not clip
    # the image to zero (with mean 0 it did on ~40 % of the pixels, cutting columns down)
    opts = S.distorted_imaging((256, 256), 0.02)
    lf = opts["background"][1]
    assert lf.level == pytest.approx(S._presets.BACKGROUND_LEVEL_SIGMAS * lf.amplitude)
    sim = S.two_grain_image((256, 256), 0.02, random_state=0, peak_counts=None, **opts)
    assert float(np.min(sim.image.data)) > 0.1
    flat = S.distorted_imaging((256, 256), 0.02, background_amplitude=0.0)["background"][1]
    assert flat.level == 0.0


def test_hrtem_imaging_turns_any_scene_into_hrtem():
    opts = S.hrtem_imaging(SMALL, 0.02, defocus=5.0, peak_counts=None, background=None)
    sim = S.crystal_and_amorphous(SMALL, 0.02, random_state=0, **opts)
    assert sim.image.metadata.General.title.startswith("Simulated HRTEM image")
    assert sim.noise_free.mean() == pytest.approx(1.0, abs=0.02)
    assert S.hrtem_imaging(dose=50)["peak_counts"] is None
    assert S.hrtem_imaging(SMALL, 0.02)["scan_noise"] is None


def test_bad_scene_arguments():
    with pytest.raises(ValueError, match="support must be one of"):
        S.nanoparticle(SMALL, support="glass")
    with pytest.raises(ValueError, match=r"aspect must be in \(0, 1\]"):
        S.nanoparticle(SMALL, aspect=1.5)
    with pytest.raises(ValueError, match="n_facets must be an int >= 3"):
        S.nanoparticle(SMALL, n_facets=2)
    with pytest.raises(ValueError, match="lattices must have 2 entries"):
        S.phase_interface(SMALL, lattices=[S.Lattice.square(0.3)])
    with pytest.raises(ValueError, match="give pixel_size or period_px, not both"):
        S.single_crystal(SMALL, 0.02, period_px=4)
    with pytest.raises(TypeError, match="unexpected keyword argument"):
        S.single_crystal(SMALL, colour="red")
    with pytest.raises(ValueError, match="background_amplitude must be >= 0"):
        S.distorted_imaging(background_amplitude=-1.0)
    with pytest.raises(ValueError, match="contaminant_radius must be > 0"):
        S.contaminated_graphene(SMALL, contaminant_radius=0.0)
    assert math.isfinite(S.single_crystal(SMALL, random_state=0).image.data.sum())
