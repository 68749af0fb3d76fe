"""``enhance-studio apply``: run a recipe or one filter over many images in parallel.

::

    enhance-studio apply (--recipe R.json | --filter NAME [--set PARAM=VALUE]...)
                         [--mask FILE | --mask-dir DIR] [-r] [--include GLOB] [--exclude GLOB]
                         [--resize SIZE [--only-shrink]] [--sharpen LEVEL]
                         [--jobs N | --cluster local:N | --cluster tcp://HOST:PORT] -o OUTDIR INPUT...

INPUTs are files, folders (their images; with ``--recursive`` those of every
subfolder, the tree mirrored under OUTDIR) or glob patterns, narrowed by
``--include`` and ``--exclude`` patterns. Each result goes to OUTDIR under
the input's name, in the input's format and bit depth with its
metadata, unless ``--format`` or ``--bit-depth`` say otherwise; an input is
never written over, an existing output only with ``--overwrite``, and
``--skip-existing`` keeps existing outputs (to finish an interrupted run).
``--resize`` sets the output size after the recipe (``long=2000``, ``50%``
or ``12mp``; area filter to shrink, Lanczos to enlarge) and ``--sharpen``
adds output sharpening (:mod:`enhance_core.export_size`).
Ctrl+C stops the batch with a summary of what was written, failed and not
started; worker processes never outlive the command, even when it is
killed, and hidden partial files an interrupted run left are removed.
``--cluster`` runs the files on Dask instead of the local process pool
(:mod:`enhance_core.batch_cluster`): a ``LocalCluster`` of N workers, or a
running scheduler whose workers share the inputs' and OUTDIR's storage
(checked before any work starts), with the same outputs. A mask
(white applies) goes to every step that has none of its own: ``--mask`` for
all inputs (resized to each), ``--mask-dir`` paired by file stem. Progress and
per-file errors go to stderr; a bad file is skipped and the exit status is 1
when any file failed. ``--reference-dir`` adds a report (CSV, histograms,
best/worst thumbnails, flagged files) against the same-stem references.
"""

from __future__ import annotations

import argparse
import math
import re
import sys
from contextlib import ExitStack
from pathlib import Path
from typing import TYPE_CHECKING, Sequence

from enhance_core.cli.arguments import nonempty_argument, path_argument, positive_argument, value_argument
from enhance_core.cli.folders import check_output_folder, make_output_folder, remove_empty_folders
from enhance_core.cli.progress import one_line
from enhance_core.cli.stopping import stop_status, stopped_word
from enhance_core.errors import ParameterError

if TYPE_CHECKING:
    from enhance_core.batch import FileResult
    from enhance_core.batch_manifest import Manifest
    from enhance_core.batch_tasks import FileTask
    from enhance_core.export_size import OutputSize
    from enhance_core.batch_workers import BatchInterrupted
    from enhance_core.cli.progress import BatchProgress
    from enhance_core.stack import StackItem

FLAGGED_SHOWN = 20
"""Flagged files named on stdout after a scored batch; the report's ``flagged.txt`` lists them all."""


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    """Register the ``apply`` subcommand."""
    parser = subparsers.add_parser(
        "apply", help="apply a recipe or a filter to many images (batch, in parallel)",
        description="Apply a recipe (--recipe) or one filter (--filter with --set PARAM=VALUE) to INPUT files, "
        "folders or globs and write the results to OUTDIR, keeping format, bit depth and metadata.",
    )
    what = parser.add_mutually_exclusive_group()
    what.add_argument("--recipe", type=path_argument, help="recipe JSON saved by the editor")
    # every filter's name is in lower case: GAMMA is gamma (it was "unknown filter", without a hint)
    what.add_argument("--filter", metavar="NAME", action="append", type=str.lower,
                      help="one filter by name, in any case (see --list); for several, save a recipe from the "
                           "editor")
    what.add_argument("--list", action="store_true", help="list the filters and their parameters, then exit")
    parser.add_argument("--set", action="append", default=[], metavar="PARAM=VALUE",
                        help="a parameter of --filter (repeatable); others keep their defaults; one that a mode "
                        "uses chooses that mode (sigma=25 of denoise means mode=manual); curve points as "
                        "'rgb=0,0;0.25,0.2;1,1' (x,y pairs, quoted for the shell)")
    masks = parser.add_mutually_exclusive_group()
    masks.add_argument("--mask", type=path_argument, metavar="FILE", help="mask image for every input (white applies)")
    masks.add_argument("--mask-dir", type=path_argument, metavar="DIR", help="masks paired with inputs by file stem")
    parser.add_argument("-o", "--output", type=path_argument, metavar="OUTDIR", help="folder for the results (created)")
    parser.add_argument("inputs", nargs="*", type=nonempty_argument, metavar="INPUT",
                        help="image files, folders or glob patterns")
    parser.add_argument("-r", "--recursive", action="store_true",
                        help="take the images of subfolders too (hidden ones and OUTDIR left out) and mirror "
                        "the folder tree under OUTDIR")
    parser.add_argument("--include", action="append", default=[], metavar="GLOB",
                        help="only files whose name or path under the INPUT folder matches (repeatable; any case)")
    parser.add_argument("--exclude", action="append", default=[], metavar="GLOB",
                        help="leave out files whose name or path under the INPUT folder matches (repeatable)")
    parser.add_argument("--jobs", type=positive_argument, default=None,
                        help="worker processes (default: one per core; 1 when a step is a learned filter)")
    parser.add_argument("--cluster", metavar="SPEC",
                        help="run the files on Dask: local:N starts N worker processes here for the run, "
                        "tcp://HOST:PORT uses a running scheduler whose workers share the inputs' and OUTDIR's "
                        "storage (needs the cluster extra: pip install 'enhance-studio[cluster]')")
    parser.add_argument("--format", type=value_argument, metavar="EXT",
                        help="write this format instead of the input's (png, tif, jpg...)")
    parser.add_argument("--bit-depth", type=int, choices=(8, 16, 32), help="bits per sample (default: the input's)")
    parser.add_argument("--quality", type=int,
                        help="JPEG/WebP quality 1-100 (default: a JPEG input's own, read from its tables; 100, "
                        "lossless, for a lossless WebP input written as WebP; else 95)")
    parser.add_argument("--strip-location", action="store_true",
                        help="leave out where each picture was taken (EXIF GPS data, XMP GPS properties, and the city, "
                        "street and country of IPTC and XMP)")
    parser.add_argument("--resize", metavar="SIZE",
                        help="resize each result after the recipe, keeping its aspect: long=2000 (or 2000px) for "
                        "the long edge in pixels, 50%% for a percentage, 12mp for megapixels (area filter when "
                        "shrinking, Lanczos when enlarging); EXIF dimensions and DICOM pixel spacing follow")
    parser.add_argument("--only-shrink", action="store_true",
                        help="with --resize, leave images already smaller than the size as they are")
    parser.add_argument("--sharpen", choices=("none", "low", "standard", "high"), default="none",
                        help="output sharpening after the resize: an unsharp mask scaled to it (default none)")
    existing = parser.add_mutually_exclusive_group()
    existing.add_argument("--overwrite", action="store_true", help="replace existing files in OUTDIR (never inputs)")
    existing.add_argument("--skip-existing", action="store_true",
                          help="keep files already in OUTDIR and process only the others (finish an interrupted run)")
    parser.add_argument("--retry-failed", action="store_true",
                        help="run again the files that failed in an earlier run into OUTDIR (its manifest "
                        "says which); without it they are reported as failed and not tried")
    parser.add_argument("--time-limit", type=float, metavar="SECONDS",
                        help="stop a file whose steps run longer than this, and count it as failed (--retry-failed "
                        "tries it again); by default files take the time they need")
    parser.add_argument("-q", "--quiet", action="store_true",
                        help="no line per file written: failures, a progress line every 5 %% and the summary")
    parser.add_argument("--device",
                        help="device for learned filters: auto (default: the GPU if there is one), cpu, cuda or mps")
    parser.add_argument("--reference-dir", type=path_argument, metavar="DIR",
                        help="score each result against the same-stem reference and write a report")
    parser.add_argument("--report-dir", type=path_argument, metavar="DIR",
                        help="where the report goes (default OUTDIR/report)")
    parser.add_argument("--min-psnr", type=float,
                        help="with --reference-dir: flag results under this PSNR in dB (default 30)")
    parser.add_argument("--min-ssim", type=float,
                        help="with --reference-dir: flag results under this SSIM (default 0.9)")
    parser.set_defaults(run=run)


def output_size(args: argparse.Namespace) -> OutputSize | None:
    """The output size of ``--resize``, ``--only-shrink`` and ``--sharpen``; None when they leave files as they are."""
    from enhance_core.export_size import OutputSize, parse_output_size

    if args.resize is None:
        if args.only_shrink:
            raise ParameterError("--only-shrink goes with --resize SIZE; add the size or drop --only-shrink")
        size = OutputSize(sharpen=args.sharpen)
    else:
        size = parse_output_size(args.resize, sharpen=args.sharpen, only_shrink=args.only_shrink)
    return None if size.is_identity else size


def run(args: argparse.Namespace) -> int:
    """Process the inputs; return 0 when every file succeeded, 1 when some failed or a folder of the inputs could
    not be opened (130 on Ctrl+C, 143 on SIGTERM)."""
    args.batch_ended = False
    try:
        return _run(args)
    except KeyboardInterrupt:  # before the batch began or after it ended: while it runs, a stop is its own summary
        if args.batch_ended:
            print(f"{stopped_word()} after the batch ended: every file is processed (the manifest in the output "
                  "folder says so); its summary was not printed", file=sys.stderr)
        else:
            print(f"{stopped_word()} before any file was processed: nothing was written; run the same command again",
                  file=sys.stderr)
        return stop_status()


def _run(args: argparse.Namespace) -> int:
    if args.list:
        print_filter_list()
        return 0
    from enhance_core.batch import default_jobs, plan_batch, run_batch
    from enhance_core.batch_inputs import collect_tree
    from enhance_core.batch_tasks import storage_refusal
    from enhance_core.batch_cluster import check_cluster, open_cluster, parse_cluster
    from enhance_core.batch_manifest import Manifest
    from enhance_core.batch_workers import BatchInterrupted, process_limit, remove_partial_files
    from enhance_core.cli.progress import BatchProgress

    steps = build_steps(args)
    if args.mask is None and args.mask_dir is None:
        from enhance_core.learned.hole_fill import missing_mask_refusal

        refusal = missing_mask_refusal(steps, None if args.recipe is None else f"recipe {args.recipe}")
        if refusal is not None:
            raise ParameterError(refusal)
    size = output_size(args)
    report_options = (("--min-psnr", args.min_psnr), ("--min-ssim", args.min_ssim), ("--report-dir", args.report_dir))
    given = [name for name, value in report_options if value is not None]
    if given and args.reference_dir is None:
        raise ParameterError(f"{given[0]} is for the report of results scored against references; add "
                             "--reference-dir DIR")
    from enhance_core.batch_report import MIN_PSNR, MIN_SSIM

    args.min_psnr = MIN_PSNR if args.min_psnr is None else args.min_psnr
    args.min_ssim = MIN_SSIM if args.min_ssim is None else args.min_ssim
    if not math.isfinite(args.min_psnr):
        raise ParameterError(f"--min-psnr must be a finite number of dB, got {args.min_psnr}")
    if not 0.0 <= args.min_ssim <= 1.0:
        raise ParameterError(f"--min-ssim must lie between 0 and 1, got {args.min_ssim}")
    if args.output is None or not args.inputs:
        raise ParameterError("give -o OUTDIR and at least one INPUT (file, folder or glob)")
    cluster_spec = parse_cluster(args.cluster) if args.cluster is not None else None
    if cluster_spec is not None and args.jobs is not None:
        raise ParameterError("--jobs sizes the local process pool; with --cluster the cluster's workers run the "
                             "files (local:N starts N of them)")
    left_out: list[Path] = []
    notes: list[str] = []
    unopened: list[Path] = []
    tree = collect_tree(args.inputs, recursive=args.recursive, include=args.include, exclude=args.exclude,
                        skip=args.output, left_out=left_out, notes=notes, unopened=unopened)
    tasks = plan_batch(list(tree), steps, args.output, format_suffix=args.format, mask_file=args.mask,
                       mask_dir=args.mask_dir, reference_dir=args.reference_dir, bit_depth=args.bit_depth,
                       quality=args.quality, overwrite=args.overwrite, device=args.device, subfolders=tree,
                       size=size, file_window=file_window(args), strip_location=args.strip_location,
                       time_limit=args.time_limit)
    if args.reference_dir is not None:
        from enhance_core.batch_report import check_report_folder

        check_report_folder(report_folder(args), tasks)
    check_output_folder(args.output, "results")
    with ExitStack() as stack:
        cluster = None
        if cluster_spec is not None:
            cluster = stack.enter_context(open_cluster(cluster_spec))
        created = make_output_folder(args.output, "results")
        try:
            refusal = storage_refusal(str(args.output), None)
            if refusal is not None:
                raise ParameterError(f"{refusal}; choose another -o folder")
            if cluster is not None:
                check_cluster(cluster, args.output, tasks[0].source if tasks else None)
        except BaseException:  # a refusal or a Ctrl+C while the workers are awaited: nothing was written
            remove_empty_folders(created)
            raise
        manifest = Manifest.open(args.output)
        if manifest.unreadable:
            print(f"{manifest.path}: {manifest.unreadable} unreadable line(s) skipped (a run killed while "
                  "writing); their files are done again", file=sys.stderr)
        try:
            try:
                _refuse_originals_in_output(args, tasks, manifest)
            except ParameterError:
                manifest.close()
                remove_empty_folders(created)
                raise
            # Only once the manifest's lock is ours: another run writing here still owns its partial files.
            removed = remove_partial_files(task.output for task in tasks)
            if removed:
                print(f"removed {removed} partial file(s) an interrupted run left in {args.output}", file=sys.stderr)
            if cluster is not None:
                dashboard = f"; dashboard {cluster.dashboard}" if cluster.dashboard else ""
                print(f"applying {len(steps)} step(s) to {len(tasks)} file(s) on the Dask cluster {cluster_spec} "
                      f"({cluster.workers} worker(s){dashboard})", file=sys.stderr, flush=True)
                jobs = 1
            else:
                jobs = args.jobs if args.jobs is not None else default_jobs(tasks)
                limit = process_limit()
                if limit is not None and min(jobs, len(tasks)) > limit:
                    print(f"note: this system runs at most {limit} worker processes; --jobs {jobs} runs {limit}",
                          file=sys.stderr)
                    jobs = limit
                print(f"applying {len(steps)} step(s) to {len(tasks)} file(s) with {min(jobs, len(tasks))} "
                      "process(es)", file=sys.stderr, flush=True)
            for line in left_out_lines(left_out):
                print(line, file=sys.stderr, flush=True)
            for note in notes:
                print(note, file=sys.stderr, flush=True)
            progress = BatchProgress(len(tasks), workers=cluster.workers if cluster is not None else jobs)
            results = run_batch(tasks, jobs=jobs, mask_required=args.mask_dir is not None,
                                skip_existing=args.skip_existing, manifest=manifest, retry_failed=args.retry_failed,
                                on_result=lambda result, done, total: report_result(result, done, total, progress,
                                                                                    quiet=args.quiet),
                                cluster=cluster)
            args.batch_ended = True
        except BatchInterrupted as interrupted:
            print(interrupted_summary(interrupted, args.output), file=sys.stderr)
            return 1 if interrupted.reason else stop_status()
        finally:
            manifest.close()
    print(done_summary(results, args.output))
    paged = sorted(str(result.source) for result in results if result.pages_left_out > 0)
    if paged:
        shown = len(paged) if args.quiet else 5  # -q prints no line of a file that went well: all are named here
        more = f" and {len(paged) - shown} more (their lines say which)" if len(paged) > shown else ""
        print(f"note: {len(paged)} file(s) hold more pages than the one read; their outputs hold that page only: "
              f"{', '.join(paged[:shown])}{more}")
    if args.quiet:
        for line in quiet_notes(results):
            print(line)
    failed = [r for r in results if r.error]
    if failed:
        from enhance_core.batch_report import format_failures

        print("failures by cause:\n" + format_failures(results), end="")
    if args.reference_dir is not None:
        try:
            write_batch_report(results, args)
        except KeyboardInterrupt:
            print(f"{stopped_word()} while writing the report: the files above are written; run the same command again "
                  "to write it (the files count as done)", file=sys.stderr)
            return stop_status()
    if unopened:
        print(f"note: {len(unopened)} folder(s) could not be opened and their files were not processed (exit "
              "status 1): check their permissions and run the same command again")
    return 1 if failed or unopened else 0


def _refuse_originals_in_output(args: argparse.Namespace, tasks: Sequence[FileTask], manifest: Manifest) -> None:
    """Refuse an -o folder inside an input folder that already holds a file this batch would write and did not
    write before (an original scan there would be skipped as output and then replaced)."""
    output = args.output.resolve()
    holder = next((Path(given) for given in args.inputs if Path(given).is_dir()
                   and output.is_relative_to(Path(given).resolve())), None)
    if holder is None:
        return
    found = manifest.first_not_written(task.output for task in tasks)
    if found is not None:
        raise ParameterError(f"-o {args.output} lies inside the input folder {holder} and already holds {found}, "
                             "which no earlier run of this batch wrote (an original?); choose an -o folder outside "
                             "the inputs")


UNREAD_PICTURES = ("GIF", "Photoshop PSD", "JPEG 2000", "JPEG 2000 codestream", "JPEG XL", "SVG", "XML/SVG",
                   "Windows icon")
"""Formats of pictures this program does not read (:func:`enhance_core.io.detect.describe_unsupported`)."""


def left_out_lines(files: list[Path], shown: int = 3) -> list[str]:
    """Lines naming the files of the input folders that are not taken (the first ``shown`` of each kind): pictures
    in formats this program does not read, with what to do, and files that are not pictures."""
    from enhance_core.io.detect import HEADER_BYTES, describe_unsupported

    pictures: dict[str, list[Path]] = {}
    others: list[Path] = []
    for file in sorted(files):
        try:
            with open(file, "rb") as stream:
                kind = describe_unsupported(stream.read(HEADER_BYTES))
        except OSError:
            kind = None
        if kind in UNREAD_PICTURES and not (kind == "XML/SVG" and file.suffix.lower() != ".svg"):
            pictures.setdefault(kind.removeprefix("XML/"), []).append(file)
        else:
            others.append(file)

    def some(named: list[Path]) -> str:
        more = f" and {len(named) - shown} more" if len(named) > shown else ""
        return ", ".join(str(file) for file in named[:shown]) + more

    lines = [f"left out {len(named)} {kind} picture(s), a format this program does not read: {some(named)}; "
             "convert them to PNG or TIFF to include them" for kind, named in pictures.items()]
    if others:
        lines.append(f"left out {len(others)} file(s) that are not images: {some(others)}")
    return lines


def done_summary(results: list[FileResult], output: Path) -> str:
    """The line printed at the end: files written, done earlier, kept and failed."""
    failed = sum(r.error is not None for r in results)
    failed_earlier = sum(r.error is not None and r.earlier for r in results)
    refused = sum(r.error is not None and r.retry for r in results)
    done_earlier = sum(r.skipped and r.earlier for r in results)
    kept = sum(r.skipped and not r.earlier for r in results)
    written = len(results) - failed - done_earlier - kept
    retried = sum(r.error is not None and (r.earlier or not (r.retry or r.not_run)) for r in results)
    return (f"done: {written} of {len(results)} file(s) written to {output}"
            + (f", {done_earlier} done in an earlier run" if done_earlier else "")
            + (f", {kept} kept (already there)" if kept else "") + (f", {failed} failed" if failed else "")
            + (f" ({failed_earlier} in an earlier run)" if failed_earlier else "")
            + (f" ({refused} refused by the disk: the same command tries them again once it has room or "
               "permission)" if refused else "")
            + (f"; once they are fixed, --retry-failed tries the {retried} that failed again (a replaced input is "
               "tried without it)" if retried else ""))


_FIGURES = re.compile(r"\d+(?:[.,]\d+)*")
"""The figures of a note, which differ from file to file."""


def quiet_notes(results: list[FileResult], shown: int = 8) -> list[str]:
    """What the files' lines would have said under ``-q``, which prints none of a file that went well: each note
    (a read warning, a step's note, metadata the output format cannot hold) once, with how many files it is
    said of and the first file (in that file's words: notes that differ only in their figures, "fills 0.05 % of
    the picture", count as one), the most said first."""
    files: dict[str, list[tuple[Path, str]]] = {}
    for result in results:
        if result.error is None and not result.skipped and not result.earlier:
            said: dict[str, str] = {}  # a file counts once for a kind of note, whatever its figures
            for note in result.step_notes:
                said.setdefault(_FIGURES.sub("#", note), note)
            for kind, note in said.items():
                files.setdefault(kind, []).append((result.source, note))
    ranked = sorted(files.values(), key=lambda said: -len(said))
    lines = [one_line(f"note: {len(said)} file(s) (first {said[0][0]}): {said[0][1]}") for said in ranked[:shown]]
    if len(ranked) > shown:
        lines.append(f"note: {len(ranked) - shown} other note(s); run without -q to see each file's")
    return lines


def interrupted_summary(interrupted: BatchInterrupted, output: Path) -> str:
    """The line printed when Ctrl+C (or a disk that refuses every file) stopped a batch: what was written, done
    in an earlier run, kept, failed, refused by the disk, stopped and not started."""
    finished = [result for result in interrupted.results if result is not None]
    refused = sum(result.error is not None and result.retry for result in finished)
    failed = sum(result.error is not None for result in finished) - refused
    earlier = sum(result.skipped and result.earlier for result in finished)
    kept = sum(result.skipped and not result.earlier for result in finished)
    written = len(finished) - failed - refused - earlier - kept
    said = f"stopped: {interrupted.reason}" if interrupted.reason else stopped_word()
    return (f"{said}: {written} file(s) written to {output}"
            + (f", {earlier} done in an earlier run" if earlier else "") + (f", {kept} kept" if kept else "")
            + f", {failed} failed" + (f", {refused} refused by the disk (queued for the next run)" if refused else "")
            + f", {len(interrupted.running)} stopped before writing, {len(interrupted.not_started)} not started; "
            "run the same command again to finish (the manifest in the output folder says what is done)")


def file_window(args: argparse.Namespace) -> tuple[str, ...]:
    """What of ``--filter window_level`` each file's own window sets: with no centre or width given, its centre
    and width, and its curve unless ``function`` is given (a DICOM's header window, as the editor opens it), not
    the parameters' defaults (0.5, 1: a threshold at half a unit of a CT's Hounsfield scale); else nothing."""
    given = {setting.partition("=")[0].strip() for setting in args.set}
    if args.filter != ["window_level"] or given & {"center", "width"}:
        return ()
    return ("center", "width") if "function" in given else ("center", "width", "function")


def build_steps(args: argparse.Namespace) -> tuple[StackItem, ...]:
    """The steps from ``--recipe`` or from ``--filter`` and its ``--set`` values; a step whose settings can do
    nothing on any image (:attr:`FilterDef.refusal`) is refused here, before a file is read."""
    from enhance_core.cli.recipes import read_recipe
    from enhance_core.stack import make_item

    if args.recipe is not None:
        if args.set:
            raise ParameterError("--set goes with --filter; edit the recipe to change its parameters")
        steps = read_recipe(args.recipe)
        if not steps:
            raise ParameterError(f"recipe {args.recipe} has no steps")
        for number, step in enumerate(steps, start=1):
            refusal = step.definition.refusal(step.params) if step.enabled else None
            if refusal:
                raise ParameterError(f"recipe {args.recipe}, step {number}: {refusal}; fix it in the editor "
                                     "(Load Recipe, then Save Recipe) or in the file")
        return steps
    if args.filter is None:
        raise ParameterError("give --recipe R.json or --filter NAME (see --list)")
    values: dict[str, str] = {}
    if len(args.filter) > 1:
        raise ParameterError(f"--filter is given {len(args.filter)} times ({', '.join(args.filter)}); apply runs one "
                             "filter, or the steps of a --recipe: save the stack as a recipe from the editor, or "
                             "run apply once per filter")
    for setting in args.set:
        name, sep, value = (part.strip() for part in setting.partition("="))
        if not sep or not name:
            raise ParameterError(f"--set {setting!r} must look like PARAM=VALUE")
        if values.setdefault(name, value) != value:
            raise ParameterError(f"--set gives {name} twice ({values[name]} and {value}); give it once")
    step = make_item(args.filter[0], values)
    refusal = step.definition.refusal(step.params)
    if refusal:
        raise ParameterError(refusal)
    return (step,)


def report_result(result: FileResult, done: int, total: int, progress: BatchProgress, *, quiet: bool = False) -> None:
    """One progress line per finished file on stderr, with the batch's speed and time left.

    Files done in an earlier run (manifest) print nothing; the summary counts them. ``quiet``: only failures
    print a line of their own, and a bare progress line comes every 5 % of the files (and at the last).
    """
    ran = not result.skipped and not result.earlier
    rate = progress.update(ran=ran, megapixels=result.megapixels)
    step = max(1, total // 20)
    if result.error:
        line = f"failed{' earlier' if result.earlier else ''}: {result.error}"
    elif quiet:
        if done % step == 0 or done == total:
            print(f"[{done}/{total}] | {rate}", file=sys.stderr, flush=True)
        return
    elif result.earlier:
        return
    elif result.skipped:
        line = f"kept {result.output} (already there)"
    else:
        said = "".join(f"; {note}" for note in result.step_notes)
        line = f"ok {result.source} -> {result.output} ({result.seconds:.1f} s{said})"
    print(one_line(f"[{done}/{total}] {line} | {rate}"), file=sys.stderr, flush=True)


def report_folder(args: argparse.Namespace) -> Path:
    """Where the reference report goes: ``--report-dir``, else ``report`` in the output folder."""
    return args.report_dir or args.output / "report"


def write_batch_report(results: list[FileResult], args: argparse.Namespace) -> None:
    """Write the reference report and print where it is and what it flagged."""
    from enhance_core.batch_report import write_report

    folder = report_folder(args)
    summary = write_report(results, folder, min_psnr=args.min_psnr, min_ssim=args.min_ssim)
    missing = sum(1 for result in results if result.error is None and result.reference is None)
    unscored = sum(1 for result in results
                   if result.error is None and result.reference is not None and result.metrics is None)
    without = f", {missing} without a reference" if missing else ""
    without += f", {unscored} not scored (report.csv's note says why)" if unscored else ""
    print(f"report: {folder} ({summary.scored} scored{without}, {len(summary.flagged)} flagged under "
          f"PSNR {args.min_psnr:g} dB or SSIM {args.min_ssim:g})")
    for path in summary.flagged[:FLAGGED_SHOWN]:
        print(f"flagged: {path}")
    if len(summary.flagged) > FLAGGED_SHOWN:
        print(f"flagged: ... and {len(summary.flagged) - FLAGGED_SHOWN} more, listed in {folder / 'flagged.txt'}")


def print_filter_list() -> None:
    """Print every filter by category with its parameters, ranges and defaults, and its render revision where a
    recipe written by hand must give one (:func:`enhance_core.recipe.render_revision`)."""
    from enhance_core.filters.base import MAX_POINTS, MIN_POINTS, format_points
    from enhance_core.filters.registry import CATEGORIES, filters_in_category
    from enhance_core.recipe import render_revision

    for category in CATEGORIES:
        filters = filters_in_category(category)
        if not filters:
            continue
        print(f"{category}:")
        for definition in filters:
            print(f"  {definition.name:20s} {definition.description}")
            if (revision := render_revision(definition.name)) > 1:
                print(f"      (renders as at revision {revision}: a recipe written by hand says \"revision\": "
                      f"{revision} in its step)")
            for spec in definition.specs:
                default = (format_points(spec.default) if spec.kind == "points"
                           else str(spec.default).lower() if spec.kind == "bool" else spec.default)
                if spec.kind == "choice":
                    allowed = "|".join(spec.choices)
                elif spec.kind == "bool":
                    allowed = "true|false"
                elif spec.kind == "points":
                    allowed = f"x,y;x,y;... ({MIN_POINTS}-{MAX_POINTS} points, quoted)"
                else:
                    allowed = "..".join("" if bound is None else f"{bound:g}" for bound in (spec.minimum, spec.maximum))
                unit = f" {spec.unit}" if spec.unit else ""
                wanted = spec.used_when[1] if spec.used_when else ""
                wanted = str(wanted).lower() if isinstance(wanted, bool) else wanted
                used = f"; used when {spec.used_when[0]}={wanted}" if spec.used_when else ""
                print(f"      {f'{spec.name}={default}':26s} {allowed}{unit}  ({spec.label}{used})")
