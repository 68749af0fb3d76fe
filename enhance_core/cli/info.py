"""``enhance-studio info FILE...``: one JSON object per file with what the image is.

Keys: ``file``, ``width``, ``height``, ``channels``, ``bit_depth``, ``float``,
``format``, ``orientation`` (EXIF value found in the file; pixels are read
upright), ``icc`` (profile present), ``alpha``, ``page``, ``page_count``, and
for DICOM also ``modality``, ``windows`` (``center``, ``width``, ``name`` in
physical units), ``unit`` and ``value_range`` (physical minimum and maximum,
the header's padding left out), and ``padding`` (the physical span of that
padding) when the header names one.
``warnings`` lists what the decoders noticed (a non-conformant DICOM header,
a codestream without its end marker...) when there is anything; each also
goes to stderr as a ``warning:`` line. Output is strict JSON: a value that is
not a finite number prints as ``null``, never ``NaN``.
Files that fail print an ``error:`` line on stderr; the run goes on and exits 1.
"""

from __future__ import annotations

import argparse
import math
import sys
from typing import TYPE_CHECKING, Any

from enhance_core.cli.arguments import page_argument, path_argument
from enhance_core.cli.progress import json_line, report_failure, report_progress
from enhance_core.errors import EnhanceError

if TYPE_CHECKING:
    from enhance_core.image import Image


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    """Register the ``info`` subcommand."""
    parser = subparsers.add_parser(
        "info", help="print JSON facts (size, depth, metadata, DICOM units) per image file",
        description="Print one JSON object per file: size, channels, bit depth, format, orientation, ICC, "
        "and for DICOM the modality, windows, unit and value range.",
    )
    parser.add_argument("files", nargs="+", type=path_argument, metavar="FILE",
                        help="image files (JPEG, PNG, TIFF, BMP, WebP, HEIC, AVIF, camera RAW, DICOM)")
    parser.add_argument("--page", type=page_argument, default=None, metavar="N",
                        help="TIFF page or DICOM frame to describe, counted from 0 as ImageMagick's file.tif[0] "
                        "counts: --page 1 is the second (default: the first)")
    parser.set_defaults(run=run)


def describe_image(image: Image) -> dict[str, Any]:
    """Return the JSON-ready facts ``info`` prints for one image."""
    meta = image.meta
    facts: dict[str, Any] = {
        "width": image.cols,
        "height": image.rows,
        "channels": image.channels,
        "bit_depth": meta.bit_depth,
        "float": meta.float_source,
        "format": meta.format,
        "orientation": meta.orientation,
        "icc": meta.icc_profile is not None,
        "exif": meta.exif is not None,
        "dpi": [float(value) for value in meta.extra["dpi"]] if meta.extra.get("dpi") else None,
        "alpha": image.alpha is not None,
        "page": meta.page,
        "page_count": meta.page_count,
    }
    if meta.extra.get("jpeg_quality") is not None:
        facts["jpeg_quality"] = meta.extra["jpeg_quality"]  # what convert and apply keep without --quality
    if meta.format == "DICOM":
        facts["modality"] = meta.modality
        facts["windows"] = [{"center": w.center, "width": w.width, "name": w.name,
                             **({"function": w.function} if w.function != "linear" else {})} for w in meta.windows]
        facts["unit"] = meta.unit
        value_range = meta.extra.get("value_range")
        facts["value_range"] = list(value_range) if value_range else None
        if meta.extra.get("padding") is not None:
            facts["padding"] = list(meta.extra["padding"])
    elif meta.unit or (meta.value_offset, meta.value_scale) != (0.0, 1.0):
        facts["unit"] = meta.unit
        facts["value_map"] = {"offset": meta.value_offset, "scale": meta.value_scale / 65535}
    if meta.extra.get("warnings"):
        facts["warnings"] = list(meta.extra["warnings"])
    return facts


def strict_json(value: Any) -> Any:
    """Return ``value`` with every float that is not finite replaced by None (JSON has no NaN or Infinity)."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {key: strict_json(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [strict_json(item) for item in value]
    return value


def run(args: argparse.Namespace) -> int:
    """Describe each file; return 0, or 1 when some files of several failed."""
    from enhance_core.io import read_image

    failures = 0
    for number, path in enumerate(args.files, start=1):
        report_progress(number, len(args.files), path)
        try:
            image = read_image(path, page=args.page)
        except EnhanceError as error:
            if len(args.files) == 1:
                raise
            report_failure(path, error)
            print(json_line({"file": str(path), "error": " ".join(str(error).split())}), flush=True)
            failures += 1
            continue
        facts = strict_json({"file": str(path), **describe_image(image)})
        for warning in facts.get("warnings", ()):
            print(f"warning: {path}: {warning}", file=sys.stderr, flush=True)
        print(json_line(facts), flush=True)
    return 1 if failures else 0
