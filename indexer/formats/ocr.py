"""Optical character recognition of page images with Tesseract, when it is installed."""

from __future__ import annotations

import shutil
from functools import lru_cache


@lru_cache(maxsize=1)
def tesseract_available() -> bool:
    """True when both the `tesseract` program and the pytesseract wrapper are present."""
    if shutil.which("tesseract") is None:
        return False
    try:
        import pytesseract  # noqa: F401
    except ImportError:
        return False
    return True


def ocr_image(image, timeout_s: float) -> str:
    """Text of one page image (PIL), in Tesseract's reading order; '' when it gives up in time."""
    import pytesseract

    try:
        return pytesseract.image_to_string(image.convert("L"), timeout=timeout_s)
    except RuntimeError:  # pytesseract's timeout
        return ""
