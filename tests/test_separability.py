"""Fisher separability, operation ranking and the separability map against direct loops."""

import numpy as np
import pytest

import hyperspy_symseg.separability as sep_module
from hyperspy_symseg.descriptors._grid import translation_grid
from hyperspy_symseg.separability import fisher_separability, rank_operations, separability_map


def separability_loop(features, labels):
    """Eq. 4 by explicit loops over features, classes and samples (float64)."""
    features = np.asarray(features, dtype=np.float64)
    n_samples, n_features = features.shape
    out = np.zeros(n_features)
    for f in range(n_features):
        classes = {}
        for i in range(n_samples):
            if labels[i] >= 0:
                classes.setdefault(int(labels[i]), []).append(features[i, f])
        values = [v for members in classes.values() for v in members]
        mu = sum(values) / len(values)
        between = 0.0
        within = 0.0
        for members in classes.values():
            mu_k = sum(members) / len(members)
            between += len(members) * (mu_k - mu) ** 2
            within += sum((v - mu_k) ** 2 for v in members)  # = N_k * sigma_k^2
        total = between + within
        out[f] = 0.0 if total == 0 else between / max(within, 1e-12 * total)
    return out


def separability_two_pass(features, labels):
    """Vectorised two-pass float64 reference for large inputs."""
    X = np.asarray(features, dtype=np.float64)
    mu = X.mean(axis=0)
    between = np.zeros(X.shape[1])
    within = np.zeros(X.shape[1])
    for k in np.unique(labels):
        xk = X[labels == k]
        between += len(xk) * (xk.mean(axis=0) - mu) ** 2
        within += ((xk - xk.mean(axis=0)) ** 2).sum(axis=0)
    return between / within


class TestFisherSeparability:
    def test_hand_computed(self):
        # class 0: {0, 1} (mean 0.5), class 1: {2, 3} (mean 2.5), grand mean 1.5
        # between = 2 * 1^2 + 2 * 1^2 = 4; within = 2 * 0.25 + 2 * 0.25 = 1 -> S = 4
        # second feature: class 0 {1, 1}, class 1 {1, 5}: mean 1, 3; grand 2
        # between = 2 + 2 = 4; within = 0 + 2 * 4 = 8 -> S = 0.5
        features = np.array([[0.0, 1.0], [1.0, 1.0], [2.0, 1.0], [3.0, 5.0]])
        s = fisher_separability(features, np.array([0, 0, 1, 1]))
        assert s.dtype == np.float64 and s.shape == (2,)
        np.testing.assert_allclose(s, [4.0, 0.5], rtol=1e-14)

    def test_perfect_beats_noisy_beats_random(self):
        rng = np.random.default_rng(0)
        labels = rng.integers(0, 3, 600)
        features = np.stack(
            [
                labels.astype(float),  # perfect: no within-class spread
                labels + 0.5 * rng.normal(size=600),  # informative but noisy
                rng.normal(size=600),  # unrelated to the labels
            ],
            axis=1,
        ).astype(np.float32)
        s = fisher_separability(features, labels)
        assert s[0] > s[1] > s[2] > 0
        assert np.all(np.isfinite(s))
        # perfect separation: within scatter floored at 1e-12 of the total
        np.testing.assert_allclose(s[0], 1e12, rtol=1e-9)
        # noisy: between/within ~ Var(labels) / 0.25 ~ (2/3) / 0.25
        assert 2.0 < s[1] < 3.5
        # random: ~ (K - 1) / N
        assert s[2] < 0.02

    def test_constant_feature_scores_zero(self):
        rng = np.random.default_rng(1)
        labels = rng.integers(0, 2, 100)
        features = np.column_stack([np.ones(100), rng.normal(size=100), np.full(100, -3.0)])
        s = fisher_separability(features.astype(np.float32), labels)
        assert np.all(np.isfinite(s))
        assert s[0] == 0.0 and s[2] == 0.0 and s[1] > 0

    @pytest.mark.parametrize("dtype", [np.float32, np.float64, np.int16])
    def test_matches_loop_three_classes(self, dtype):
        rng = np.random.default_rng(2)
        labels = rng.integers(0, 3, 240)
        features = rng.normal(size=(240, 7)) * [1, 2, 3, 4, 5, 6, 7] + 0.8 * labels[:, None] * [0, 1, 0, 2, 0, 3, 1]
        features = (10 * features).astype(dtype) if dtype == np.int16 else features.astype(dtype)
        expected = separability_loop(features, labels)
        np.testing.assert_allclose(fisher_separability(features, labels), expected, rtol=1e-12)

    def test_chunked_float32_equals_float64(self, monkeypatch):
        rng = np.random.default_rng(3)
        n = 100_000
        labels = rng.integers(0, 4, n)
        # a large common offset makes one-pass (sum of squares) formulas lose digits
        features = (50.0 + rng.normal(size=(n, 20)) + 0.05 * labels[:, None] * np.arange(20)).astype(np.float32)
        whole64 = fisher_separability(features.astype(np.float64), labels)
        monkeypatch.setattr(sep_module, "CHUNK_ROWS", 7919)  # many chunks, last one partial
        chunked32 = fisher_separability(features, labels)
        np.testing.assert_allclose(chunked32, whole64, rtol=1e-9)
        np.testing.assert_allclose(chunked32, separability_two_pass(features, labels), rtol=1e-9)

    def test_float32_is_read_without_full_copy(self, monkeypatch):
        """The kernel sees float32 chunks of at most CHUNK_ROWS rows, never a float64 copy."""
        seen = []
        kernel = sep_module._block_moments_kernel

        def spy(X, *args):
            seen.append((X.dtype, X.shape[0]))
            return kernel(X, *args)

        monkeypatch.setattr(sep_module, "_block_moments_kernel", spy)
        monkeypatch.setattr(sep_module, "CHUNK_ROWS", 1000)
        rng = np.random.default_rng(4)
        fisher_separability(rng.normal(size=(2500, 3)).astype(np.float32), rng.integers(0, 2, 2500))
        assert seen == [(np.float32, 1000), (np.float32, 1000), (np.float32, 500)]

    def test_minus_one_is_ignored(self):
        rng = np.random.default_rng(5)
        labels = rng.integers(0, 3, 300)
        features = rng.normal(size=(300, 4)) + labels[:, None]
        ignored = rng.random(300) < 0.3
        masked = np.where(ignored, -1, labels)
        features_with_junk = features.copy()
        features_with_junk[ignored] = 1e6  # would dominate if used
        s = fisher_separability(features_with_junk, masked)
        np.testing.assert_allclose(s, separability_loop(features[~ignored], labels[~ignored]), rtol=1e-12)

    def test_empty_classes_are_ignored(self):
        rng = np.random.default_rng(6)
        labels = rng.integers(0, 2, 200)
        features = rng.normal(size=(200, 3)) + labels[:, None]
        # patterns 0 and 1 renamed to 1 and 3 of 5: patterns 0, 2, 4 have no samples
        s = fisher_separability(features, 2 * labels + 1, n_labels=5)
        np.testing.assert_allclose(s, fisher_separability(features, labels), rtol=1e-13)

    def test_single_class_scores_zero(self):
        rng = np.random.default_rng(7)
        s = fisher_separability(rng.normal(size=(50, 3)), np.full(50, 2), n_labels=4)
        np.testing.assert_array_equal(s, 0.0)

    def test_invalid_arguments(self):
        X = np.zeros((4, 2))
        with pytest.raises(ValueError, match="labels must lie in"):
            fisher_separability(X, [0, 1, 2, 0], n_labels=2)
        with pytest.raises(ValueError, match="-1 to ignore"):
            fisher_separability(X, [0, -2, 1, 0])
        with pytest.raises(ValueError, match="one label per sample"):
            fisher_separability(X, [0, 1, 0])
        with pytest.raises(ValueError, match="at least one labelled sample"):
            fisher_separability(X, [-1, -1, -1, -1])
        with pytest.raises(ValueError, match="2D"):
            fisher_separability(np.zeros(4), [0, 1, 0, 1])
        with pytest.raises(TypeError, match="features must hold real numbers"):
            fisher_separability(X.astype(complex), [0, 1, 0, 1])
        with pytest.raises(TypeError, match="labels must hold integers"):
            fisher_separability(X, [0, 0.5, 0, 1])
        with pytest.raises(ValueError, match="n_labels"):
            fisher_separability(X, [0, 1, 0, 1], n_labels=0)
        bad = np.array([[0.0, 1.0], [np.nan, 2.0], [1.0, 3.0], [2.0, 4.0]])
        with pytest.raises(ValueError, match=r"NaN or infinite.*\[0\]"):
            fisher_separability(bad, [0, 1, 0, 1])


class TestRankOperations:
    def test_ties_keep_lower_index(self):
        s = np.array([1.0, 3.0, 3.0, 2.0, 3.0, 0.0])
        ranked = rank_operations(s, 4)
        assert ranked.dtype == np.int64
        np.testing.assert_array_equal(ranked, [1, 2, 4, 3])
        np.testing.assert_array_equal(rank_operations(s, 6), [1, 2, 4, 3, 0, 5])

    def test_matches_loop(self):
        rng = np.random.default_rng(8)
        s = rng.integers(0, 5, 40).astype(float)  # many ties
        remaining = list(range(40))
        expected = []
        for _ in range(10):  # selection: largest value, lowest index among equals
            best = remaining[0]
            for i in remaining:
                if s[i] > s[best]:
                    best = i
            expected.append(best)
            remaining.remove(best)
        np.testing.assert_array_equal(rank_operations(s, 10), expected)

    def test_nan_ranks_last(self):
        np.testing.assert_array_equal(rank_operations([np.nan, 0.5, 2.0], 3), [2, 1, 0])

    def test_invalid_n(self):
        with pytest.raises(ValueError, match=r"n must be an integer in \[1, 3\]"):
            rank_operations([1.0, 2.0, 3.0], 4)
        with pytest.raises(ValueError, match=r"n must be an integer in \[1, 3\]"):
            rank_operations([1.0, 2.0, 3.0], 0)
        with pytest.raises(TypeError, match="n must be an integer"):
            rank_operations([1.0, 2.0, 3.0], 1.5)


class TestSeparabilityMap:
    def test_grid_with_holes(self):
        shifts = translation_grid(20, 20, 100)  # 81 shifts, -20..20 step 5
        assert len(shifts) == 81
        removed = [(0, 0), (5, -20), (-20, 15), (20, 20)]
        keep = np.array([tuple(s) not in removed for s in shifts.tolist()])
        shifts = shifts[keep][::-1]  # order does not matter
        values = 1.0 + np.arange(len(shifts), dtype=float)
        smap, m_values, n_values = separability_map(values, shifts)
        np.testing.assert_array_equal(m_values, np.arange(-20, 21, 5))
        np.testing.assert_array_equal(n_values, np.arange(-20, 21, 5))
        assert smap.shape == (9, 9) and smap.dtype == np.float64
        expected = np.full((9, 9), np.nan)
        for value, (m, n) in zip(values, shifts.tolist()):  # loop reference
            expected[(m + 20) // 5, (n + 20) // 5] = value
        np.testing.assert_array_equal(smap, expected)
        holes = {(int(m_values[i]), int(n_values[j])) for i, j in zip(*np.nonzero(np.isnan(smap)))}
        assert holes == set(removed)

    def test_zero_shift_is_an_ordinary_entry(self):
        shifts = np.array([[0, -1], [0, 0], [0, 1], [1, -1], [1, 0], [1, 1]])
        smap, m_values, n_values = separability_map([5.0, 0.0, 2.0, 3.0, 4.0, 1.0], shifts)
        np.testing.assert_array_equal(smap, [[5.0, 0.0, 2.0], [3.0, 4.0, 1.0]])
        np.testing.assert_array_equal(m_values, [0, 1])
        np.testing.assert_array_equal(n_values, [-1, 0, 1])

    def test_missing_row_keeps_the_step(self):
        shifts = np.array([[-10, 0], [-5, 0], [5, 0], [10, 0]])
        smap, m_values, n_values = separability_map([1.0, 2.0, 3.0, 4.0], shifts)
        np.testing.assert_array_equal(m_values, [-10, -5, 0, 5, 10])
        np.testing.assert_array_equal(n_values, [0])
        np.testing.assert_array_equal(smap[:, 0], [1.0, 2.0, np.nan, 3.0, 4.0])

    def test_irregular_grid_is_refused(self):
        shifts = np.array([[0, 0], [2, 0], [5, 0]])
        with pytest.raises(ValueError, match=r"not on a regular grid.*m \(row shift\)"):
            separability_map([1.0, 2.0, 3.0], shifts)
        shifts = np.array([[0, 0], [0, 4], [0, 10]])
        with pytest.raises(ValueError, match=r"not on a regular grid.*n \(column shift\)"):
            separability_map([1.0, 2.0, 3.0], shifts)

    def test_invalid_arguments(self):
        with pytest.raises(ValueError, match="distinct"):
            separability_map([1.0, 2.0], [[0, 0], [0, 0]])
        with pytest.raises(ValueError, match=r"\(N, 2\)"):
            separability_map([1.0, 2.0], [[0, 0]])
        with pytest.raises(TypeError, match="integer translations"):
            separability_map([1.0], [[0.5, 0.0]])

    def test_end_to_end_on_grain_labels(self):
        # descriptor columns built by hand: the zero shift is 1 everywhere,
        # shift (0, 5) differs between grains, shift (5, 0) is noise
        rng = np.random.default_rng(9)
        labels = np.repeat([0, 1], 500)
        shifts = np.array([[0, 0], [0, 5], [5, 0], [5, 5]])
        features = np.column_stack(
            [
                np.ones(1000),
                np.where(labels == 0, 0.9, 0.2) + 0.05 * rng.normal(size=1000),
                0.5 + 0.05 * rng.normal(size=1000),
                np.where(labels == 0, 0.6, 0.4) + 0.05 * rng.normal(size=1000),
            ]
        ).astype(np.float32)
        s = fisher_separability(features, labels)
        assert s[0] == 0.0
        np.testing.assert_array_equal(rank_operations(s, 2), [1, 3])
        smap, m_values, n_values = separability_map(s, shifts)
        np.testing.assert_array_equal(m_values, [0, 5])
        np.testing.assert_array_equal(smap, s.reshape(2, 2))
