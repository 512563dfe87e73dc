"""
Confidence and outliers
=======================

A fitted model knows more than the label of a pixel: how close the pixel's
descriptor is to its own pattern's centre and to the next one. Two maps follow:

* :meth:`~hyperspy_symseg.SymmetrySegmentation.confidence_map`:
  ``(d2 - d1) / (d2 + d1)`` from the distances to the nearest and second-nearest
  centre, 1 at a centre and 0 on the decision boundary;
* :meth:`~hyperspy_symseg.SymmetrySegmentation.outlier_map`: pixels unusually far
  from their own centre (a robust z-score above a threshold), where the image fits
  no pattern well: boundaries, defects, contamination.

Here a precipitate of another lattice sits in a square matrix; the model is fitted
on a scene without the amorphous patch that a second image has, and the patch shows
up as low confidence and outliers.
"""

import hyperspy.api as hs
import matplotlib.pyplot as plt
import numpy as np

from hyperspy_symseg import simulate

hs.preferences.General.show_progressbar = False

fit_on = simulate.precipitate(shape=(256, 256), random_state=0)
seg = fit_on.image.symmetry_segmentation(2, random_state=0)
print(seg)

# %%
# A second image of the same specimen with an amorphous patch in the matrix (a
# third region the model has never seen).
matrix = simulate.Lattice.square(0.36)
particle = simulate.Lattice.hexagonal(0.3, rotation=10.0, intensities=(1.3,))
scene = simulate.Scene(
    (256, 256), 0.02,
    [simulate.Region(matrix, name="matrix"),
     simulate.Region(particle, simulate.Ellipse((0.0, 0.0), (1.5, 0.9), 30.0), name="precipitate"),
     simulate.Region(simulate.Amorphous(), simulate.Ellipse((-1.6, 1.6), (0.7, 0.7), 0.0), name="amorphous")],
)
other = simulate.simulate_image(scene, peak_counts=100, random_state=1)

confidence = seg.confidence_map(other.image)
outliers = seg.outlier_map(threshold=3.5, signal=other.image)
truth = other.labels.data
print(f"mean confidence: matrix {confidence.data[truth == 0].mean():.2f}, "
      f"precipitate {confidence.data[truth == 1].mean():.2f}, amorphous {confidence.data[truth == 2].mean():.2f}")
print(f"outlier fraction: matrix {outliers.data[truth == 0].mean():.1%}, "
      f"precipitate {outliers.data[truth == 1].mean():.1%}, amorphous {outliers.data[truth == 2].mean():.1%}")

# %%
fig, axes = plt.subplots(1, 3, figsize=(12, 4), layout="constrained")
axes[0].imshow(other.image.data, cmap="gray")
axes[0].contour(truth, levels=[0.5, 1.5], colors="w", linewidths=0.8)
axes[0].set_title("second image (true regions outlined)")
image = axes[1].imshow(confidence.data, cmap="magma", vmin=0, vmax=1)
fig.colorbar(image, ax=axes[1], shrink=0.8, label="confidence")
axes[1].set_title("confidence")
axes[2].imshow(other.image.data, cmap="gray")
axes[2].imshow(np.ma.masked_where(~outliers.data, outliers.data), cmap="autumn", alpha=0.7)
axes[2].set_title(f"outliers (z > 3.5): {outliers.metadata.Outliers.fraction:.1%} of the pixels")
for ax in axes:
    ax.set_axis_off()
