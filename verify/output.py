"""Encoding restored fronts and issued pages for delivery."""

from __future__ import annotations

import cv2
import numpy as np

FORMATS = {"png": "image/png", "jpeg": "image/jpeg", "webp": "image/webp"}


def encode_image(rgb: np.ndarray, fmt: str = "png", quality: int = 90) -> bytes:
    """Encode an RGB (or gray) array as PNG (fastest deflate level), JPEG or WebP at ``quality``."""
    if fmt not in FORMATS:
        raise ValueError(f"unknown output format {fmt!r}; choose one of {sorted(FORMATS)}")
    img = cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR) if rgb.ndim == 3 else rgb
    params = {
        "png": [cv2.IMWRITE_PNG_COMPRESSION, 1],  # a scan barely compresses further; level 1 is 40 % faster
        "jpeg": [cv2.IMWRITE_JPEG_QUALITY, quality, cv2.IMWRITE_JPEG_OPTIMIZE, 1],  # a tenth smaller, ~1 ms
        "webp": [cv2.IMWRITE_WEBP_QUALITY, quality],
    }[fmt]
    ok, buf = cv2.imencode("." + fmt.replace("jpeg", "jpg"), img, params)
    if not ok:
        raise ValueError(f"could not encode image as {fmt}")
    return buf.tobytes()
