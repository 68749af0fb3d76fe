"""``enhance-studio jpeg-table IMAGE``: what each JPEG quality costs.

Re-encodes IMAGE with this program's JPEG writer at quality 95, 90, ... 5
(:func:`enhance_core.io.jpeg_cost.jpeg_cost`, as the editor's export estimate) and
prints, per quality, the PSNR (dB) and SSIM of the decoded result against the
image, and the file size in bytes (and bits per pixel). At 90 and above the
writer keeps full chroma resolution (4:4:4), below 90 it subsamples (4:2:0),
which shows as a step in size. A transparent image is compared after
compositing over white, as the JPEG export does.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from typing import TYPE_CHECKING, Any

from enhance_core.cli.arguments import path_argument
from enhance_core.errors import ParameterError

if TYPE_CHECKING:
    from enhance_core.image import Image

QUALITIES = tuple(range(95, 0, -5))


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    """Register the ``jpeg-table`` subcommand."""
    parser = subparsers.add_parser(
        "jpeg-table", help="print PSNR, SSIM and size of the image re-encoded at JPEG quality 95..5",
        description="Re-encode IMAGE as JPEG at quality 95 down to 5 in steps of 5 "
        "and print PSNR, SSIM and bytes for each.",
    )
    parser.add_argument("image", type=path_argument, metavar="IMAGE", help="image to re-encode")
    parser.add_argument("--json", action="store_true", help="print one JSON object per quality instead of a table")
    parser.set_defaults(run=run)


def jpeg_rows(image: Image, qualities: tuple[int, ...] = QUALITIES) -> list[dict[str, Any]]:
    """Return ``quality``, ``psnr``, ``ssim``, ``bytes``, ``bits_per_pixel`` for each JPEG quality."""
    from enhance_core.io.jpeg_cost import jpeg_cost

    rows = []
    for number, quality in enumerate(qualities, start=1):
        print(f"[{number}/{len(qualities)}] quality {quality}", file=sys.stderr, flush=True)
        cost = jpeg_cost(image, quality)
        rows.append({
            "quality": quality,
            "psnr": None if math.isinf(cost.psnr) else round(cost.psnr, 3),
            "ssim": round(cost.ssim, 5),
            "bytes": cost.bytes,
            "bits_per_pixel": round(8 * cost.bytes / (image.rows * image.cols), 3),
        })
    return rows


def run(args: argparse.Namespace) -> int:
    """Print the quality table for IMAGE."""
    from enhance_core.io import read_image
    from enhance_core.metrics import SSIM_WINDOW

    image = read_image(args.image)
    if min(image.rows, image.cols) < SSIM_WINDOW:
        raise ParameterError(
            f"{args.image}: SSIM needs at least {SSIM_WINDOW}x{SSIM_WINDOW} pixels, got {image.cols}x{image.rows}"
        )
    rows = jpeg_rows(image)
    if args.json:
        for row in rows:
            print(json.dumps(row))
        return 0
    print(f"{'quality':>7}  {'PSNR dB':>8}  {'SSIM':>7}  {'bytes':>10}  {'bits/px':>7}")
    for row in rows:
        psnr = "inf" if row["psnr"] is None else f"{row['psnr']:.2f}"
        print(f"{row['quality']:>7}  {psnr:>8}  {row['ssim']:>7.4f}  {row['bytes']:>10}  {row['bits_per_pixel']:>7.3f}")
    return 0
