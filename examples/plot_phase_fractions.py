"""
Phase fractions: power spectrum with NMF and N-FINDR
====================================================

The local power spectrum is non-negative, so it can be unmixed: every grid point is
modelled as a non-negative mixture of a few component spectra. With
``decomposition_algorithm="NMF"`` (HyperSpy's non-negative matrix factorisation)
or ``"nfindr"`` (N-FINDR endmembers with non-negative, sum-to-one abundances) in
place of PCA, :attr:`~hyperspy_symseg.SymmetrySegmentation.abundance_maps` gives one
phase-fraction map per component; the labels still come from k-means.
"""

import hyperspy.api as hs
import matplotlib.pyplot as plt
import numpy as np

from hyperspy_symseg import metrics, simulate

hs.preferences.General.show_progressbar = False

# Hexagonal phase (label 0, left) and perovskite [001] (label 1, right), wavy interface.
sim = simulate.two_phase_image(shape=(256, 256), random_state=0)
true_fraction = np.bincount(sim.labels.data.ravel(), minlength=2) / sim.labels.data.size
print("true area fractions:", np.round(true_fraction, 3))

results = {
    algorithm: sim.image.symmetry_segmentation(
        2, descriptor="power_spectrum", decomposition_algorithm=algorithm, random_state=0
    )
    for algorithm in ("PCA", "NMF", "nfindr")
}
for algorithm, seg in results.items():
    print(f"{algorithm:6s} accuracy {metrics.matched_accuracy(seg.labels, sim.labels):.3f}  "
          f"label fractions {np.round(seg.pattern_sizes / seg.pattern_sizes.sum(), 3)}")

# %%
# Abundance maps
# --------------
# One map per component on the descriptor grid (calibrated like the image). Each
# pixel's fractions sum to one. Their means estimate the phase fractions over the
# grid, which starts ``window_x`` = 20 px from the image edges. N-FINDR's endmembers
# are grid points (pure phase where the phases are large), so its means come close
# to the true 50/50; NMF's components are additive parts that need not be pure
# phases, so its weights are biased here even though its labels are right.
fig, axes = plt.subplots(2, 3, figsize=(10, 6.4), layout="constrained")
for row, algorithm in zip(axes, ("NMF", "nfindr")):
    seg = results[algorithm]
    maps = seg.abundance_maps  # navigation: component; signal: the grid (x, y)
    print(algorithm, "mean abundance per component:", np.round(maps.data.mean(axis=(1, 2)), 3))
    row[0].imshow(sim.image.data, cmap="gray")
    row[0].set_title("image")
    for k in range(2):
        image = row[k + 1].imshow(maps.data[k], vmin=0, vmax=1, cmap="viridis")
        row[k + 1].set_title(f"{algorithm}, component {k}")
    for ax in row:
        ax.set_axis_off()
fig.colorbar(image, ax=axes, shrink=0.6, label="fraction")

# %%
# Which component is which phase? The component spectra (the decomposition factors)
# are power spectra with the lattice peaks of each phase. Here the two N-FINDR
# endmembers, drawn on the plane of the kept frequencies (the descriptor stores one
# half; the other follows from ``P(-k) = P(k)``).
seg = results["nfindr"]
factors = seg.descriptors.get_decomposition_factors().data  # (component, channel)
a, b = seg.descriptor.channels.T  # frequency indices: k = (a / Ly, b / Lx)
factors = factors[:, : a.size]  # the spectrum's channels (crystallinity and intensity follow)
ly, lx = seg.descriptor.window_shape
half = max(np.abs(a).max(), np.abs(b).max())
extent = np.array([-half - 0.5, half + 0.5])
fig, axes = plt.subplots(1, 2, figsize=(8, 3.8), layout="constrained")
for k, ax in enumerate(axes):
    plane = np.full((2 * half + 1, 2 * half + 1), np.nan)
    plane[half + a, half + b] = factors[k]
    plane[half - a, half - b] = factors[k]
    ax.imshow(plane, cmap="magma", extent=(*(extent / lx), *(extent[::-1] / ly)), interpolation="nearest")
    ax.set_title(f"N-FINDR endmember {k}")
    ax.set_xlabel("$k_x$ (cycles/px)")
    ax.set_ylabel("$k_y$ (cycles/px)")
