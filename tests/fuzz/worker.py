"""Fuzz worker process: reads one file path per line on stdin and answers one JSON line per file.

Started by :mod:`harness` as ``python worker.py [MODULE:FUNCTION]``. After
importing the readers it caps its address space (``RLIMIT_AS``) at twice
the machine's physical memory, a backstop against runaway reservations. The
memory limit proper is the harness's: it watches the worker's resident
memory and kills it when one read grows it beyond the budget (a decoder that
trusts a forged size and fills a huge buffer). A tight ``RLIMIT_AS`` would
hide exactly that case: the decoder's malloc would fail and it would report
an ordinary decoding error, while without the limit it fills gigabytes. Answers go to the
original standard output; anything a native library prints goes to standard
error instead.

Outcomes: ``image`` (a valid image under the pixel contract), ``typed`` (an
ImageReadError), and the failures ``bad-image`` (an image that breaks the
contract), ``memory`` (the read ran out of its budget) and ``untyped`` (any
other exception).
"""

from __future__ import annotations

import importlib
import json
import os
import resource
import sys
import time


def contract_problem(image) -> str:
    """Return what ``image`` breaks of the pixel contract, or "" when it is valid."""
    import numpy as np

    pixels, alpha, meta = image.pixels, image.alpha, image.meta
    if not isinstance(pixels, np.ndarray) or pixels.dtype != np.float32 or pixels.ndim != 3:
        return f"pixels are {type(pixels).__name__} {getattr(pixels, 'dtype', '')} {getattr(pixels, 'shape', '')}"
    if pixels.shape[2] not in (1, 3) or min(pixels.shape[:2]) < 1 or not pixels.flags.c_contiguous:
        return f"pixels have the shape {pixels.shape} (contiguous: {pixels.flags.c_contiguous})"
    if alpha is not None and (alpha.dtype != np.float32 or alpha.shape != pixels.shape[:2]):
        return f"alpha is {alpha.dtype} {alpha.shape} for pixels {pixels.shape}"
    if not meta.float_source and not (np.isfinite(pixels).all() and pixels.min() >= 0.0 and pixels.max() <= 1.0):
        return f"integer-source pixels outside [0, 1]: {np.nanmin(pixels)} .. {np.nanmax(pixels)}"
    numbers = [meta.value_offset, meta.value_scale,
               *(value for window in meta.windows for value in (window.center, window.width))]
    if not all(np.isfinite(numbers)) or meta.value_scale == 0:
        return f"physical map or windows not finite: {numbers}"
    return ""


def main() -> None:
    """Serve read requests until stdin closes."""
    answers = os.fdopen(os.dup(1), "w", buffering=1)
    os.dup2(2, 1)
    from enhance_core.cli.info import describe_image, strict_json
    from enhance_core.errors import ImageReadError
    from enhance_core.io import dicom, read_image  # noqa: F401 - import pydicom and its plugins before the limit

    reader = read_image
    if len(sys.argv) > 1:
        module, function = sys.argv[1].split(":")
        reader = getattr(importlib.import_module(module), function)
    backstop = 2 * os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    resource.setrlimit(resource.RLIMIT_AS, (backstop, backstop))
    answers.write(json.dumps({"ready": True}) + "\n")
    for line in sys.stdin:
        start = time.perf_counter()
        try:
            image = reader(line.rstrip("\n"))
            problem = contract_problem(image)
            json.dumps(strict_json(describe_image(image)), allow_nan=False)
            answer = {"outcome": "bad-image" if problem else "image", "detail": problem or str(image.pixels.shape)}
        except ImageReadError as error:
            outcome = "memory" if "not enough memory" in error.reason else "typed"
            answer = {"outcome": outcome, "type": type(error).__name__, "detail": error.reason[:300]}
        except BaseException as error:  # noqa: BLE001 - the harness reports whatever escapes the reader
            answer = {"outcome": "untyped", "type": type(error).__name__, "detail": " ".join(str(error).split())[:300]}
        answer["seconds"] = round(time.perf_counter() - start, 4)
        answers.write(json.dumps(answer) + "\n")


if __name__ == "__main__":
    main()
