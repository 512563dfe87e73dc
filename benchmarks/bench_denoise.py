"""Denoising: lattice non-local means against a Gaussian filter, scikit-image NLM and a Bragg mask.

    python benchmarks/bench_denoise.py [--quick]

Forward-model images at 8, 30 and 100 counts at a column peak: (A) a hexagonal crystal
(15 px, column sigma 1.9 px, background 0.1) with 12 vacancies and 12 dopant columns
(1.6x brighter); (B) the same lattice in two grains with light registered scan noise
(0.002 nm = 0.1 px). For each method: PSNR against the noise-free image (peak = its
range), the kept fraction of the vacancies' and dopants' contrast (1 = fully kept,
0 = painted over), and the column-position error and F1 of
:func:`hyperspy_symseg.columns.locate_columns` run on the denoised image (least squares).

Methods: the noisy image; ``scipy.ndimage.gaussian_filter(sigma=1)``; scikit-image
``denoise_nl_means`` (patch 5, distance 6, fast mode, ``h = 0.8``, sigma 1) on the Anscombe
transform, inverted algebraically; a Fourier Bragg-peak mask (bins 4x above the median
amplitude, dilated by 3 bins, plus the zero frequency: the best of thresholds 2-100 and
dilations 0-6 on these scenes); ``hyperspy_symseg.atom_columns.denoise``
with its defaults. Times are warm.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
from scipy import ndimage

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _column_scenes import PIXEL, defect_contrast, defect_image, detection_scores  # noqa: E402
from _common import print_table  # noqa: E402

import hyperspy.api as hs  # noqa: E402

from hyperspy_symseg import simulate as sm  # noqa: E402
from hyperspy_symseg.atom_columns import denoise  # noqa: E402
from hyperspy_symseg.columns import locate_columns  # noqa: E402
from hyperspy_symseg.columns._denoise import anscombe  # noqa: E402


def psnr(x: np.ndarray, clean: np.ndarray) -> float:
    return float(20 * np.log10((clean.max() - clean.min()) / np.sqrt(np.mean((x - clean) ** 2))))


def gaussian(img):
    return ndimage.gaussian_filter(img, 1.0)


def skimage_nlm(img):
    from skimage.restoration import denoise_nl_means

    z = anscombe(img)  # noise standard deviation 1
    out = denoise_nl_means(z, patch_size=5, patch_distance=6, h=0.8, sigma=1.0, fast_mode=True)
    return np.maximum((out / 2.0) ** 2 - 0.375, 0.0)


def bragg_mask(img):
    mean = img.mean()
    f = np.fft.fft2(img - mean)
    amp = np.abs(f)
    keep = amp > 4.0 * np.median(amp)
    keep[0, 0] = True
    keep = ndimage.binary_dilation(np.fft.fftshift(keep), iterations=3)
    return np.real(np.fft.ifft2(f * np.fft.ifftshift(keep))) + mean


def ours(img):
    return denoise(hs.signals.Signal2D(img)).data


METHODS = [("noisy", lambda x: x), ("Gaussian sigma=1", gaussian), ("scikit-image NLM (Anscombe)", skimage_nlm),
           ("Fourier Bragg mask", bragg_mask), ("lattice NLM (ours)", ours)]


def positions_after(img, truth, period):
    res = locate_columns(img, period, noise="gaussian")
    found = np.column_stack([res["y"], res["x"]])
    s = detection_scores(found, truth, period / 3)
    return s["rms"], s["f1"]


def scene_b(counts, seed, shape):
    sim = sm.two_grain_image(shape=shape, lattice=sm.Lattice.hexagonal(15 * PIXEL), rotations=(7.0, 31.0),
                             peak_counts=counts, scan_noise=sm.ScanNoise(sigma=0.002),
                             background=[sm.ConstantBackground(0.1)],
                             probe=sm.GaussianProbe(fwhm=1.9 * PIXEL * 2.3548), random_state=seed)
    return sim.image.data.astype(np.float64), sim.noise_free, sim.positions / PIXEL


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    shape = (256, 256) if args.quick else (384, 384)
    try:
        import skimage  # noqa: F401
    except ImportError:
        print("scikit-image is not installed: its NLM row is skipped (pip install scikit-image)")
        METHODS.remove(METHODS[2])
    ours(defect_image(30, 0, shape=(256, 256))[0])  # compile the kernels
    rows_a, rows_b = [], []
    for counts in (8, 30, 100):
        noisy, clean, pos, vac, dop, perfect = defect_image(counts, seed=counts, shape=shape)
        pos = pos[np.all((pos >= -0.5) & (pos < np.array(shape) - 0.5), axis=1)]  # columns in the image
        for name, fn in METHODS:
            t0 = time.perf_counter()
            out = fn(noisy)
            dt = time.perf_counter() - t0
            rms, f1 = positions_after(out, pos, 15.0)
            rows_a.append([counts, name, f"{psnr(out, clean):.1f}", f"{defect_contrast(out, perfect, clean, vac):.2f}",
                           f"{defect_contrast(out, perfect, clean, dop):.2f}", f"{rms:.3f}", f"{f1:.4f}", f"{dt:.2f}"])
        noisy, clean, truth = scene_b(counts, seed=counts, shape=shape)
        for name, fn in METHODS:
            t0 = time.perf_counter()
            out = fn(noisy)
            dt = time.perf_counter() - t0
            rms, f1 = positions_after(out, truth, 15.0)
            rows_b.append([counts, name, f"{psnr(out, clean):.1f}", f"{rms:.3f}", f"{f1:.4f}", f"{dt:.2f}"])
    print_table(["counts", "method", "PSNR (dB)", "vacancy contrast kept", "dopant contrast kept",
                 "column RMS after (px)", "column F1 after", "time (s)"], rows_a,
                title=f"(A) hexagonal crystal with 12 vacancies and 12 dopants, {shape[0]} x {shape[1]} px, no scan noise")
    print_table(["counts", "method", "PSNR (dB)", "column RMS after (px)", "column F1 after", "time (s)"], rows_b,
                title=f"(B) two grains, {shape[0]} x {shape[1]} px, registered scan noise 0.1 px")


if __name__ == "__main__":
    main()
