"""
Separability map and the fast model
===================================

Which translations tell the patterns apart? Fisher's separability (the paper's
eq. 4) scores every operation by the spread of the pattern means over the spread
within the patterns. For translations it is a map over the shift (m, n) (the paper's
Fig. 1f): the shifts that are lattice vectors of one grain but not of the other stand
out. Keeping only the best few operations gives a fast model for other images.
"""

import hyperspy.api as hs
import matplotlib.pyplot as plt
import numpy as np

from hyperspy_symseg import metrics, simulate

hs.preferences.General.show_progressbar = False

sim = simulate.two_grain_image(shape=(256, 256), random_state=2)
seg = sim.image.symmetry_segmentation(2, random_state=0)
print(seg)

# %%
# The map is a calibrated ``Signal2D`` over the shift along y and x (nm); the
# centre pixel is the zero shift, which scores 1 everywhere and so separates
# nothing.
smap = seg.separability_map
print(smap)
ax = seg.plot_separability()
ax.set_title("Fisher separability over the shift")

# %%
# Per operation, as a ``Signal1D``; the operation names are in the descriptor
# metadata.
values = seg.separability.data
names = seg.descriptors.metadata.SymmetryDescriptors.operation_names
best = np.argsort(values)[::-1][:5]
for i in best:
    print(f"{names[i]:>10s}  separability {values[i]:.2f}")

# %%
# A fast model from the most separable operations
# -----------------------------------------------
# :meth:`~hyperspy_symseg.SymmetrySegmentation.select_operations` recomputes the
# descriptors with only those operations, refits the reduction and keeps every
# pattern's meaning. Here: how many operations are needed to reproduce the labels of
# the full model on a new image of the same specimen?
new = simulate.two_grain_image(shape=(256, 256), random_state=3)
full = seg.predict(new.image)
counts = [2, 3, 5, 10, 25, 81]
agreement, accuracy = [], []
for n in counts:
    fast = seg.select_operations(n)
    labels = fast.predict(new.image)
    agreement.append(np.mean(labels.data == full.data))
    accuracy.append(metrics.matched_accuracy(labels, new.labels))
    print(f"{n:3d} operations: agreement with the full model {agreement[-1]:.4f}, accuracy {accuracy[-1]:.4f}")

fig, ax = plt.subplots(figsize=(5, 3.4), layout="constrained")
ax.semilogx(counts, agreement, "o-", label="agreement with all 81")
ax.semilogx(counts, accuracy, "s--", label="accuracy vs ground truth")
ax.set_xlabel("operations kept")
ax.set_ylim(0.9, 1.005)
ax.legend()
