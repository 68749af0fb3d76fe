"""The decompression-bomb guard: a configurable limit on pixels per image.

A file header can claim any size; decoding a forged 100 000 x 100 000 PNG
would exhaust memory long before it fails. Every reader checks the size from
the header against the limit *before* decoding pixels.

The limit is, in this order of precedence: the ``max_pixels`` keyword of
:func:`enhance_core.io.read_image`, the environment variable
``ENHANCE_MAX_PIXELS`` (an integer; ``0`` or ``none`` switches the guard
off), and :data:`DEFAULT_MAX_PIXELS`.
"""

from __future__ import annotations

import os
from pathlib import Path

from enhance_core.errors import DecompressionBomb, ParameterError

DEFAULT_MAX_PIXELS = 500_000_000
"""500 megapixels: an A1 sheet scanned at 600 dpi (280 MP) or a 35 mm frame at
8000 dpi fits; decoded as float32 RGB that is 6 GB, about what a desktop can
hold. Raise it with ``ENHANCE_MAX_PIXELS`` for larger archival scans."""

MAX_PIXELS_ENV = "ENHANCE_MAX_PIXELS"


def resolve_max_pixels(max_pixels: int | None) -> int | None:
    """Return the pixel limit in force: the argument, the environment, or the default.

    Parameters
    ----------
    max_pixels : int or None
        Explicit limit; ``None`` defers to ``ENHANCE_MAX_PIXELS`` and then to
        :data:`DEFAULT_MAX_PIXELS`. ``0`` disables the guard.

    Returns
    -------
    int or None
        The limit, or ``None`` when the guard is off.
    """
    if max_pixels is None:
        raw = os.environ.get(MAX_PIXELS_ENV, "").strip()
        if not raw:
            return DEFAULT_MAX_PIXELS
        if raw.lower() in ("0", "none", "off"):
            return None
        try:
            max_pixels = int(raw.replace("_", ""))
        except ValueError:
            raise ParameterError(
                f"{MAX_PIXELS_ENV}={raw!r} is not an integer; set it to a pixel count such as 800000000, "
                "or to 0 to switch the limit off"
            ) from None
    if max_pixels < 0:
        raise ParameterError(f"max_pixels must be >= 0 (0 switches the limit off), got {max_pixels}")
    return max_pixels or None


def check_pixel_count(path: Path, rows: int, cols: int, limit: int | None) -> None:
    """Raise :class:`DecompressionBomb` when ``rows * cols`` exceeds ``limit``.

    Parameters
    ----------
    path : Path
        The file, named in the message.
    rows, cols : int
        Image size claimed by the file header.
    limit : int or None
        Result of :func:`resolve_max_pixels`; ``None`` accepts any size.
    """
    if limit is None:
        return
    count = int(rows) * int(cols)
    if count > limit:
        raise DecompressionBomb(
            path,
            f"the header claims {cols} x {rows} = {count:,} pixels, more than the limit of {limit:,} "
            f"(a possible decompression bomb); if you trust the file, raise the limit with "
            f"max_pixels= or the environment variable {MAX_PIXELS_ENV}",
        )
