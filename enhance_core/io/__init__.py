"""Image files in and out: JPEG, PNG, TIFF, BMP, WebP and DICOM; HEIF, AVIF and camera RAW are read only.

:func:`read_image` turns any supported file into an :class:`enhance_core.image.Image`
(upright float32 pixels, alpha, EXIF, ICC profile, DICOM physical units and
windows); :func:`write_image` exports one atomically, keeping bit depth and
metadata, and refuses to overwrite the image's own source unless asked.
"""

from enhance_core.io.detect import SUFFIX_FORMATS
from enhance_core.io.limits import DEFAULT_MAX_PIXELS, MAX_PIXELS_ENV
from enhance_core.io.reader import read_image
from enhance_core.io.writer import (BIT_DEPTHS, WRITE_FORMATS, bit_depth_refusal, check_quality, default_bit_depth,
                                   holds_location, quality_for, same_file, write_image, write_losses)

SUPPORTED_SUFFIXES: tuple[str, ...] = tuple(sorted(SUFFIX_FORMATS))
"""File name suffixes :func:`read_image` opens (lower case, with the dot); the content decides the format."""

WRITABLE_SUFFIXES: tuple[str, ...] = tuple(sorted(WRITE_FORMATS))
"""File name suffixes :func:`write_image` can write."""

__all__ = [
    "BIT_DEPTHS",
    "DEFAULT_MAX_PIXELS",
    "MAX_PIXELS_ENV",
    "SUPPORTED_SUFFIXES",
    "WRITABLE_SUFFIXES",
    "WRITE_FORMATS",
    "bit_depth_refusal",
    "check_quality",
    "default_bit_depth",
    "holds_location",
    "quality_for",
    "read_image",
    "same_file",
    "write_image",
    "write_losses",
]
