"""Run atomap on an image (called by bench_columns.py with the atomap virtual environment's Python).

Usage: python _atomap_worker.py image.npy separation out.npz
Writes ``positions`` ((N, 2) y, x px after the 2D Gaussian refinement), ``com`` (after
centre of mass) and the times of the steps.
"""

import sys
import time

import numpy as np


def main() -> None:
    path, separation, out = sys.argv[1], float(sys.argv[2]), sys.argv[3]
    import atomap.api as am
    import hyperspy.api as hs

    image = np.load(path)
    s = hs.signals.Signal2D(image)
    t0 = time.perf_counter()
    found = am.get_atom_positions(s, separation=int(round(separation)))
    t1 = time.perf_counter()
    sub = am.Sublattice(found, image=image)
    sub.find_nearest_neighbors()
    sub.refine_atom_positions_using_center_of_mass(show_progressbar=False)
    com = np.array(sub.atom_positions)[:, ::-1].copy()
    t2 = time.perf_counter()
    sub.refine_atom_positions_using_2d_gaussian(show_progressbar=False)
    t3 = time.perf_counter()
    pos = np.array(sub.atom_positions)[:, ::-1]
    np.savez(out, positions=pos, com=com, t_find=t1 - t0, t_com=t2 - t1, t_gauss=t3 - t2)


if __name__ == "__main__":
    main()
