"""Rotation and reflection descriptors against direct references."""

import numpy as np
import pytest
import scipy.ndimage
from conftest import two_grain

from hyperspy_symseg.descriptors import make_descriptor
from hyperspy_symseg.descriptors import point_symmetry as ps
from hyperspy_symseg.descriptors.translation import normalized_image

ROT = "rotational_symmetry_maximum_pooling"
REF = "reflection_symmetry_maximum_pooling"


@pytest.fixture(scope="module")
def image():
    img, _ = two_grain((70, 76), period=7.0, noise=0.3, seed=3)
    return img


def weighted_pearson(a, b, w):
    ma = (w * a).sum() / w.sum()
    mb = (w * b).sum() / w.sum()
    return (w * (a - ma) * (b - mb)).sum() / np.sqrt((w * (a - ma) ** 2).sum() * (w * (b - mb) ** 2).sum())


def reference_score(img, y, x, kind, angle, radius, n_radii, n_angles):
    """Pearson of the patch with its transform: disk pixels for exact operations,
    scipy's cubic-spline values at the polar samples otherwise."""
    mat = ps.rotation_matrix(angle) if kind == "rotation" else ps.mirror_matrix(angle)
    if ps.is_exact(mat):
        r = int(np.floor(radius))
        offsets = np.array([(dy, dx) for dy in range(-r, r + 1) for dx in range(-r, r + 1) if dy * dy + dx * dx <= radius**2])
        moved = np.rint(offsets @ mat.T).astype(int)
        a = img[y + offsets[:, 0], x + offsets[:, 1]]
        b = img[y + moved[:, 0], x + moved[:, 1]]
        return weighted_pearson(a, b, np.ones(len(a)))
    rho = radius * (np.arange(n_radii) + 0.5) / n_radii
    theta = np.deg2rad(360 * np.arange(n_angles) / n_angles)
    offsets = np.array([(-r * np.sin(t), r * np.cos(t)) for r in rho for t in theta])
    weights = np.repeat(rho, n_angles)
    at = lambda off: scipy.ndimage.map_coordinates(img, (np.array([y, x]) + off).T, order=3, mode="mirror")  # noqa: E731
    return weighted_pearson(at(offsets), at(offsets @ mat.T), weights)


class TestOperations:
    def test_rotation_convention(self):
        # counter-clockwise as displayed: +x (0, 1) goes to "up" (-1, 0)
        np.testing.assert_array_equal(ps.rotation_matrix(90) @ [0, 1], [-1, 0])
        np.testing.assert_allclose(ps.rotation_matrix(60) @ [0, 1], [-np.sin(np.pi / 3), 0.5])

    def test_mirror_convention(self):
        np.testing.assert_array_equal(ps.mirror_matrix(0) @ [3, 2], [-3, 2])  # horizontal axis
        np.testing.assert_array_equal(ps.mirror_matrix(90) @ [3, 2], [3, -2])
        np.testing.assert_array_equal(ps.mirror_matrix(45) @ [-1, 1], [-1, 1])  # on the axis
        for beta in (0, 18, 45, 100):
            m = ps.mirror_matrix(beta)
            np.testing.assert_allclose(m @ m, np.eye(2), atol=1e-12)

    def test_exact_operations(self):
        assert ps.is_exact(ps.rotation_matrix(90)) and ps.is_exact(ps.rotation_matrix(180))
        assert not ps.is_exact(ps.rotation_matrix(60))
        assert ps.is_exact(ps.mirror_matrix(135)) and not ps.is_exact(ps.mirror_matrix(18))

    def test_angular_step(self):
        assert ps.angular_step([60, 120]) == 6
        assert ps.angular_step([36, 72]) == 10
        assert ps.angular_step([360 / 7]) == 7
        with pytest.raises(ValueError, match="commensurate"):
            ps.angular_step([0.0123])

    def test_polar_permutation_is_the_operation(self):
        off, _ = ps.polar_offsets(5.0, 3, 12)
        for kind, angle in [("rotation", 60), ("rotation", 150), ("mirror", 30), ("mirror", 75)]:
            perm = ps.polar_permutation(3, 12, kind, angle)
            mat = ps.rotation_matrix(angle) if kind == "rotation" else ps.mirror_matrix(angle)
            np.testing.assert_allclose(off @ mat.T, off[perm], atol=1e-12)

    def test_operation_pairs(self):
        perm = np.array([2, 1, 0, 3])  # an involution with two fixed points
        pairs, w = ps.operation_pairs(perm)
        a = np.array([1.0, 2.0, 3.0, 4.0])
        assert (w * a[pairs[:, 0]] * a[pairs[:, 1]]).sum() == (a * a[perm]).sum()
        assert len(pairs) == 3
        cyc = np.array([1, 2, 0])
        pairs, w = ps.operation_pairs(cyc, np.array([1.0, 2.0, 3.0]))
        assert len(pairs) == 3 and w.tolist() == [1.0, 2.0, 3.0]


class TestScores:
    @pytest.mark.parametrize("name", [ROT, REF])
    @pytest.mark.parametrize("radius, step", [(5.0, 1), (6.5, 3)])
    def test_equal_brute_force(self, image, name, radius, step):
        d = make_descriptor(name, radius=radius, window_x=3, window_y=3, pool_step=step, num_reflection_plane=8) if name == REF else make_descriptor(
            name, radius=radius, window_x=3, window_y=3, pool_step=step
        )
        scores, y0, x0, st = d.score_map(image)
        assert (y0, x0, st) == (int(np.ceil(radius)) + 2,) * 2 + (step,)
        img = normalized_image(image)
        for a, b in [(0, 0), (3, 5), (scores.shape[0] - 1, scores.shape[1] - 1)]:
            y, x = y0 + a * step, x0 + b * step
            for c, (kind, angle) in enumerate(d.operation_order()):
                ref = reference_score(img, y, x, kind, angle, radius, d.n_radii, d.n_angles)
                assert scores[a, b, c] == pytest.approx(ref, abs=2e-6), (kind, angle)

    def test_invariant_to_constant_and_scale(self, image):
        d = make_descriptor(ROT, radius=5, window_x=2, window_y=2, pool_step=2)
        base = d.compute(image, 3)
        np.testing.assert_allclose(d.compute(image * 1e-3 + 1e5, 3), base, atol=1e-5)

    def test_flat_region_scores_zero_never_nan(self):
        img = np.zeros((60, 60))
        img[:, 30:] = np.random.default_rng(0).normal(size=(60, 30))
        d = make_descriptor(REF, radius=4, window_x=2, window_y=2, pool_step=1, num_reflection_plane=6)
        scores, y0, x0, _ = d.score_map(img)
        assert np.isfinite(scores).all()
        assert np.all(scores[10, 12 - x0] == 0)  # disk entirely in the flat half

    def test_flip_permutes_mirrors(self, image):
        """Mirroring the image left-right maps the axis at beta to 180 - beta."""
        img = image[:, :75]  # odd width: the score lattice is symmetric
        d = make_descriptor(REF, radius=5, window_x=2, window_y=2, pool_step=1, num_reflection_plane=10)
        s, *_ = d.score_map(img)
        f, *_ = d.score_map(img[:, ::-1])
        order = d.operation_order()
        for c, (_, beta) in enumerate(order):
            c2 = order.index(("mirror", (180 - beta) % 180))
            np.testing.assert_allclose(f[:, ::-1, c2], s[:, :, c], atol=1e-5)

    def test_rotating_image_keeps_rotation_scores(self, image):
        img = image[:61, :61]
        d = make_descriptor(ROT, radius=5, window_x=2, window_y=2, pool_step=1)
        s, *_ = d.score_map(img)
        r, *_ = d.score_map(np.rot90(img))
        np.testing.assert_allclose(r, np.rot90(s), atol=1e-5)


class TestPooling:
    @pytest.mark.parametrize("edges", ["shrink", "exclude"])
    @pytest.mark.parametrize("num_max", [1, 3])
    def test_equals_window_maximum(self, image, edges, num_max):
        d = make_descriptor(ROT, radius=4, window_x=5, window_y=3, pool_step=2, num_max=num_max, edges=edges)
        stride = 4
        desc = d.compute(image, stride)
        grid = d.grid(image.shape, stride)
        scores, y0, x0, step = d.score_map(image)
        ys = y0 + step * np.arange(scores.shape[0])
        xs = x0 + step * np.arange(scores.shape[1])
        order = d.operation_order()
        for i in sorted({0, grid.ny // 2, grid.ny - 1}):
            for j in sorted({0, grid.nx - 1}):
                yc, xc = grid.y0 + i * stride, grid.x0 + j * stride
                inside = scores[np.abs(ys - yc) <= 3][:, np.abs(xs - xc) <= 5]
                for u, (kind, angle) in enumerate(zip(d.kinds, d.angles)):
                    vals = np.sort(inside[..., order.index((kind, angle))].ravel())[::-1]
                    expect = vals[:num_max]
                    np.testing.assert_array_equal(desc[i, j, u * num_max : (u + 1) * num_max], expect)
        if edges == "exclude":  # every window lies inside the scored region
            assert grid.y0 - 3 >= y0 and grid.x0 - 5 >= x0

    def test_shrink_reaches_the_scored_border(self, image):
        d = make_descriptor(ROT, radius=4, window_x=5, window_y=5)
        grid = d.grid(image.shape, 3)
        assert grid.y0 >= d.score_margin and grid.y0 - 3 < d.score_margin


class TestParameters:
    def test_defaults_and_names(self):
        d = make_descriptor(ROT)
        assert d.angles == (60.0, 90.0, 120.0, 180.0) and d.radius == 20 and d.n_angles == 48
        assert (d.num_max, d.pool_step, d.window_x) == (1, 3, 20) and d.n_operations == 4
        assert d.operation_names() == ["R60", "R90", "R120", "R180"]
        assert make_descriptor(REF).n_operations == 100
        r = make_descriptor(REF, num_max=2)
        assert r.angles == tuple(18.0 * k for k in range(10)) and r.n_angles == 50
        assert r.operation_names()[:3] == ["M0 #1", "M0 #2", "M18 #1"] and r.n_operations == 20
        assert r.subset([2, 3, 7]).angles == (18.0, 54.0)

    @pytest.mark.parametrize(
        "name, kwargs, error, pattern",
        [
            (ROT, {"radius": 0.5}, ValueError, "radius must be a number >= 1"),
            (ROT, {"num_max": 0}, ValueError, "num_max must be an integer in"),
            (ROT, {"window_x": 1, "window_y": 1, "num_max": 10}, ValueError, r"num_max must be an integer in \[1, 9\]"),
            (ROT, {"pool_step": 0}, ValueError, "pool_step must be an integer >= 1"),
            (ROT, {"angles": [60, 90], "n_angles": 40}, ValueError, "n_angles must be a multiple of 6"),
            (ROT, {"angles": [0.0123]}, ValueError, "commensurate"),
            (ROT, {"angles": [360]}, ValueError, "not multiples of 360"),
            (ROT, {"angles": "sixty"}, TypeError, "angles must be a sequence"),
            (REF, {"num_reflection_plane": 0}, ValueError, "num_reflection_plane must be an integer >= 1"),
            (REF, {"angles": [60]}, TypeError, "'angles' belongs to 'rotational_symmetry_maximum_pooling'"),
        ],
    )
    def test_errors(self, name, kwargs, error, pattern):
        with pytest.raises(error, match=pattern):
            make_descriptor(name, **kwargs)


def test_bicrystal_behaviour_of_the_paper():
    """Paper, Fig. 10: rotations see both grains as one pattern and the boundary as
    another; reflections separate the two grains."""
    from hyperspy_symseg import metrics, simulate, symmetry_segment

    sim = simulate.two_grain_image(shape=(256, 256), random_state=1)
    truth = sim.labels.data
    rot = symmetry_segment(sim.image, 2, descriptor=ROT, stride=4, random_state=0).data
    # distance of every pixel from the grain boundary
    boundary = np.zeros_like(truth, dtype=bool)
    boundary[:, 1:] |= truth[:, 1:] != truth[:, :-1]
    dist = scipy.ndimage.distance_transform_edt(~boundary)
    small = rot == 0  # labels are sorted by size: 0 is the boundary band
    assert small.mean() < 0.35
    assert np.median(dist[small]) < 15  # the small pattern hugs the boundary
    assert np.mean(rot[dist > 45] == 1) > 0.95  # both grain interiors share the large pattern
    ref = symmetry_segment(sim.image, 2, descriptor=REF, stride=4, random_state=0)
    assert metrics.matched_accuracy(ref, sim.labels) > 0.95
