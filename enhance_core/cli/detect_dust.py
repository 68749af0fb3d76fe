"""``enhance-studio detect-dust``: write a dust-and-scratch mask for each scan, for batch hole filling.

::

    enhance-studio detect-dust [--sensitivity S] [--max-width PX] [--polarity P] -o MASKDIR INPUT...
    enhance-studio apply --filter hole_fill --mask-dir MASKDIR -o OUTDIR INPUT...

Each mask is an 8-bit gray PNG named after its input's stem (white = fill),
so ``apply --mask-dir`` pairs it with its scan; edit any of them in an image
editor (or in Enhance Studio with the brush) before filling. Existing masks are
kept unless ``--overwrite`` is given. A bad file is reported and skipped; the
exit status is then 1.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

from enhance_core.batch import collect_inputs
from enhance_core.errors import EnhanceError, ParameterError
from enhance_core.image import Image, ImageMeta
from enhance_core.io import read_image, write_image
from enhance_core.restoration.dust import POLARITIES, detect_dust_and_scratches


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    """Register the ``detect-dust`` subcommand."""
    parser = subparsers.add_parser(
        "detect-dust", help="write dust-and-scratch masks for scans (then: apply --filter hole_fill --mask-dir)",
        description="Detect dust specks and scratches in each INPUT and write MASKDIR/<stem>.png "
        "(white = damage), ready for 'enhance-studio apply --filter hole_fill --mask-dir MASKDIR'.",
    )
    parser.add_argument("inputs", nargs="*", metavar="INPUT", help="image files, folders or glob patterns")
    parser.add_argument("-o", "--output", type=Path, metavar="MASKDIR", help="folder for the masks (created)")
    parser.add_argument("--sensitivity", type=float, default=0.5,
                        help="0-1: higher finds fainter defects and more false alarms (default 0.5)")
    parser.add_argument("--max-width", type=float, default=7.0, help="widest speck or scratch in pixels (default 7)")
    parser.add_argument("--polarity", choices=POLARITIES, default="both",
                        help="bright (white dust, scans of negatives), dark, or both (default)")
    parser.add_argument("--overwrite", action="store_true", help="replace existing masks in MASKDIR")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """Write one mask per input; return 0, or 1 when some file failed."""
    if args.output is None or not args.inputs:
        raise ParameterError("give -o MASKDIR and at least one INPUT (file, folder or glob)")
    if not 0.0 <= args.sensitivity <= 1.0:
        raise ParameterError(f"--sensitivity must lie between 0 and 1, got {args.sensitivity}")
    if not 3.0 <= args.max_width <= 101.0:
        raise ParameterError(f"--max-width must lie between 3 and 101 pixels, got {args.max_width}")
    inputs = collect_inputs(args.inputs)
    try:
        args.output.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise ParameterError(f"cannot create the mask folder {args.output} ({error.strerror or error})") from None
    failed = 0
    for index, source in enumerate(inputs, start=1):
        target = args.output / f"{source.stem}.png"
        try:
            if target.exists() and not args.overwrite:
                raise ParameterError(f"{target} already exists; pass --overwrite to replace it")
            image = read_image(source)
            mask = detect_dust_and_scratches(image.pixels, sensitivity=args.sensitivity,
                                             max_width=args.max_width, polarity=args.polarity)
            write_image(Image(mask[..., None], meta=ImageMeta(format="PNG", bit_depth=8)), target)
        except EnhanceError as error:
            failed += 1
            print(f"[{index}/{len(inputs)}] failed: {' '.join(str(error).split())}", file=sys.stderr, flush=True)
            continue
        print(f"[{index}/{len(inputs)}] {source} -> {target} ({float(np.mean(mask > 0)):.3%} marked)",
              file=sys.stderr, flush=True)
    print(f"done: {len(inputs) - failed} of {len(inputs)} mask(s) written to {args.output}")
    return 1 if failed else 0
