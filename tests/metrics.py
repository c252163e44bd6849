"""How close a restored front is to the true one: SSIM, and fidelity (SSIM at a common size), for tests and benches.

The verifier never compares with the true front (it has none); these measures judge the verifier from outside.
"""

from __future__ import annotations

import cv2
import numpy as np

from verify import spec

COMPARE_WIDTH = 656  # common size for SSIM: half the restored width, ~80 dpi over the A4 width


def to_gray(img: np.ndarray, rgb: bool = True) -> np.ndarray:
    """8-bit grayscale of an RGB (or BGR with ``rgb=False``) image; gray images pass through."""
    if img.ndim == 2:
        return img
    return cv2.cvtColor(img, cv2.COLOR_RGB2GRAY if rgb else cv2.COLOR_BGR2GRAY)


def ssim(a: np.ndarray, b: np.ndarray) -> float:
    """Mean SSIM (Gaussian window, sigma 1.5) of two same-size 8-bit grayscale images."""
    if a.shape != b.shape:
        raise ValueError(f"shapes differ: {a.shape} vs {b.shape}")
    x, y = a.astype(np.float64), b.astype(np.float64)
    c1, c2 = (0.01 * 255) ** 2, (0.03 * 255) ** 2

    def blur(z: np.ndarray) -> np.ndarray:
        return cv2.GaussianBlur(z, (11, 11), 1.5)

    mx, my = blur(x), blur(y)
    sxx, syy, sxy = blur(x * x) - mx * mx, blur(y * y) - my * my, blur(x * y) - mx * my
    num = (2 * mx * my + c1) * (2 * sxy + c2)
    den = (mx * mx + my * my + c1) * (sxx + syy + c2)
    return float(np.mean(num / den))


def fidelity(restored: np.ndarray, truth: np.ndarray, width: int = COMPARE_WIDTH) -> float:
    """SSIM of a restored front against the true front (both RGB or gray), grayscale at a common size."""
    height = round(width * spec.FRONT_H / spec.FRONT_W)
    a = cv2.resize(to_gray(restored), (width, height), interpolation=cv2.INTER_AREA)
    b = cv2.resize(to_gray(truth), (width, height), interpolation=cv2.INTER_AREA)
    return ssim(a, b)
