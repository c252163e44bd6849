"""certverify's image pipeline: issue printable backs and restore certificate fronts from scans of them.

Pure code on arrays and bytes (numpy, OpenCV, Pillow); it imports no web framework and can be used as a library.
"""

from __future__ import annotations

from .errors import VerifyError
from .issuing import IssuedCertificate, fronts_from_pdf, issue
from .keys import IssuingKey, KeyRing
from .model import CertificateFacts, Limits, Restoration, Upload
from .output import encode_image
from .restore import PageResult, restore, restore_pages

__all__ = [
    "CertificateFacts",
    "IssuedCertificate",
    "IssuingKey",
    "KeyRing",
    "Limits",
    "PageResult",
    "Restoration",
    "Upload",
    "VerifyError",
    "encode_image",
    "fronts_from_pdf",
    "issue",
    "restore",
    "restore_pages",
]
