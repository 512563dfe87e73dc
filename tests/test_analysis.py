"""Areas, boundaries, velocities, confidence and outliers against direct loops."""

import numpy as np
import pytest

from hyperspy_symseg.analysis import (
    boundary_lengths,
    boundary_mask,
    boundary_positions,
    confidence,
    outlier_scores,
    outliers,
    pattern_areas,
    velocities,
)

NEIGHBOURS = ((-1, 0), (1, 0), (0, -1), (0, 1))


def boundary_mask_loop(labels, a, b):
    h, w = labels.shape
    mask = np.zeros((h, w), dtype=bool)
    for y in range(h):
        for x in range(w):
            other = {a: b, b: a}.get(int(labels[y, x]))
            if other is None:
                continue
            for dy, dx in NEIGHBOURS:
                if 0 <= y + dy < h and 0 <= x + dx < w and labels[y + dy, x + dx] == other:
                    mask[y, x] = True
    return mask


def random_labels(rng, shape, n_patterns):
    """Blocky random label images (so that boundaries are long)."""
    coarse = rng.integers(0, n_patterns, (*shape[:-2], shape[-2] // 2 + 1, shape[-1] // 2 + 1))
    fine = np.repeat(np.repeat(coarse, 2, axis=-2), 2, axis=-1)[..., : shape[-2], : shape[-1]]
    flip = rng.random(shape) < 0.1
    return np.where(flip, rng.integers(0, n_patterns, shape), fine)


class TestPatternAreas:
    def test_hand_example(self):
        labels = np.array([[0, 0, 1], [2, 1, 1]], dtype=np.uint8)
        areas, fractions = pattern_areas(labels, 4, pixel_area=0.5)
        assert areas.shape == fractions.shape == (1, 4) and areas.dtype == np.float64
        np.testing.assert_array_equal(areas, [[1.0, 1.5, 0.5, 0.0]])
        np.testing.assert_allclose(fractions, [[2 / 6, 3 / 6, 1 / 6, 0.0]], rtol=1e-15)

    def test_series_matches_loop(self):
        rng = np.random.default_rng(0)
        labels = rng.integers(0, 3, (4, 7, 9))
        areas, fractions = pattern_areas(labels, 3, pixel_area=0.25)
        assert areas.shape == (4, 3)
        for t in range(4):
            counts = [0, 0, 0]
            for y in range(7):
                for x in range(9):
                    counts[labels[t, y, x]] += 1
            np.testing.assert_allclose(areas[t], 0.25 * np.array(counts), rtol=1e-15)
            np.testing.assert_allclose(fractions[t], np.array(counts) / 63, rtol=1e-15)
        np.testing.assert_allclose(fractions.sum(axis=1), 1.0, rtol=1e-15)

    def test_invalid(self):
        with pytest.raises(ValueError, match=r"\[0, 2\).*label 2"):
            pattern_areas(np.array([[0, 2]]), 2)
        with pytest.raises(ValueError, match=r"\[0, 2\).*label -1"):
            pattern_areas(np.array([[0, -1]]), 2)
        with pytest.raises(ValueError, match="pixel_area"):
            pattern_areas(np.array([[0, 1]]), 2, pixel_area=0.0)
        with pytest.raises(ValueError, match=r"\(H, W\) or image series \(T, H, W\)"):
            pattern_areas(np.array([0, 1]), 2)
        with pytest.raises(TypeError, match="labels must hold integer"):
            pattern_areas(np.array([[0.5, 1.0]]), 2)


class TestBoundaryMask:
    LABELS = np.array(
        [
            [0, 0, 1, 1],
            [0, 0, 1, 1],
            [0, 2, 2, 1],
        ]
    )

    def test_hand_example(self):
        expected_01 = np.array(
            [
                [0, 1, 1, 0],
                [0, 1, 1, 0],
                [0, 0, 0, 0],
            ],
            dtype=bool,
        )
        expected_12 = np.array(
            [
                [0, 0, 0, 0],
                [0, 0, 1, 0],
                [0, 0, 1, 1],
            ],
            dtype=bool,
        )
        expected_02 = np.array(
            [
                [0, 0, 0, 0],
                [0, 1, 0, 0],
                [1, 1, 0, 0],
            ],
            dtype=bool,
        )
        for (a, b), expected in {(0, 1): expected_01, (1, 2): expected_12, (0, 2): expected_02}.items():
            mask = boundary_mask(self.LABELS, a, b)
            assert mask.dtype == bool and mask.shape == (3, 4)
            np.testing.assert_array_equal(mask, expected)
            np.testing.assert_array_equal(boundary_mask(self.LABELS, b, a), expected)
        assert not boundary_mask(self.LABELS, 0, 5).any()

    def test_matches_loop(self):
        rng = np.random.default_rng(1)
        for _ in range(5):
            labels = random_labels(rng, (11, 13), 3)
            for a, b in [(0, 1), (2, 0)]:
                np.testing.assert_array_equal(boundary_mask(labels, a, b), boundary_mask_loop(labels, a, b))

    def test_invalid(self):
        with pytest.raises(ValueError, match="a and b must be two different"):
            boundary_mask(self.LABELS, 1, 1)
        with pytest.raises(ValueError, match="labels2d must be a non-empty 2D"):
            boundary_mask(self.LABELS[None], 0, 1)
        with pytest.raises(ValueError, match="a must be an integer >= 0"):
            boundary_mask(self.LABELS, -1, 1)


class TestBoundaryPositions:
    def moving_boundary(self):
        """Pattern 0 left of column 5 + 2 t, pattern 1 right of it (6 x 24 pixels, 4 frames)."""
        labels = np.ones((4, 6, 24), dtype=np.int32)
        for t in range(4):
            labels[t, :, : 5 + 2 * t] = 0
        return labels

    def test_moving_vertical_boundary(self):
        labels = self.moving_boundary()
        pixel_size, origin, dt = (0.5, 0.25), (1.0, -2.0), 0.5
        positions = boundary_positions(labels, 0, 1, pixel_size=pixel_size, origin=origin)
        assert positions.shape == (4, 2) and positions.dtype == np.float64
        # boundary pixels are columns c - 1 and c for c = 5 + 2 t, so x index = c - 0.5,
        # and all rows 0..5, so y index = 2.5
        columns = 5 + 2 * np.arange(4) - 0.5
        np.testing.assert_array_equal(positions[:, 1], -2.0 + 0.25 * columns)
        np.testing.assert_array_equal(positions[:, 0], 1.0 + 0.5 * 2.5)
        v = velocities(positions, dt=dt)
        assert v.shape == (4, 2)
        # 2 px per frame * 0.25 per px / 0.5 per frame = 1.0 exactly
        np.testing.assert_array_equal(v[:, 1], 2 * 0.25 / dt)
        np.testing.assert_array_equal(v[:, 0], 0.0)
        np.testing.assert_array_equal(boundary_lengths(labels, 0, 1, pixel_size=pixel_size), 6 * 0.5)

    def test_frames_without_the_boundary_are_nan(self):
        labels = self.moving_boundary()
        labels[1] = 0  # no pattern 1
        labels[2] = np.where(labels[2] == 1, 2, 0)  # 0|2 boundary, no 0|1
        positions = boundary_positions(labels, 0, 1)
        assert np.all(np.isnan(positions[1:3]))
        np.testing.assert_array_equal(positions[[0, 3]], [[2.5, 4.5], [2.5, 10.5]])
        np.testing.assert_array_equal(boundary_lengths(labels, 0, 1), [6.0, 0.0, 0.0, 6.0])
        # every difference here uses frame 1 or 2 (v[1] = (p[2] - p[0]) / 2, v[3] = p[3] - p[2], ...)
        assert np.all(np.isnan(velocities(positions)))

    def test_two_dimensional_input_is_one_frame(self):
        labels = self.moving_boundary()[2]
        np.testing.assert_array_equal(boundary_positions(labels, 1, 0), [[2.5, 8.5]])
        np.testing.assert_array_equal(boundary_lengths(labels, 1, 0, pixel_size=2.0), [12.0])

    def test_matches_loop(self):
        rng = np.random.default_rng(2)
        labels = random_labels(rng, (3, 9, 12), 3)
        labels[1] = 2  # a frame with no 0|1 boundary
        pixel_size, origin = (0.3, 0.7), (-1.0, 4.0)
        positions = boundary_positions(labels, 0, 1, pixel_size=pixel_size, origin=origin)
        lengths = boundary_lengths(labels, 0, 1, pixel_size=pixel_size)
        for t in range(3):
            points = []
            length = 0.0
            for y in range(9):
                for x in range(12):
                    if boundary_mask_loop(labels[t], 0, 1)[y, x]:
                        points.append((origin[0] + y * pixel_size[0], origin[1] + x * pixel_size[1]))
                    if x + 1 < 12 and {labels[t, y, x], labels[t, y, x + 1]} == {0, 1}:
                        length += pixel_size[0]  # shared edge is vertical, length dy
                    if y + 1 < 9 and {labels[t, y, x], labels[t, y + 1, x]} == {0, 1}:
                        length += pixel_size[1]  # shared edge is horizontal, length dx
            if points:
                np.testing.assert_allclose(positions[t], np.mean(points, axis=0), rtol=1e-13)
            else:
                assert np.all(np.isnan(positions[t]))
            np.testing.assert_allclose(lengths[t], length, rtol=1e-13)

    def test_diagonal_boundary_length_is_staircase(self):
        # pattern 0 on and below the diagonal of a 5 x 5 image: the staircase has
        # 4 horizontal and 4 vertical unit edges
        labels = (np.arange(5)[None, :] > np.arange(5)[:, None]).astype(int)
        np.testing.assert_array_equal(boundary_lengths(labels, 0, 1), [8.0])

    def test_invalid(self):
        labels = self.moving_boundary()
        with pytest.raises(ValueError, match="pixel_size must be positive"):
            boundary_positions(labels, 0, 1, pixel_size=(0.0, 1.0))
        with pytest.raises(ValueError, match="origin must be a number or a pair"):
            boundary_positions(labels, 0, 1, origin=(0.0, 1.0, 2.0))
        with pytest.raises(ValueError, match="a and b must be two different"):
            boundary_lengths(labels, 2, 2)


class TestVelocities:
    def test_hand_values(self):
        p = np.array([0.0, 1.0, 4.0, 9.0])
        np.testing.assert_array_equal(velocities(p), [1.0, 2.0, 4.0, 5.0])
        np.testing.assert_array_equal(velocities(p, dt=2.0), [0.5, 1.0, 2.0, 2.5])

    def test_matches_loop(self):
        rng = np.random.default_rng(3)
        p = rng.normal(size=(6, 2))
        dt = 0.3
        expected = np.empty_like(p)
        for t in range(6):
            if t == 0:
                expected[t] = (p[1] - p[0]) / dt
            elif t == 5:
                expected[t] = (p[5] - p[4]) / dt
            else:
                expected[t] = (p[t + 1] - p[t - 1]) / (2 * dt)
        np.testing.assert_allclose(velocities(p, dt), expected, rtol=1e-13)

    def test_nan_propagation(self):
        p = np.array([0.0, np.nan, 2.0, 3.0, 4.0])
        np.testing.assert_array_equal(velocities(p), [np.nan, 1.0, np.nan, 1.0, 1.0])

    def test_single_frame_is_nan(self):
        v = velocities(np.array([[1.0, 2.0]]))
        assert v.shape == (1, 2) and np.all(np.isnan(v))

    def test_invalid_dt(self):
        with pytest.raises(ValueError, match="dt must be a positive"):
            velocities(np.zeros((3, 2)), dt=0.0)
        with pytest.raises(TypeError, match="dt must be a positive real"):
            velocities(np.zeros((3, 2)), dt="1")


class TestConfidence:
    def test_hand_cases(self):
        # squared distances -> Euclidean (d1, d2) -> (d2 - d1) / (d2 + d1)
        distances = np.array(
            [
                [1.0, 9.0],  # 1, 3 -> 0.5
                [0.0, 4.0],  # at the centre -> 1
                [4.0, 4.0],  # on the decision boundary -> 0
                [0.0, 0.0],  # coinciding centres -> 0
                [9.0, 1.0],  # order does not matter -> 0.5
            ]
        )
        np.testing.assert_allclose(confidence(distances), [0.5, 1.0, 0.0, 0.0, 0.5], rtol=1e-15)
        # three centres: only the two nearest count (1, 2 -> 1/3)
        np.testing.assert_allclose(confidence([[16.0, 1.0, 4.0]]), [1 / 3], rtol=1e-15)

    def test_single_centre_is_one(self):
        c = confidence(np.array([[3.0], [0.0]]))
        np.testing.assert_array_equal(c, [1.0, 1.0])

    def test_matches_loop_and_range_with_leading_shape(self):
        rng = np.random.default_rng(4)
        distances = rng.random((3, 5, 4)) ** 2
        c = confidence(distances)
        assert c.shape == (3, 5) and c.dtype == np.float64
        assert np.all((c >= 0) & (c <= 1))
        for i in range(3):
            for j in range(5):
                d = sorted(np.sqrt(distances[i, j]))
                np.testing.assert_allclose(c[i, j], (d[1] - d[0]) / (d[1] + d[0]), rtol=1e-13)

    def test_rounding_negatives_are_zero(self):
        np.testing.assert_array_equal(confidence([[-1e-15, 4.0]]), [1.0])

    def test_invalid(self):
        with pytest.raises(ValueError, match="k >= 1"):
            confidence(np.zeros((3, 0)))
        with pytest.raises(ValueError, match="NaN or infinite"):
            confidence([[np.nan, 1.0]])


def outlier_scores_loop(distances, labels):
    d = [float(np.sqrt(distances[i][labels[i]])) for i in range(len(labels))]
    scores = []
    for i in range(len(labels)):
        members = sorted(d[j] for j in range(len(labels)) if labels[j] == labels[i])
        median = float(np.median(members))
        mad = float(np.median([abs(v - median) for v in members]))
        mad = max(mad, 1e-12 * (median if median > 0 else 1.0))
        scores.append((d[i] - median) / (1.4826 * mad))
    return np.array(scores)


class TestOutliers:
    def test_hand_case(self):
        # own-centre distances 1, 2, 3, 4, 10: median 3, |d - 3| = 2, 1, 0, 1, 7 -> MAD 1
        distances = np.array([[1.0, 50.0], [4.0, 50.0], [9.0, 50.0], [16.0, 50.0], [100.0, 50.0]])
        labels = np.zeros(5, dtype=int)
        np.testing.assert_allclose(
            outlier_scores(distances, labels), np.array([-2.0, -1.0, 0.0, 1.0, 7.0]) / 1.4826, rtol=1e-14
        )
        np.testing.assert_array_equal(outliers(distances, labels), [False, False, False, False, True])
        np.testing.assert_array_equal(outliers(distances, labels, threshold=0.5), [False, False, False, True, True])

    def test_zero_mad_is_floored(self):
        # distances 1, 1, 1, 5: median 1, MAD 0 -> floor 1e-12 * 1
        distances = np.array([[1.0], [1.0], [1.0], [25.0]])
        scores = outlier_scores(distances, np.zeros(4, dtype=int))
        assert np.all(np.isfinite(scores))
        np.testing.assert_allclose(scores, [0.0, 0.0, 0.0, 4.0 / (1.4826e-12)], rtol=1e-12)
        # median 0 too: floor 1e-12
        scores = outlier_scores(np.array([[0.0], [0.0], [0.0], [4.0]]), np.zeros(4, dtype=int))
        np.testing.assert_allclose(scores, [0.0, 0.0, 0.0, 2.0 / 1.4826e-12], rtol=1e-12)

    def test_matches_loop(self):
        rng = np.random.default_rng(5)
        distances = rng.random((60, 3)) * 4
        labels = rng.integers(0, 3, 60)
        labels[labels == 2] = 1  # cluster 2 is empty
        np.testing.assert_allclose(
            outlier_scores(distances, labels), outlier_scores_loop(distances, labels), rtol=1e-12, atol=1e-12
        )

    def clusters(self, seed, n=150, dim=5):
        rng = np.random.default_rng(seed)
        centres = np.array([np.zeros(dim), np.full(dim, 6.0)])
        X = np.concatenate([rng.normal(size=(n, dim)), centres[1] + rng.normal(size=(n, dim))])
        return X, centres

    def test_planted_outlier_is_flagged(self):
        X, centres = self.clusters(6)
        X[17] = centres[0] + [8.0, 0.0, 0.0, 0.0, 0.0]  # |x - c0| = 8, typical ~ 2.1
        distances = ((X[:, None, :] - centres[None]) ** 2).sum(axis=-1)
        labels = np.argmin(distances, axis=1)
        flagged = outliers(distances, labels)
        np.testing.assert_array_equal(np.flatnonzero(flagged), [17])

    def test_clean_gaussian_clusters_have_none(self):
        # 300 samples at a ~0.1 % false-positive rate: ~0.3 expected, none with this seed
        # (largest score 2.94); the rate itself is checked below
        X, centres = self.clusters(7)
        distances = ((X[:, None, :] - centres[None]) ** 2).sum(axis=-1)
        labels = np.argmin(distances, axis=1)
        assert not outliers(distances, labels, threshold=3.5).any()
        assert outlier_scores(distances, labels).max() < 3.5

    def test_false_positive_rate_is_small(self):
        """Chi-distributed distances are skewed: about 0.1 % exceed 3.5 in 5 dimensions."""
        rng = np.random.default_rng(8)
        distances = (rng.normal(size=(100_000, 5)) ** 2).sum(axis=1, keepdims=True)
        rate = outliers(distances, np.zeros(100_000, dtype=int)).mean()
        assert 2e-4 < rate < 3e-3

    def test_leading_shape(self):
        rng = np.random.default_rng(9)
        distances = rng.random((4, 6, 2))
        labels = rng.integers(0, 2, (4, 6))
        scores = outlier_scores(distances, labels)
        assert scores.shape == (4, 6)
        np.testing.assert_allclose(
            scores.ravel(), outlier_scores(distances.reshape(-1, 2), labels.ravel()), rtol=1e-15
        )

    def test_invalid(self):
        with pytest.raises(ValueError, match=r"labels must lie in \[0, k\)"):
            outlier_scores(np.zeros((3, 2)), [0, 1, 2])
        with pytest.raises(ValueError, match="leading shape"):
            outlier_scores(np.zeros((3, 2)), [0, 1])
        with pytest.raises(TypeError, match="threshold must be a real number"):
            outliers(np.zeros((3, 2)), [0, 1, 0], threshold="3.5")
