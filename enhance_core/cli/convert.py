"""``enhance-studio convert IN OUT``: change format, keeping bit depth and metadata.

The output suffix picks the format. Bit depth stays the source's where the
format holds it (16-bit TIFF to 16-bit PNG; JPEG, BMP and WebP hold 8 bits);
EXIF (orientation reset, pixels upright), ICC profile, resolution and alpha go
along where the format can hold them. A gray DICOM image becomes, de-identified,
its values (16-bit PNG or TIFF, the map to physical units in the description,
as ``dicom-export --full-range``) or, in 8 bits, the picture its header window
shows. The input is never overwritten, and an existing OUT only with ``--overwrite`` (or ``--force``, its older name).
"""

from __future__ import annotations

import argparse
import sys
from functools import partial

from enhance_core.cli.arguments import page_argument, path_argument
from enhance_core.errors import ImageWriteError
from enhance_core.image import Image
from enhance_core.paths import exists, is_dir


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    """Register the ``convert`` subcommand."""
    parser = subparsers.add_parser(
        "convert", help="convert an image to another format, keeping bit depth and metadata",
        description="Read IN and write OUT in the format its suffix names (.png .tif .jpg .webp .bmp), "
        "keeping bit depth, EXIF, ICC profile and alpha where the format allows.",
    )
    parser.add_argument("source", type=path_argument, metavar="IN", help="image to convert")
    parser.add_argument("target", type=path_argument, metavar="OUT", help="file to write; its suffix picks the format")
    parser.add_argument("--bit-depth", type=int, choices=(8, 16, 32), default=None,
                        help="bits per sample (default: the source's)")
    parser.add_argument("--quality", type=int,
                        help="JPEG/WebP quality 1-100 (default: a JPEG source's own, read from its tables; 100, "
                        "lossless, for a lossless WebP source written as WebP; else 95)")
    parser.add_argument("--page", type=page_argument, default=None, metavar="N",
                        help="TIFF page or DICOM frame to convert, counted from 0 as ImageMagick's file.tif[0] "
                        "counts: --page 1 is the second (default: the first)")
    parser.add_argument("--strip-location", action="store_true",
                        help="leave out where the picture was taken (EXIF GPS data, XMP GPS properties, and the city, "
                        "street and country of IPTC and XMP)")
    parser.add_argument("--overwrite", "--force", dest="overwrite", action="store_true",
                        help="replace OUT if it exists (never IN); --force is the same")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """Convert IN to OUT and print what was written."""
    from enhance_core.io import quality_for, read_image, write_image
    from enhance_core.io.writer import WRITE_FORMATS, default_bit_depth, same_file, write_losses

    refuse = partial(ImageWriteError, args.target)
    target_exists = exists(args.target, refuse)
    if target_exists and same_file(args.target, args.source):
        raise ImageWriteError(args.target, "is the input file; convert never overwrites its input, choose another OUT")
    if is_dir(args.target, refuse):
        raise ImageWriteError(args.target,
                              f"is a folder; give the file to write, e.g. {args.target / args.source.name}")
    if target_exists and not args.overwrite:
        raise ImageWriteError(args.target, "already exists; choose another name or pass --overwrite to replace it")
    image = read_image(args.source, page=args.page)
    for warning in image.meta.extra.get("warnings", ()):
        print(f"warning: {args.source}: {warning}", file=sys.stderr, flush=True)
    if image.holds_values:
        return _convert_dicom(image, args)
    written = write_image(image, args.target, bit_depth=args.bit_depth,
                          quality=quality_for(image.meta, args.quality, args.target),
                          strip_location=args.strip_location)
    format_name = WRITE_FORMATS[written.suffix.lower()]
    depth = args.bit_depth or default_bit_depth(image.meta, format_name)
    print(f"wrote {written} ({format_name}, {depth}-bit{' float' if depth == 32 else ''})")
    losses = write_losses(image, written, args.bit_depth)
    if image.meta.other_pages > 0:
        losses.append(f"{image.meta.page_words} only (--page {image.meta.page}): the other pages are not in the "
                      f"output; --page counts from 0, so 0 to {image.meta.page_count - 1} picks one")
    for loss in losses:
        print(f"note: {loss}", file=sys.stderr)
    return 0


def _convert_dicom(image: Image, args: argparse.Namespace) -> int:
    """Write a gray DICOM image's values in 16 bits, or its header window's picture in 8; print which."""
    from enhance_core.errors import ParameterError
    from enhance_core.io.writer import WRITE_FORMATS, quality_for
    from enhance_core.medical.export import export_slice, write_values
    from enhance_core.medical.windows import header_window

    format_name = WRITE_FORMATS.get(args.target.suffix.lower())
    if args.bit_depth == 32:
        raise ParameterError("--bit-depth 32 is not offered for DICOM: its values are written in 16 bits, its "
                             "picture in 8")
    if format_name in ("PNG", "TIFF") and args.bit_depth != 8:
        written = write_values(image, args.target)
        print(f"wrote {written} ({format_name}, 16-bit values of {image.meta.unit or 'the file'}; the map to them "
              "is in its description)")
        return 0
    if args.bit_depth == 16:
        raise ParameterError(f"{format_name or args.target.suffix or 'OUT without a suffix'} holds no 16-bit values: "
                             "the values of a DICOM image need .png or .tif")
    window = header_window(image)
    written = export_slice(image, args.target, window=window,
                           quality=quality_for(image.meta, args.quality, args.target))
    print(f"wrote {written} ({format_name}, 8-bit picture through the window {window.center:g} / {window.width:g} "
          f"({window.name}))")
    return 0
