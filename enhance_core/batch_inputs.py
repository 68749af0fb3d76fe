"""Which files a batch takes: files, folders (recursively if asked, with include and exclude patterns) and globs,
and the masks or references paired with them by file stem.

:func:`collect_tree` expands what the user named (:func:`collect_inputs`, the
files alone); :func:`index_by_stem` and :func:`shared_stems` pair other
files with them by stem. Every refusal names the path and what to do.
"""

from __future__ import annotations

import glob
import os
import unicodedata
from fnmatch import fnmatchcase
from functools import partial
from pathlib import Path, PurePosixPath
from typing import Callable, Sequence

from enhance_core.batch_manifest import MANIFEST_NAME, batch_files
from enhance_core.errors import ParameterError
from enhance_core.io import SUPPORTED_SUFFIXES
from enhance_core.io.detect import dicom_marked
from enhance_core.paths import hidden, is_dir

RECURSE_HINT = "pass -r to include them"
"""What the message about images in subfolders tells the user to do (a command without ``-r`` says its own)."""


def collect_inputs(specs: Sequence[str | Path], *, recursive: bool = False, include: Sequence[str] = (),
                   exclude: Sequence[str] = (), skip: Path | None = None,
                   recurse_hint: str = RECURSE_HINT) -> list[Path]:
    """Expand files, folders and glob patterns into sorted unique files (see :func:`collect_tree`)."""
    return list(collect_tree(specs, recursive=recursive, include=include, exclude=exclude, skip=skip,
                             recurse_hint=recurse_hint))


def collect_tree(specs: Sequence[str | Path], *, recursive: bool = False, include: Sequence[str] = (),
                 exclude: Sequence[str] = (), skip: Path | None = None,
                 left_out: list[Path] | None = None, notes: list[str] | None = None,
                 unopened: list[Path] | None = None, recurse_hint: str = RECURSE_HINT) -> dict[Path, PurePosixPath]:
    """Expand files, folders and glob patterns; map each file to the subfolder its result goes to.

    A folder gives its images (with ``recursive``, those of its subfolders too,
    hidden folders, ``skip``, the output folder, and the files that earlier
    batches wrote, which their output folder's manifest lists, left out); a
    glob gives its matches, its file-name part in any case (but those in ``skip``, unless the glob's
    folder is ``skip`` itself, and those earlier batches wrote; never a manifest). The subfolder is the
    file's folder relative to the folder named (to a glob's fixed leading folders) with ``recursive``,
    else ``.``.
    ``include`` and ``exclude`` are glob patterns matched, without regard to
    case, against the file's name and its path relative to that folder, and
    exclude patterns without a slash against the names of the folders on that path; a file
    is kept when it matches an include pattern (any, if none is given) and no
    exclude pattern. A file reached twice keeps its first subfolder, or its own
    path over a symbolic link's; hidden files are left out. The files
    of a folder named that are not images (but hidden ones and a run's
    manifest) are appended to ``left_out`` when it is given, once each, so the
    caller can say what it did not take; without ``recursive``, a line for
    each folder whose subfolders hold images goes to ``notes``, and so do a
    line for the links to folders ``recursive`` does not follow and one for
    each exclude pattern that matched no file. The subfolders that cannot be
    opened (of a folder with files taken) go to ``notes`` as one line, and with
    ``recursive``, whose files they would have given, to ``unopened`` when it is given.

    Raises :class:`ParameterError` naming a spec that matches nothing (saying
    when its subfolders hold images, for ``-r``) or whose every file the
    patterns leave out.
    """
    skipped = skip.resolve() if skip is not None else None
    found: dict[Path, tuple[Path, PurePosixPath]] = {}
    unused = list(exclude)
    for spec in specs:
        path = Path(spec)
        deeper = ""
        outputs: list[Path] = []
        denied: list[Path] = []
        if is_dir(path, path_refusal(f"input {str(spec)!r}")):
            others: list[Path] = []
            links: list[Path] = []
            own: list[Path] = []
            matches = _folder_images(path, recursive=recursive, skip=skipped, others=others, links=links,
                                     outputs=outputs, denied=denied, own=own)
            if path in denied:
                raise ParameterError(f"input {str(spec)!r}: permission denied: the folder {path} cannot be opened; "
                                     "check the folder's permissions")
            if notes is not None:
                for folders, why in ((links, "linked folder(s), which -r does not follow"),
                                     (outputs, f"output folder(s) of earlier batches (the files their "
                                               f"{MANIFEST_NAME} lists)")):
                    if folders:
                        notes.append(f"left out {len(folders)} {why}: {_some(folders)}")
            if notes is not None and own:
                notes.append(f"left out the files that batches wrote in {path}, the output folder (its "
                             f"{MANIFEST_NAME} lists them)")
            if left_out is not None:  # the files --include/--exclude select that are not images
                known = {file.resolve() for file in left_out}
                left_out += [file for file in others if file.name != MANIFEST_NAME and file.resolve() not in known
                             and _selected(PurePosixPath(file.relative_to(path).as_posix()), include, exclude)]
            peeked: list[Path] = []
            if not recursive and _images_below(path, skipped, peeked):
                deeper = f"the subfolders of {path} hold images too; {recurse_hint}"
                if matches and notes is not None:
                    notes.append(deeper)
            elif peeked:  # the whole tree was looked into but these folders, which might hold images for -r
                denied += peeked
        elif path.is_file():
            matches = [(path, PurePosixPath(path.name))]
        elif path.exists():
            raise ParameterError(f"input {str(spec)!r} is not a regular file (a named pipe or a device); give image "
                                 "files, folders or glob patterns")
        else:
            root = _fixed_prefix(str(spec))
            files = [Path(p) for p in glob.glob(_any_case_name(str(spec)), recursive=True)
                     if _reached(Path(p), Path.is_file, denied) and Path(p).name != MANIFEST_NAME]
            earlier = _earlier_outputs(root, {file.parent for file in files})
            own_root = skipped is not None and root.resolve() == skipped  # 'scans/*.tif' -o scans, as the folder
            if own_root:
                written_here = batch_files(root)
                earlier |= written_here
                if notes is not None and any(os.path.abspath(file) in written_here for file in files):
                    notes.append(f"left out the files that batches wrote in {root}, the output folder (its "
                                 f"{MANIFEST_NAME} lists them)")
            matches = sorted((file, PurePosixPath(file.relative_to(root).as_posix())) for file in files
                             if (own_root or not _inside(file, skipped)) and os.path.abspath(file) not in earlier)
            if files and not matches and skipped is not None and all(_inside(file, skipped) for file in files):
                deeper = (f"its {len(files)} file(s) lie in the output folder {skip}, which a batch never takes "
                          "as input (its results would replace them): write the results to another folder")
            elif files and not matches:
                deeper = (f"its {len(files)} file(s) are the outputs of this batch or of earlier ones (the "
                          f"{MANIFEST_NAME} of their output folder lists them)")
        denied = [folder for folder in denied if not any(folder.is_relative_to(other) and folder != other
                                                         for other in denied) and not _meant_out(folder, path, exclude)]
        refused = f"{len(denied)} folder(s) that cannot be opened (permission denied; check their permissions)"
        if denied and matches and notes is not None:
            notes.append(f"left out {refused}: {_some(denied)}")
        if denied and matches and recursive and unopened is not None:
            unopened += denied
        if not matches:
            if deeper:
                why = deeper.replace("hold images too", "hold images")
            elif path.is_dir() and outputs:
                why = (f"its subfolder(s) {', '.join(str(folder) for folder in outputs[:3])} hold the outputs of "
                       f"earlier batches (their {MANIFEST_NAME} lists them), which -r leaves out: name one as the "
                       "input to process it again")
            elif denied:
                why = f"it leads to {refused}: {_some(denied)}"
            else:
                why = "check the path or pattern"
            raise ParameterError(f"input {str(spec)!r} matches no image file; {why}")
        unused = [pattern for pattern in unused
                  if not any(_hits(relative, (pattern,), folders=True) for _, relative in matches)]
        selected = [(file, relative) for file, relative in matches if _selected(relative, include, exclude)]
        if not selected:
            raise ParameterError(f"input {str(spec)!r} has no file that --include/--exclude select; "
                                 "check the patterns")
        for file, relative in selected:
            placed = (file, relative.parent if recursive else PurePosixPath("."))
            earlier_name = found.get(file.resolve())
            if earlier_name is None or (earlier_name[0].is_symlink() and not file.is_symlink()):
                found[file.resolve()] = placed  # a file reached twice keeps its own name over a link's
    if notes is not None:
        notes += [f"--exclude {pattern!r} matched no file" + (
            f"; patterns match the path from the folder given (for any depth: {'*/' + pattern!r})"
            if "/" in pattern and not pattern.startswith("*") else "") for pattern in unused]
    return dict(found.values())


def _folder_images(folder: Path, *, recursive: bool, skip: Path | None, others: list[Path] | None = None,
                   links: list[Path] | None = None, outputs: list[Path] | None = None,
                   denied: list[Path] | None = None, own: list[Path] | None = None) -> list[tuple[Path, PurePosixPath]]:
    """The images of ``folder`` (and of its subfolders, but hidden ones, ``skip`` and the files that earlier
    batches wrote there, which the manifest of their output folder lists) with their relative paths.

    Its other files but hidden ones go to ``others`` (when given), the links
    to folders it does not follow to ``links``, the earlier output folders
    whose files were left out to ``outputs``, and the folders (``folder``
    itself too) that cannot be listed or entered to ``denied``, whose files
    are left out. An original in an output folder (an -o that held scans
    already) is taken: only what a run wrote is left out, of ``folder`` too when
    it is ``skip`` (the results of ``apply --format png -o scans scans``), which go to ``own``.
    """
    earlier: set[str] = set()
    if skip is not None and folder.resolve() == skip:  # the output folder too: a rerun must not take its results
        earlier = batch_files(folder)
    written_here = set(earlier)
    denied = [] if denied is None else denied
    walked = []
    for top, folders, files in os.walk(folder, onerror=partial(_note_denied, denied)):
        if recursive:
            folders[:] = [name for name in folders
                          if not hidden(Path(top, name)) and (skip is None or Path(top, name).resolve() != skip)]
            for name in folders:
                listed = batch_files(Path(top, name))
                if listed and outputs is not None:
                    outputs.append(Path(top, name))
                earlier |= listed
            if links is not None:
                links += [Path(top, name) for name in folders if _reached(Path(top, name), Path.is_symlink, denied)]
        else:
            folders.clear()
        walked += [Path(top, name) for name in files if _reached(Path(top, name), Path.is_file, denied)]
    images = []
    for file in walked:
        if own is not None and os.path.abspath(file) in written_here:
            own.append(file)
        if os.path.abspath(file) in earlier or hidden(file):
            continue  # hidden files (a Mac's ._scan.tif beside each scan) are no pictures of the archive
        if file.suffix.lower() in SUPPORTED_SUFFIXES or (not file.suffix[1:].isalpha() and _unnamed_dicom(file)):
            images.append((file, PurePosixPath(file.relative_to(folder).as_posix())))
        elif others is not None:
            others.append(file)
    return sorted(images, key=lambda item: item[1].parts)


def _unnamed_dicom(file: Path) -> bool:
    """Whether a file named without an image suffix is a DICOM image (a PACS or CD export's ``IM0001`` or UID
    name): its DICM marker, then a header that holds an image (a DICOMDIR or a report does not)."""
    if not dicom_marked(file):
        return False
    from enhance_core.medical.series import is_dicom_image

    return is_dicom_image(file)


def _note_denied(denied: list[Path], error: OSError) -> None:
    """``os.walk``'s ``onerror``: a folder it cannot list for want of permission goes to ``denied``."""
    if isinstance(error, PermissionError) and error.filename is not None:
        denied.append(Path(error.filename))


def _reached(path: Path, test: Callable[[Path], bool], denied: list[Path]) -> bool:
    """``test(path)`` (``Path.is_file``, ``Path.is_symlink``); False, with ``path``'s folder noted once in
    ``denied``, when that folder cannot be entered."""
    try:
        return test(path)
    except PermissionError:
        if path.parent not in denied:
            denied.append(path.parent)
        return False


def path_refusal(what: str) -> Callable[[str], ParameterError]:
    """The error of a check of :mod:`enhance_core.paths` about ``what`` ("input 'scans'"): its reason after the name."""
    return lambda reason: ParameterError(f"{what}: {reason}")


def _some(paths: Sequence[Path], shown: int = 3) -> str:
    """The first ``shown`` of ``paths``, and how many more there are."""
    return ", ".join(str(path) for path in paths[:shown]) + (
        f" and {len(paths) - shown} more" if len(paths) > shown else "")


def _earlier_outputs(root: Path, folders: set[Path]) -> set[str]:
    """The files that earlier batches wrote in ``folders``, by the manifests of those folders and of the folders
    between them and ``root`` (not of ``root`` itself: naming an output folder processes it again)."""
    seen: set[Path] = set()
    outputs: set[str] = set()
    for folder in folders:
        for candidate in (folder, *folder.parents):
            if candidate == root or candidate in seen or not candidate.is_relative_to(root):
                break
            seen.add(candidate)
            outputs |= batch_files(candidate)
    return outputs


def _images_below(folder: Path, skip: Path | None, denied: list[Path]) -> bool:
    """Whether a subfolder of ``folder`` (not a hidden one, nor ``skip``) holds an image that no earlier batch
    wrote, at any depth; the subfolders it cannot list for want of permission go to ``denied``."""
    earlier: set[str] = set()
    for top, folders, files in os.walk(folder, onerror=partial(_note_denied, denied)):
        folders[:] = [name for name in folders
                      if not hidden(Path(top, name)) and (skip is None or Path(top, name).resolve() != skip)]
        for name in folders:
            earlier |= batch_files(Path(top, name))
        if Path(top) != folder and any(Path(name).suffix.lower() in SUPPORTED_SUFFIXES
                                       and os.path.abspath(Path(top, name)) not in earlier for name in files):
            return True
    return False


def _inside(path: Path, folder: Path | None) -> bool:
    """Whether ``path`` lies in the resolved ``folder`` (never when it is None)."""
    return folder is not None and path.resolve().is_relative_to(folder)


def _any_case_name(pattern: str) -> str:
    """``pattern`` whose file-name part, when it holds a wildcard, matches without regard to case: ``*.jpg`` finds
    a camera's ``IMG_0001.JPG`` (as ``--include`` does), its folders as the file system has them. A bracket
    class (``[0-9]``, an escaped ``[[]``) is kept as it is, read as :mod:`fnmatch` reads it."""
    folder, name = os.path.split(pattern)
    if not any(char in name for char in "*?["):
        return pattern
    parts, index = [], 0
    while index < len(name):
        char = name[index]
        if char == "[":
            end = index + 1 + (name[index + 1:index + 2] == "!")
            end += name[end:end + 1] == "]"  # a ']' first in a class is one of its characters
            close = name.find("]", end)
            parts.append(name[index:close + 1] if close >= 0 else "[[]")  # an unclosed '[' is itself
            index = close + 1 if close >= 0 else index + 1
            continue
        parts.append(f"[{char.lower()}{char.upper()}]" if char.lower() != char.upper() else char)
        index += 1
    return os.path.join(folder, "".join(parts))


def _fixed_prefix(pattern: str) -> Path:
    """The leading folders of a glob pattern before its first wildcard."""
    fixed = []
    for part in Path(pattern).parent.parts:
        if any(char in part for char in "*?["):
            break
        fixed.append(part)
    return Path(*fixed) if fixed else Path(".")


def _meant_out(folder: Path, named: Path, exclude: Sequence[str]) -> bool:
    """Whether a folder that cannot be opened is one to leave out unsaid: the file system's own ``lost+found``, or
    one the exclude patterns leave out (relative to the folder ``named``)."""
    if folder.name == "lost+found":
        return True
    if not folder.is_relative_to(named) or folder == named:
        return False
    relative = PurePosixPath(folder.relative_to(named).as_posix().lower())
    return any(any(fnmatchcase(part, pattern.lower()) for part in relative.parts) if "/" not in pattern
               else fnmatchcase(f"{relative}/any", pattern.lower()) for pattern in exclude)


def name_form(text: str) -> str:
    """``text`` in the one Unicode form names are compared in (NFC): a Mac writes ``é`` as ``e`` and an accent
    (NFD), a keyboard as one character, and the two did not match."""
    return unicodedata.normalize("NFC", text)


def _hits(relative: PurePosixPath, patterns: Sequence[str], *, folders: bool = False) -> bool:
    """Whether a file's path relative to the folder named, its name, or (with ``folders``, for a pattern
    without a slash) the name of a folder on its way matches one of ``patterns`` (any case, any Unicode form:
    :func:`name_form`): an exclude pattern ``drafts`` leaves out every folder named so, at any depth."""
    relative = PurePosixPath(name_form(relative.as_posix()))
    path, name = relative.as_posix().lower(), relative.name.lower()
    parts = [part.lower() for part in relative.parent.parts] if folders else []
    folded = [name_form(pattern).lower() for pattern in patterns]
    return any(fnmatchcase(path, pattern) or fnmatchcase(name, pattern)
               or ("/" not in pattern and any(fnmatchcase(part, pattern) for part in parts))
               for pattern in folded)


def _selected(relative: PurePosixPath, include: Sequence[str], exclude: Sequence[str]) -> bool:
    """Whether a file (its path relative to the folder named) passes the include and exclude patterns."""
    return (not include or _hits(relative, include)) and not _hits(relative, exclude, folders=True)


def index_by_stem(folder: Path, *, what: str, mirrored: bool = False) -> dict[tuple[PurePosixPath, str], list[Path]]:
    """Image files of ``folder`` grouped by (subfolder, stem), both in :func:`name_form`: with ``mirrored``, those
    of its whole tree (hidden folders left out), else its own, all under ``.`` (``what`` names the folder in
    errors)."""
    if not is_dir(folder, path_refusal(f"{what} folder {folder}")):
        raise ParameterError(f"{what} folder {folder} does not exist or is not a folder")
    denied: list[Path] = []
    found = _folder_images(folder, recursive=mirrored, skip=None, denied=denied)
    if folder in denied:
        raise ParameterError(f"{what} folder {folder}: permission denied: it cannot be opened; check the folder's "
                             "permissions")
    index: dict[tuple[PurePosixPath, str], list[Path]] = {}
    for path, relative in found:
        index.setdefault((PurePosixPath(name_form(relative.parent.as_posix())), name_form(path.stem)), []).append(path)
    return index


def shared_stems(inputs: Sequence[Path], *, ignore_case: bool = False) -> dict[Path, Path]:
    """Inputs whose stem another input has too, each mapped to one such other input.

    Masks written by stem (``detect-dust``) would overwrite each other, and
    collide on a case-insensitive disk when the stems differ in case alone
    (``ignore_case``).
    """
    groups: dict[str, list[Path]] = {}
    for path in inputs:
        stem = name_form(path.stem)
        groups.setdefault(stem.lower() if ignore_case else stem, []).append(path)
    return {path: next(other for other in group if other != path)
            for group in groups.values() if len(group) > 1 for path in group}
