"""
A migrating boundary: fast model, areas and boundary velocity
=============================================================

An in-situ video of a twin boundary that migrates and bulges while the specimen
drifts. The model is fitted on the first frame with all 81 translations, then
reduced to the 5 most separable ones (the paper's fast path, Fig. 7) and applied to
every frame, so label 0 means the same grain in every frame. From the labels:
pattern areas per frame and the boundary's position and velocity, checked against
the ground truth of the forward model.
"""

import hyperspy.api as hs
import matplotlib.pyplot as plt
import numpy as np

from hyperspy_symseg import analysis, metrics, simulate

hs.preferences.General.show_progressbar = False

sim = simulate.migrating_boundary_series(n_frames=8, shape=(256, 256), frame_time=0.5, random_state=0)
video = sim.image
print(video)  # (t | y, x); the t axis is calibrated in s

# %%
# Fit on frame 0, keep the 5 most separable operations
# ----------------------------------------------------
seg = video.symmetry_segmentation(2, reference_frames=[0], n_operations=5, random_state=0)
print(seg)
print("kept operations:", seg.descriptor.operation_names())
print("full model:     ", seg.full)

# %%
# Every frame is labelled with the fast model. Per-frame accuracy against the
# ground truth, and agreement with the full 81-operation model:
full_labels = seg.full.predict(video)
scores = metrics.segmentation_scores(seg.labels, sim.labels, per_frame=True)
agreement = np.mean(seg.labels.data == full_labels.data, axis=(1, 2))
print("accuracy per frame:      ", np.round(scores["per_frame"]["accuracy"], 3))
print("agreement with full model:", np.round(agreement, 4))

# %%
fig, axes = plt.subplots(2, 4, figsize=(11, 5.8), layout="constrained")
for frame, ax in enumerate(axes.ravel()):
    seg.plot(ax=ax, frame=frame)
    ax.get_legend().remove()
    ax.set_title(f"t = {frame * 0.5:.1f} s")
    ax.set_axis_off()

# %%
# Pattern areas
# -------------
# :meth:`~hyperspy_symseg.SymmetrySegmentation.pattern_areas` gives a ``Signal1D``
# with one row per pattern over the calibrated time axis.
fractions = seg.pattern_areas(fraction=True)
true_fractions = analysis.pattern_areas(sim.labels.data, 2)[1]
t = fractions.axes_manager.signal_axes[0].axis
fig, ax = plt.subplots(figsize=(5, 3.2), layout="constrained")
for k in range(2):
    ax.plot(t, fractions.data[k], "o-", label=f"pattern {k}")
    ax.plot(t, true_fractions[:, k], "k--", lw=1, label="ground truth" if k == 0 else None)
ax.set_xlabel("t (s)")
ax.set_ylabel("area fraction")
ax.legend()

# %%
# Boundary position and velocity
# ------------------------------
# :meth:`~hyperspy_symseg.SymmetrySegmentation.track_boundary` returns the mean
# position (y, x) of the boundary pixels per frame, its velocity (here in nm/s, from
# the calibrated axes) and its length. The same functions of
# :mod:`hyperspy_symseg.analysis` give the ground truth's.
track = seg.track_boundary(0, 1)
pattern_of_left_grain = metrics.match_labels(seg.labels, sim.labels)
print("label -> true grain:", pattern_of_left_grain)
x_scale = video.axes_manager.signal_axes[0].scale
true_x = analysis.boundary_positions(sim.labels.data, 0, 1, pixel_size=x_scale)[:, 1]
true_v = analysis.velocities(true_x, dt=0.5)
print("x position (nm):   ", np.round(track["position"].data[1], 2))
print("true x (nm):       ", np.round(true_x, 2))
print("x velocity (nm/s): ", np.round(track["velocity"].data[1], 2))
print("true x velocity:   ", np.round(true_v, 2))
print("mean velocity %.3f nm/s (true %.3f nm/s)" % (np.mean(track["velocity"].data[1]), np.mean(true_v)))

fig, ax = plt.subplots(figsize=(5, 3.2), layout="constrained")
ax.plot(t, track["position"].data[1], "o-", label="segmentation")
ax.plot(t, true_x, "k--", label="ground truth")
ax.set_xlabel("t (s)")
ax.set_ylabel("mean boundary x (nm)")
ax.legend()

# %%
# The boundary length is a count of the pixel edges shared by the two patterns: exact
# for boundaries along the pixel axes, an upper bound for inclined ones. The patch
# (25 px) smooths the bulge, so once the boundary bulges the segmented one comes out
# shorter than the true one.
true_length = analysis.boundary_lengths(sim.labels.data, 0, 1, pixel_size=x_scale)
print("length (nm):     ", np.round(track["length"].data, 2))
print("true length (nm):", np.round(true_length, 2))
