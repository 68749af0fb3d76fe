"""Decompression-bomb guards: what decoding a file may cost, checked before any pixel is decoded.

A header can claim any size, and a few bytes of compressed data can expand
to gigabytes or keep a decoder busy for minutes. Every reader hands what the
header claims to :meth:`Limits.check_size` (and JPEG readers their scan count
to :meth:`Limits.check_jpeg_scans`) before decoding. Each limit is a setting:

``ENHANCE_MAX_PIXELS`` (default 500 000 000)
    Pixels of the decoded image, counting every slice a decoder must expand
    at once; the ``max_pixels`` keyword of :func:`enhance_core.io.read_image`
    overrides it. Samples (color channels, extra channels) may reach four per
    pixel of this limit, so an RGBA image of the limit passes and a header with
    400 samples per pixel does not.
``ENHANCE_MAX_COMPRESSION_RATIO`` (default 100 000)
    Decoded bytes per byte of file, checked for images above 64 MiB decoded:
    deflate (PNG, TIFF) stops near 1 000:1 and JPEG near 500:1, so only
    forged files (a 38-byte WebP of 16383 x 16383) come near the limit.
``ENHANCE_MAX_JPEG_SCANS`` (default 100)
    Scans of a progressive JPEG; encoders write about 10, and each scan costs
    the decoder a pass over the whole image.

Each variable takes an integer; ``0``, ``none`` or ``off`` switches its guard
off. Every refusal is a :class:`DecompressionBomb` naming the file and the setting.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from enhance_core.errors import DecompressionBomb, ImageReadError, ParameterError

DEFAULT_MAX_PIXELS = 500_000_000
"""500 megapixels: an A1 sheet scanned at 600 dpi (280 MP) or a 35 mm frame at
8000 dpi fits; decoded as float32 RGB that is 6 GB, and a batch's file needs
more at its peak (about 28 bytes per pixel for ``apply --filter negative`` of a
49 MP PNG, so about 14 GB at the limit, for each of ``--jobs``). Raise it with
``ENHANCE_MAX_PIXELS`` for larger archival scans; lower it where many files run
at once or files come from others."""

MAX_PIXELS_ENV = "ENHANCE_MAX_PIXELS"
SAMPLES_PER_PIXEL = 4
"""Samples allowed per pixel of the pixel limit (RGBA)."""

DEFAULT_MAX_COMPRESSION_RATIO = 100_000
MAX_COMPRESSION_RATIO_ENV = "ENHANCE_MAX_COMPRESSION_RATIO"
RATIO_CHECK_BYTES = 64 * 2**20
"""Images that decode to fewer bytes are not checked for their compression ratio."""

DEFAULT_MAX_JPEG_SCANS = 100
MAX_JPEG_SCANS_ENV = "ENHANCE_MAX_JPEG_SCANS"

_OFF = ("0", "none", "off")


def _from_environment(variable: str, default: int, example: str) -> int | None:
    """Return the limit set by ``variable`` (``default`` when unset, None when switched off)."""
    raw = os.environ.get(variable, "").strip()
    if not raw:
        return default
    if raw.lower() in _OFF:
        return None
    try:
        value = int(raw.replace("_", ""))
    except ValueError:
        raise ParameterError(
            f'{variable}="{raw}" is not an integer; set it to a number such as {example}, '
            "or to 0 to switch the limit off"
        ) from None
    if value < 0:
        raise ParameterError(
            f'{variable}="{raw}" is negative; set it to a number such as {example}, or to 0 to switch the limit off'
        )
    return value or None


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
        return _from_environment(MAX_PIXELS_ENV, DEFAULT_MAX_PIXELS, "800000000")
    if max_pixels < 0:
        raise ParameterError(f"max_pixels must be >= 0 (0 switches the limit off), got {max_pixels}")
    return max_pixels or None


@dataclass(frozen=True)
class Limits:
    """The guards in force for one read; ``None`` switches a guard off.

    Attributes
    ----------
    pixels : int or None
        Most pixels (rows x cols x slices decoded at once); samples may reach four per pixel of it.
    compression_ratio : int or None
        Most decoded bytes per file byte, for images above :data:`RATIO_CHECK_BYTES`.
    jpeg_scans : int or None
        Most scans in a JPEG.
    pixels_setting : str
        What set the pixel limit, named in its refusals: a caller's ``max_pixels`` argument, else the variable.
    """

    pixels: int | None = DEFAULT_MAX_PIXELS
    compression_ratio: int | None = DEFAULT_MAX_COMPRESSION_RATIO
    jpeg_scans: int | None = DEFAULT_MAX_JPEG_SCANS
    pixels_setting: str = f"the environment variable {MAX_PIXELS_ENV}"

    def check_size(self, path: Path, rows: int, cols: int, *, samples: int = 1, planes: int = 1,
                   bytes_per_sample: int = 1) -> None:
        """Refuse a header whose size is impossible or would cost more than the limits allow.

        Parameters
        ----------
        path : Path
            The file, named in the message (its size enters the compression ratio).
        rows, cols : int
            Image size the header claims.
        samples : int
            Samples per pixel the decoder produces (3 for RGB, 4 for RGBA...).
        planes : int
            Slices or frames the decoder expands at once (a volumetric TIFF's depth).
        bytes_per_sample : int
            Bytes of each decoded sample (1 for 8 bits, 2 for 16...).

        Raises
        ------
        ImageReadError
            A width, height, sample or slice count below 1 (a damaged header).
        DecompressionBomb
            Too many pixels or samples, or a compression ratio above the limit.
        """
        rows, cols, samples, planes = int(rows), int(cols), int(samples), int(planes)
        if min(rows, cols, samples, planes) < 1:
            raise ImageReadError(
                path, f"the header claims {cols} x {rows} pixels with {samples} sample(s) per pixel"
                f"{f' in {planes} slices' if planes != 1 else ''}; a count below 1 means the header is damaged",
            )
        pixels = rows * cols * planes
        slices = f"{planes} slices of " if planes > 1 else ""
        if self.pixels is not None and pixels > self.pixels:
            raise DecompressionBomb(
                path, f"the header claims {slices}{cols} x {rows} = {pixels:,} pixels, more than the limit of "
                f"{self.pixels:,} (a possible decompression bomb); if you trust the file, raise the limit with "
                f"{self.pixels_setting}",
            )
        if self.pixels is not None and pixels * samples > self.pixels * SAMPLES_PER_PIXEL:
            raise DecompressionBomb(
                path, f"the header claims {slices}{cols} x {rows} pixels of {samples} samples each = "
                f"{pixels * samples:,} samples, more than {SAMPLES_PER_PIXEL} per pixel of the pixel limit "
                f"({self.pixels * SAMPLES_PER_PIXEL:,}); if you trust the file, raise the limit with "
                f"{self.pixels_setting}",
            )
        decoded = pixels * samples * max(1, int(bytes_per_sample))
        if self.compression_ratio is None or decoded < RATIO_CHECK_BYTES:
            return
        file_bytes = max(1, path.stat().st_size)
        if decoded > file_bytes * self.compression_ratio:
            raise DecompressionBomb(
                path, f"the header claims {slices}{cols} x {rows} pixels ({decoded:,} bytes decoded) from a file of "
                f"{file_bytes:,} bytes, a compression ratio of {decoded // file_bytes:,}:1, more than the limit of "
                f"{self.compression_ratio:,}:1 (a possible decompression bomb); if you trust the file, raise the limit "
                f"with the environment variable {MAX_COMPRESSION_RATIO_ENV}",
            )

    def check_jpeg_scans(self, path: Path, scans: int) -> None:
        """Refuse a JPEG with more scans than the limit (each is a decoding pass over the whole image)."""
        if self.jpeg_scans is not None and scans > self.jpeg_scans:
            raise DecompressionBomb(
                path, f"the JPEG holds {scans:,} scans, more than the limit of {self.jpeg_scans:,} (each scan is a "
                f"decoding pass over the whole image; encoders write about 10); if you trust the file, raise the limit "
                f"with the environment variable {MAX_JPEG_SCANS_ENV}",
            )


def resolve_limits(max_pixels: int | None = None) -> Limits:
    """Return the limits in force: ``max_pixels`` (see :func:`resolve_max_pixels`) and the environment.

    Raises
    ------
    ParameterError
        A negative ``max_pixels`` or an environment variable that is not a whole number.
    """
    return Limits(
        pixels=resolve_max_pixels(max_pixels),
        pixels_setting="the max_pixels argument" if max_pixels is not None else Limits.pixels_setting,
        compression_ratio=_from_environment(MAX_COMPRESSION_RATIO_ENV, DEFAULT_MAX_COMPRESSION_RATIO, "1000000"),
        jpeg_scans=_from_environment(MAX_JPEG_SCANS_ENV, DEFAULT_MAX_JPEG_SCANS, "500"),
    )
