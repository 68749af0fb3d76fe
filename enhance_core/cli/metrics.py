"""``enhance-studio metrics RESULT REFERENCE``: JSON with ``psnr``, ``ssim`` and ``mse``.

Both images are compared as contract pixels (values 0..1, whatever their bit
depth), so the data range is the reference's full bit depth unless
``--data-range`` gives one in the file's own units (255 for the whole of an
8-bit file, 4095 for 12-bit values in a 16-bit file). Alpha is not compared, and pixels
transparent in either file are left out (the colour under them is never seen, and writers differ in
what they keep there). Two images in one physical unit (DICOM in Hounsfield units) whose files store
it differently (another rescale slope or intercept) are compared in the reference's stored
units, so equal values compare as equal. A gray image and a color one
are compared on luma (a color image whose channels are all equal, as a gray
picture saved as WebP is, on its one channel). SSIM is per channel with a
Gaussian window (see :mod:`enhance_core.metrics`). ``"data_range"`` is the peak PSNR and SSIM were scored
against, in the reference file's stored units (a 12-bit DICOM file's 4095, a value export's 65535).
Identical images print ``"psnr": null``, ``"ssim": 1.0`` and ``"identical": true`` (JSON has no infinity); images under
:data:`~enhance_core.metrics.SSIM_WINDOW` pixels on a side ``"ssim": null`` (its window does not fit).
"""

from __future__ import annotations

import argparse
import math
import sys

from enhance_core.cli.arguments import path_argument
from enhance_core.cli.progress import json_line
from enhance_core.errors import ParameterError


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    """Register the ``metrics`` subcommand."""
    parser = subparsers.add_parser(
        "metrics", help="print JSON PSNR, SSIM and MSE of a result against a reference image",
        description="Compare RESULT with REFERENCE (same size; a gray and a color image on luma) "
        "and print JSON with psnr (dB), ssim and mse.",
    )
    parser.add_argument("result", type=path_argument, metavar="RESULT", help="the processed image")
    parser.add_argument("reference", type=path_argument, metavar="REFERENCE",
                        help="the ground truth it is compared with")
    parser.add_argument("--data-range", type=float, default=None,
                        help="value range in the reference file's units (255 for 8-bit, 65535 for 16-bit, as stored "
                             "for float); default its bit depth's whole range")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """Print the scores of RESULT against REFERENCE as one JSON object."""
    import numpy as np

    from enhance_core.io import read_image
    from enhance_core.io.profiles import PROFILES_DIFFER, same_colours
    from enhance_core.metrics import SSIM_WINDOW, comparable, compare_images, transparency_differs, visible_in

    result = read_image(args.result)
    reference = read_image(args.reference)
    for image, path in ((result, args.result), (reference, args.reference)):
        for warning in image.meta.extra.get("warnings", ()):
            print(f"warning: {path}: {warning}", file=sys.stderr, flush=True)
    if result.pixels.shape[:2] != reference.pixels.shape[:2]:
        raise ParameterError(
            f"{args.result} is {result.cols}x{result.rows} with {result.channels} channel(s) but {args.reference} is "
            f"{reference.cols}x{reference.rows} with {reference.channels}; compare images of the same size"
        )
    data_range = 1.0
    if args.data_range is not None:
        if not (math.isfinite(args.data_range) and args.data_range > 0):
            raise ParameterError(f"--data-range must be a positive finite number, got {args.data_range}")
        top = reference.meta.integer_max
        if not reference.meta.float_source and args.data_range > top:
            raise ParameterError(f"--data-range {args.data_range:g} is above the largest value a "
                                 f"{reference.meta.bit_depth}-bit file holds ({top}); {args.reference} is "
                                 f"{reference.meta.bit_depth}-bit: give its range in its own units (at most {top})")
        data_range = args.data_range / reference.meta.integer_max
    elif reference.meta.float_source and (peak := float(reference.pixels.max())) > 1.0:
        print(f"warning: {args.reference} holds values up to {peak:g} (a float picture "
              "past white): PSNR and SSIM are scored against a peak of 1; give --data-range to score against another",
              file=sys.stderr, flush=True)
    if not same_colours(result.meta.icc_profile, reference.meta.icc_profile):
        print(f"warning: {args.result} and {args.reference} {PROFILES_DIFFER}", file=sys.stderr, flush=True)
    if sorted((result.channels, reference.channels)) == [1, 3]:
        gray = args.reference if reference.channels == 1 else args.result
        print(f"warning: {gray} is gray: the brightness (luma) of both is compared", file=sys.stderr, flush=True)
    if transparency := transparency_differs(result.alpha, reference.alpha):
        print(f"warning: {args.result} and {args.reference}: {transparency}", file=sys.stderr, flush=True)
    pixels = result.stored_as(reference)
    with np.errstate(divide="ignore", over="ignore"):  # a data range so small its square is 0: no finite PSNR
        scores = compare_images(*comparable(pixels, reference.pixels), data_range=data_range,
                                visible=visible_in(result.alpha, reference.alpha))
    identical = scores["mse"] == 0.0
    if min(result.rows, result.cols) < SSIM_WINDOW and not identical:
        print(f"warning: {args.result} is {result.cols}x{result.rows}: SSIM needs at least {SSIM_WINDOW}x"
              f"{SSIM_WINDOW} pixels, so it is null; PSNR and MSE are scored", file=sys.stderr, flush=True)
    report = {
        "result": str(args.result),
        "reference": str(args.reference),
        "psnr": None if identical or not math.isfinite(scores["psnr"]) else scores["psnr"],
        "ssim": 1.0 if identical else None if math.isnan(scores["ssim"]) else scores["ssim"],
        "mse": scores["mse"],
        "identical": identical,
        "data_range": args.data_range if args.data_range is not None else
        1.0 if reference.meta.float_source else reference.meta.integer_max,
    }
    print(json_line(report))
    return 0
