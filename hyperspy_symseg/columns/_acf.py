"""Normalised autocorrelation of an image (no HyperSpy)."""

from __future__ import annotations

import numpy as np
import scipy.fft
from scipy import ndimage


def autocorrelation(image: np.ndarray, max_size: int = 1024) -> np.ndarray:
    """Normalised autocorrelation (centre = 1 at index (h//2, w//2)) of a central crop.

    The slowly varying background (Gaussian of a quarter of the crop) is removed and a
    Hann window applied, so thickness ramps and vacuum edges do not dominate.
    """
    img = np.asarray(image, dtype=np.float64)
    h, w = img.shape
    ch, cw = min(h, max_size), min(w, max_size)
    y0, x0 = (h - ch) // 2, (w - cw) // 2
    crop = img[y0 : y0 + ch, x0 : x0 + cw]
    crop = crop - ndimage.gaussian_filter(crop, max(ch, cw) / 16.0, mode="reflect")
    win = np.outer(np.hanning(ch), np.hanning(cw))
    crop = (crop - crop.mean()) * win
    f = scipy.fft.rfft2(crop, s=(2 * ch, 2 * cw))
    acf = scipy.fft.irfft2(np.abs(f) ** 2, s=(2 * ch, 2 * cw))
    # the window's own autocorrelation, to undo its taper
    fw = scipy.fft.rfft2(win, s=(2 * ch, 2 * cw))
    wacf = scipy.fft.irfft2(np.abs(fw) ** 2, s=(2 * ch, 2 * cw))
    acf = np.fft.fftshift(acf)[ch // 2 : ch // 2 + ch, cw // 2 : cw // 2 + cw]
    wacf = np.fft.fftshift(wacf)[ch // 2 : ch // 2 + ch, cw // 2 : cw // 2 + cw]
    wacf = np.maximum(wacf, 0.05 * wacf.max())
    acf = acf / wacf
    c = acf[ch // 2, cw // 2]
    return acf / c if c > 0 else acf
