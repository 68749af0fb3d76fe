"""``enhance-studio detect-dust``: write a damage mask for each scan, for batch hole filling.

::

    enhance-studio detect-dust [--sensitivity S] [--grow PX] [--device D] [--skip-existing] [-r] -o MASKDIR INPUT...
    enhance-studio apply --filter hole_fill --mask-dir MASKDIR [-r] -o OUTDIR INPUT...

The learned damage detector (:mod:`enhance_core.learned.damage`) marks cracks,
scratches, dust, hairs and tears. For one step without editing the masks,
``apply --filter restore`` (or ``--filter hole_fill --set source=detected``)
detects and fills in one go. Each mask is an 8-bit gray PNG named after its
input's stem (white = fill),
so ``apply --mask-dir`` pairs it with its scan (with ``-r``, the scans of
subfolders too, each mask in the same subfolder of MASKDIR, as ``apply -r
--mask-dir`` pairs them); edit any of them in an image
editor (or in Enhance Studio with the brush) before filling. An existing mask is
never replaced unless ``--overwrite`` is given; ``--skip-existing`` keeps them and
detects only the rest (finishing an interrupted run). The mask folder must not hold the scans
themselves (a mask would replace its scan, and later runs would take the masks
for scans). Scans that share a stem (``photo.png``, ``photo.jpg``) would share
a mask, so they are reported and skipped: ``--mask-dir`` could not tell which
is whose (scans of different subfolders may share one). A bad file is reported and skipped; the exit status is then 1.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path, PurePosixPath

from enhance_core.cli.arguments import nonempty_argument, path_argument
from enhance_core.cli.folders import make_output_folder
from enhance_core.cli.progress import Tally
from enhance_core.cli.stopping import finish_advice, stop_status, stopped_word
from enhance_core.errors import EnhanceError, ParameterError


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    """Register the ``detect-dust`` subcommand."""
    parser = subparsers.add_parser(
        "detect-dust", help="write damage masks for scans (then: apply --filter hole_fill --mask-dir)",
        description="Detect cracks, scratches, dust and tears in each INPUT with the learned detector and write "
        "MASKDIR/<stem>.png (white = damage), ready for 'enhance-studio apply --filter hole_fill --mask-dir MASKDIR'.",
    )
    parser.add_argument("inputs", nargs="*", type=nonempty_argument, metavar="INPUT",
                        help="image files, folders or glob patterns")
    parser.add_argument("-o", "--output", type=path_argument, metavar="MASKDIR", help="folder for the masks (created)")
    parser.add_argument("-r", "--recursive", action="store_true",
                        help="take the images of subfolders too (hidden ones and MASKDIR left out) and write their "
                        "masks in the same subfolders of MASKDIR, as 'apply -r --mask-dir' reads them")
    parser.add_argument("--sensitivity", type=float, default=0.5,
                        help="0-1: higher finds fainter damage and marks more (default 0.5)")
    parser.add_argument("--grow", type=float, default=1.5,
                        help="widen each defect by this many pixels so the fill covers its rim (default 1.5)")
    parser.add_argument("--device", default=None, help="auto (default), cpu, cuda or mps")
    existing = parser.add_mutually_exclusive_group()
    existing.add_argument("--overwrite", action="store_true", help="replace existing masks in MASKDIR")
    existing.add_argument("--skip-existing", action="store_true",
                          help="keep masks already in MASKDIR and detect only the others (finish an interrupted run)")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """Write one mask per input; return 0, or 1 when some file failed."""
    from enhance_core.batch_inputs import collect_tree, shared_stems
    from enhance_core.io import same_file
    from enhance_core.learned.engine import select_device

    if args.output is None or not args.inputs:
        raise ParameterError("give -o MASKDIR and at least one INPUT (file, folder or glob)")
    if not 0.0 <= args.sensitivity <= 1.0:
        raise ParameterError(f"--sensitivity must lie between 0 and 1, got {args.sensitivity}")
    if not 0.0 <= args.grow <= 10.0:
        raise ParameterError(f"--grow must lie between 0 and 10 pixels, got {args.grow}")
    select_device(args.device)
    tree = collect_tree(args.inputs, recursive=args.recursive, skip=args.output,
                        recurse_hint="pass -r to detect them too, their masks in the same subfolders of MASKDIR")
    inputs = list(tree)
    mixed = next((source for source in inputs  # with -r, a subfolder's masks go to the same subfolder of -o
                  if same_file(source.absolute().parent, args.output / tree[source])), None)
    if mixed is not None:
        raise ParameterError(f"the mask folder {args.output / tree[mixed]} holds the scan {mixed}: masks are named "
                             "after their scan's stem and would replace or mix with the scans; give -o a folder of "
                             "its own")
    places: dict[PurePosixPath, list[Path]] = {}
    for source, place in tree.items():
        places.setdefault(place, []).append(source)
    sharing: dict[Path, Path] = {}  # apply -r --mask-dir pairs a mask with the scans of its own subfolder
    for group in places.values():
        sharing.update(shared_stems(group, ignore_case=True))
    scans = {_file_id(source) for source in inputs}
    done = args.skip_existing and all((args.output / tree[source] / f"{source.stem}.png").exists()
                                      for source in inputs)
    make_output_folder(args.output, "masks", probe=not done)  # a finished run's read-only masks are kept
    tally = Tally()
    try:
        for index, source in enumerate(inputs, start=1):
            tally.count(_detect_one(args, source, args.output / tree[source] / f"{source.stem}.png",
                                    sharing.get(source), scans, f"[{index}/{len(inputs)}]"))
    except KeyboardInterrupt:
        print(f"{stopped_word()}: {tally.told(len(inputs), 'mask(s)', args.output)}; "
              f"{finish_advice(args.overwrite, 'masks')}", file=sys.stderr)
        return stop_status()
    print(f"done: {tally.told(len(inputs), 'mask(s)', args.output)}")
    return 1 if tally.failed else 0


def _detect_one(args: argparse.Namespace, source: Path, target: Path, sharing: Path | None,
                scans: set[tuple[int, int]], place: str) -> str:
    """Detect the damage of ``source`` into the mask ``target`` and say so; return "written", "kept" or "failed"."""
    import numpy as np

    from enhance_core.image import Image, ImageMeta
    from enhance_core.io import read_image, write_image
    from enhance_core.learned.damage import detect_damage, looks_like_text

    try:
        if sharing is not None:
            raise ParameterError(f"{source} shares the stem {source.stem!r} with {sharing}: both masks "
                                 f"would be {target} and 'apply --mask-dir' could not tell whose it is; "
                                 "rename one of the scans or detect them into separate mask folders")
        if target.exists() and _file_id(target) in scans:
            raise ParameterError(f"{target} is one of the scans; a mask must not replace it: give -o a folder "
                                 "of its own")
        if target.exists() and args.skip_existing:
            print(f"{place} {source}: kept {target} (already there)", file=sys.stderr, flush=True)
            return "kept"
        if target.exists() and not args.overwrite:
            raise ParameterError(f"{target} already exists; pass --skip-existing to keep it (finishing an "
                                 "interrupted run) or --overwrite to replace it")
        image = read_image(source)
        mask = detect_damage(image.pixels, sensitivity=args.sensitivity, grow=args.grow, device=args.device)
        target.parent.mkdir(parents=True, exist_ok=True)
        write_image(Image(mask[..., None], meta=ImageMeta(format="PNG", bit_depth=8)), target)
    except EnhanceError as error:
        print(f"{place} failed: {' '.join(str(error).split())}", file=sys.stderr, flush=True)
        return "failed"
    page = ("; it looks like a page of text: full stops and a blank margin can be marked, look at the mask"
            if mask.any() and looks_like_text(image.pixels) else "")
    print(f"{place} {source} -> {target} ({float(np.mean(mask > 0)):.3%} marked{page})", file=sys.stderr, flush=True)
    return "written"


def _file_id(path: Path) -> tuple[int, int]:
    """The device and inode of the file ``path`` names (a link: of the file it points to)."""
    status = path.stat()
    return status.st_dev, status.st_ino
