"""Atom-column kernels: detection, batched Gaussian refinement, Cramer-Rao bounds,
lattice-guided denoising and the column table. NumPy in, NumPy out; no HyperSpy.

The HyperSpy-facing functions are in :mod:`hyperspy_symseg.atom_columns`.
"""

from ._crlb import gaussian_column_crlb
from ._locate import locate_columns

__all__ = ["gaussian_column_crlb", "locate_columns"]
