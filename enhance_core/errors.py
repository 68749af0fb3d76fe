"""Typed errors shared by the core, the CLI and the GUI.

Every error a user can cause carries the offending file or value and says what
to do. The CLI prints ``str(error)`` on one line and exits non-zero; the GUI
shows it in a dialog with the details one click away.
"""

from __future__ import annotations

from pathlib import Path


class EnhanceError(Exception):
    """Base class for errors caused by input, settings or the environment."""


class ImageReadError(EnhanceError):
    """A file could not be read as an image.

    Parameters
    ----------
    path : Path or str
        The file.
    reason : str
        What is wrong and, where possible, what to do about it.
    """

    def __init__(self, path: Path | str, reason: str) -> None:
        self.path = Path(path)
        self.reason = reason
        super().__init__(f"{self.path}: {reason}")

    def __reduce__(self) -> tuple[type, tuple[Path, str]]:
        """Pickle as ``(path, reason)`` so the error crosses from a worker process intact."""
        return type(self), (self.path, self.reason)


class UnsupportedFormat(ImageReadError):
    """The file is not in a format this program reads or writes."""


class DecompressionBomb(ImageReadError):
    """Decoding the file would cost more than a configured limit allows (pixels, samples, compression ratio, scans).

    The message names the limit's setting (an ``ENHANCE_MAX_...`` environment variable).
    """


class MissingDecoder(ImageReadError):
    """The file needs a decoder package that is not installed; the message names it."""


class DicomSeriesError(ImageReadError):
    """A folder holds no DICOM image, or several series and none was chosen; the message lists them."""


class ImageWriteError(EnhanceError):
    """A file could not be written; nothing was left half-written.

    ``storage`` is true when the operating system refused the write (no space
    left, no permission, a read-only disk): the same write may succeed once
    that is fixed, so a batch does not count the file as failed for good.
    """

    def __init__(self, path: Path | str, reason: str, *, storage: bool = False) -> None:
        self.path = Path(path)
        self.reason = reason
        self.storage = storage
        super().__init__(f"{self.path}: {reason}")

    def __reduce__(self) -> tuple[type, tuple[Path, str], dict[str, bool]]:
        """Pickle as ``(path, reason)`` and ``storage`` so the error crosses from a worker process intact."""
        return type(self), (self.path, self.reason), {"storage": self.storage}


class ParameterError(EnhanceError, ValueError):
    """A filter, parameter or recipe entry is unknown, missing or out of range."""


class PresetError(EnhanceError):
    """A window preset file is unreadable or malformed, or a preset is unknown or invalid."""


class ModelError(EnhanceError):
    """Model weights are missing, corrupt (hash mismatch) or do not match their architecture."""


class Cancelled(EnhanceError):
    """A long job stopped because ``should_stop()`` returned true."""


OUT_OF_MEMORY_WORDS = ("out of memory", "not enough memory", "can't allocate memory", "failed to allocate",
                       "insufficient memory")
"""What PyTorch's allocators (CPU, CUDA, MPS) and OpenCV say when memory ran out."""


def out_of_memory(error: BaseException) -> bool:
    """Whether ``error`` says memory ran out: Python's MemoryError, PyTorch's OutOfMemoryError (named, so torch
    is not imported for it), or a PyTorch or OpenCV error in :data:`OUT_OF_MEMORY_WORDS`."""
    if isinstance(error, MemoryError) or type(error).__name__ == "OutOfMemoryError":
        return True
    return (isinstance(error, RuntimeError) or type(error).__name__ == "error") and any(
        words in str(error).lower() for words in OUT_OF_MEMORY_WORDS)

