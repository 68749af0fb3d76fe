"""Inference engine for the learned filters: device choice and tiled, cancellable runs.

Qt-free, and ``torch`` is imported inside the functions, so importing this
module costs nothing at GUI start-up.

Device: :func:`select_device` picks CUDA, then Apple MPS, then the CPU; the
``preference`` argument (a GUI setting) wins, then the ``ENHANCE_DEVICE``
environment variable, then the automatic choice. :func:`describe_device` gives
the words for a status bar.

Tiling: :func:`run_tiled` runs a network over an image of any size in tiles
that overlap and blend with raised-cosine weights (see
:mod:`enhance_core.learned.tiling`), chooses the tile size from a memory
budget, retries at half the tile size when memory runs out, reports progress
per tile, checks ``should_stop()`` before every tile, runs in fp16 autocast on
CUDA, and with a ``mask`` computes only the tiles the mask touches.

Start-up: :func:`load_network` imports torch through :func:`import_torch`,
which keeps other threads (the GUI's event loop) running: torch's native
libraries load with the GIL released (:func:`load_torch_libraries`, half a
second) and the import runs with the cyclic garbage collector paused (its full
collections among the import's objects held the GIL 50-140 ms, three or four
times).

Filters: :func:`run_network` is the sequence every learned filter runs
around its network (check the pixels, load the model, feed gray as RGB, run
tiled with stop checks, average gray back, clip); a filter keeps only its own
conditioning inputs and pre- and post-processing.
"""

from __future__ import annotations

import contextlib
import functools
import gc
import importlib.util
import logging
import os
import sys
import threading
import time
from pathlib import Path
from typing import Any, Callable, Iterator, overload

import numpy as np

from enhance_core.errors import Cancelled, ModelError, ParameterError, out_of_memory
from enhance_core.learned.tiling import extract_tile, plan_tiles

log = logging.getLogger(__name__)

ProgressFn = Callable[[float, str], None]
StopFn = Callable[[], bool]

DEVICE_ENV = "ENHANCE_DEVICE"
CPU_BF16_ENV = "ENHANCE_CPU_BF16"
"""Set to ``0`` to run every network in fp32 on the CPU, also where bf16 would be faster (comparisons)."""
CPU_MAX_TILE = 512
MIN_TILE = 64
COPY_ROWS = 256
"""Rows copied between stop checks when a run starts (a 24-megapixel copy takes seconds on a slow CPU)."""
DEFAULT_BUDGET = {"cpu": 512 * 2**20, "mps": 1024 * 2**20}
REFINE_START = 0.9
"""Share of :func:`run_network`'s progress its tiles take when a ``refine`` step follows them."""


@overload
def sub_progress(progress: ProgressFn, start: float, stop: float) -> ProgressFn: ...


@overload
def sub_progress(progress: None, start: float, stop: float) -> None: ...


def sub_progress(progress: ProgressFn | None, start: float, stop: float) -> ProgressFn | None:
    """Map a stage's progress 0..1 onto ``start``..``stop`` of the caller's ``progress`` (None stays None)."""
    if progress is None:
        return None
    return lambda fraction, message: progress(start + (stop - start) * fraction, message)


def select_device(preference: str | None = None) -> str:
    """Return the device the learned filters run on: ``"cuda"``, ``"mps"`` or ``"cpu"``.

    Parameters
    ----------
    preference : str, optional
        ``"cpu"``, ``"cuda"``, ``"cuda:N"``, ``"mps"`` or ``"auto"``/None. When
        None or ``"auto"``, the ``ENHANCE_DEVICE`` environment variable is used
        if set, else CUDA, then MPS, then the CPU.

    Raises
    ------
    ParameterError
        The requested device is unknown or not available on this machine.
    """
    import torch

    origin = ""
    preference = preference.strip().lower() if preference is not None else None
    if preference in (None, "", "auto"):
        preference, origin = os.environ.get(DEVICE_ENV, "auto").strip().lower(), f" (set by {DEVICE_ENV})"
    if preference in ("", "auto"):
        if torch.cuda.is_available():
            return "cuda"
        if torch.backends.mps.is_available():
            return "mps"
        return "cpu"
    kind, _, index = preference.partition(":")
    available = {"cpu": True, "cuda": torch.cuda.is_available(), "mps": torch.backends.mps.is_available()}
    if kind not in available or (index and (kind != "cuda" or not index.isdigit())):
        raise ParameterError(f"unknown device {preference!r}{origin}; use auto, cpu, cuda, cuda:N or mps")
    if not available[kind]:
        raise ParameterError(f"device {preference!r}{origin} is not available on this machine; use auto or cpu")
    if index and int(index) >= torch.cuda.device_count():
        raise ParameterError(f"device {preference!r}{origin} does not exist; this machine has "
                             f"{torch.cuda.device_count()} CUDA device(s)")
    return preference


def describe_device(device: str | None = None) -> str:
    """Return a short description of ``device`` (default: the selected one) for the status bar."""
    import torch

    device = device or select_device()
    if device.startswith("cuda"):
        props = torch.cuda.get_device_properties(torch.device(device))
        return f"GPU: {props.name} ({props.total_memory / 2**30:.0f} GB, fp16)"
    if device == "mps":
        return "GPU: Apple MPS"
    threads = torch.get_num_threads()
    return f"CPU ({threads} thread{'' if threads == 1 else 's'})"


def cpu_has_fast_bf16() -> bool:
    """True when this CPU computes bf16 natively (AVX512-BF16 or AMX), where bf16 halves the time."""
    import torch

    checks = [getattr(torch.cpu, name, None) for name in ("_is_avx512_bf16_supported", "_is_amx_tile_supported")]
    return any(check is not None and check() for check in checks)


def use_cpu_bf16() -> bool:
    """Whether learned filters that allow it run under bf16 autocast on the CPU.

    True on a CPU that computes bf16 natively (:func:`cpu_has_fast_bf16`)
    unless ``ENHANCE_CPU_BF16=0`` asks for fp32 everywhere.
    """
    return os.environ.get(CPU_BF16_ENV, "").strip() != "0" and cpu_has_fast_bf16()


def choose_tile(device: str, *, memory_budget: int | None, bytes_per_pixel: float, multiple: int) -> int:
    """Return a tile side whose working memory fits ``memory_budget`` bytes on ``device``.

    The default budget is half the free memory on CUDA, 1 GiB on MPS and
    512 MiB on the CPU, where tiles are also capped at :data:`CPU_MAX_TILE`
    so that progress moves and ``should_stop`` is checked often.
    """
    if memory_budget is None:
        if device.startswith("cuda"):
            import torch

            memory_budget = torch.cuda.mem_get_info(torch.device(device))[0] // 2
        else:
            memory_budget = DEFAULT_BUDGET.get(device, DEFAULT_BUDGET["cpu"])
    side = int((memory_budget / bytes_per_pixel) ** 0.5)
    if device == "cpu":
        side = min(side, CPU_MAX_TILE)
    return max(side // multiple * multiple, MIN_TILE)


@contextlib.contextmanager
def inference_mode(device: str) -> Iterator[None]:
    """Run without autograd, with fp16 autocast on CUDA.

    On CUDA, cuDNN is set once per process to deterministic convolutions
    without autotuning (:func:`settle_cuda`), so a tile gives the same answer
    in the preview, the 1:1 view and the export. The setting stays: it is
    process-wide, and lanes running networks at once would undo each other's
    if each saved and restored it. ``torch.use_deterministic_algorithms`` is
    left alone; it would make cuBLAS (the low-light network's linear layers)
    raise unless an environment variable was set before CUDA started.
    """
    import torch

    if device.startswith("cuda"):
        settle_cuda()
        autocast: Any = torch.autocast("cuda", dtype=torch.float16)
    else:
        autocast = contextlib.nullcontext()
    with torch.inference_mode(), autocast:
        yield


_CUDA_SETTLED = threading.Event()


def settle_cuda() -> None:
    """Set cuDNN to deterministic convolutions without autotuning, once per process."""
    if not _CUDA_SETTLED.is_set():
        import torch

        torch.backends.cudnn.deterministic, torch.backends.cudnn.benchmark = True, False
        _CUDA_SETTLED.set()


_STARTING: set[threading.Thread] = set()
"""Helper threads of :func:`call_interruptibly` still at their work (abandoned by a stop, some of them)."""
_STARTING_LOCK = threading.Lock()


def wait_for_start_up_work(timeout: float) -> bool:
    """Wait up to ``timeout`` seconds for start-up work that a stop abandoned to end; True when none is left.

    An application closing while such work ran aborted as the process ended ("terminate called without an active
    exception": torch was still building a network on that thread), so a window waits for it when it shuts down.
    """
    deadline = time.monotonic() + max(0.0, timeout)
    with _STARTING_LOCK:
        helpers = list(_STARTING)
    for helper in helpers:
        helper.join(max(0.0, deadline - time.monotonic()))
    return not any(helper.is_alive() for helper in helpers)


def call_interruptibly(work: Callable[[], Any], should_stop: StopFn | None, *, poll: float = 0.02) -> Any:
    """Return ``work()``, run in a helper thread while ``should_stop()`` is checked every ``poll`` seconds.

    For start-up work that cannot check a stop flag itself: importing torch,
    reading and hashing weights, building a network. On a stop request this
    raises :class:`Cancelled` at once and lets ``work`` finish in the
    background, so it must be safe to abandon and worth keeping (it fills a
    cache: the next run finds torch imported and the model loaded).
    Exceptions of ``work`` are raised here. The helper thread is not a daemon:
    a process that exits while abandoned work runs waits for it, since
    killing a thread inside OpenBLAS or OpenCV can hang their shutdown.
    """
    if should_stop is None:
        return work()
    if should_stop():
        raise Cancelled("stopped by request")
    outcome: dict[str, Any] = {}
    done = threading.Event()

    def run() -> None:
        try:
            outcome["value"] = work()
        except BaseException as error:  # noqa: BLE001 - handed to the waiting thread
            outcome["error"] = error
        finally:
            done.set()
            with _STARTING_LOCK:
                _STARTING.discard(helper)

    helper = threading.Thread(target=run, name="enhance-learned-start")
    with _STARTING_LOCK:
        _STARTING.add(helper)
    try:
        helper.start()
    except BaseException:  # noqa: BLE001 - no thread to wait for ("can't start new thread")
        with _STARTING_LOCK:
            _STARTING.discard(helper)
        raise
    while not done.wait(poll):
        if should_stop():
            raise Cancelled("stopped by request")
    if "error" in outcome:
        raise outcome["error"]
    return outcome["value"]


def check_pixels(pixels: Any) -> None:
    """Raise :class:`ParameterError` unless ``pixels`` is a (rows, cols, 1 or 3) float array of finite numbers.

    Every learned filter takes such an array, in 0..1. Integer samples
    (a uint8 or uint16 array as a file reader gives it) are refused with the
    division that makes them so, rather than fed to a network 255 or 65535
    times too bright. A network spreads one NaN over everything its
    receptive field reaches, so such pixels are refused rather than turned
    into a picture of NaN.
    """
    if not isinstance(pixels, np.ndarray) or pixels.ndim != 3 or pixels.shape[2] not in (1, 3):
        raise ParameterError(f"pixels must be a (rows, cols, 1 or 3) array, got shape {getattr(pixels, 'shape', None)}")
    if not np.issubdtype(pixels.dtype, np.floating):
        top = f" / {np.iinfo(pixels.dtype).max}" if np.issubdtype(pixels.dtype, np.integer) else ""
        raise ParameterError(f"pixels must be floating-point values in 0..1, got {pixels.dtype}: pass "
                             f"pixels.astype(numpy.float32){top}")
    if np.issubdtype(pixels.dtype, np.floating) and pixels.size and not (
            np.isfinite(pixels.min()) and np.isfinite(pixels.max())):
        bad = int(np.count_nonzero(~np.isfinite(pixels)))
        raise ParameterError(f"pixels hold {bad:,} NaN or infinite sample(s): replace them with finite numbers "
                             f"before this filter (the editor's file readers do so when they open a file)")


TORCH_LIBRARY = "libtorch_python.so"
"""The library ``torch._C`` links on Linux; loading it loads libtorch and the rest of torch's native code."""


def load_torch_libraries() -> None:
    """Load torch's native libraries with the GIL released, ahead of ``import torch`` (Linux).

    ``import torch`` maps and initialises libtorch (about half a second on a
    2-core CPU) while it imports ``torch._C``, holding the GIL: every other
    Python thread, the GUI's event loop included, freezes that long. libc's
    ``dlopen`` called through ctypes runs with the GIL released (``ctypes.CDLL``
    keeps it) and with the flags the import uses (``RTLD_NOW``, local), so the
    import then finds the libraries loaded. Does nothing once torch is
    imported, off Linux, or where the library is not found or does not load
    (the import then loads it itself, as before).
    """
    if "torch" in sys.modules or not sys.platform.startswith("linux"):
        return
    spec = importlib.util.find_spec("torch")
    library = Path(spec.origin).parent / "lib" / TORCH_LIBRARY if spec is not None and spec.origin else None
    if library is None or not library.is_file():
        return
    import ctypes

    dlopen = ctypes.CDLL(None).dlopen
    dlopen.restype, dlopen.argtypes = ctypes.c_void_p, [ctypes.c_char_p, ctypes.c_int]
    if not dlopen(os.fsencode(library), os.RTLD_NOW):
        log.debug("%s did not load ahead of import torch; the import loads it", library)


_IMPORT_LOCK = threading.Lock()


def import_torch() -> None:
    """Import torch without freezing the process's other threads for more than a few milliseconds.

    ``import torch`` is about two seconds of Python on a 2-core CPU, which
    shares the GIL with every other thread (the editor's event loop), and two
    things in it hold the GIL for long: loading libtorch (half a second,
    avoided by :func:`load_torch_libraries`) and the cyclic garbage
    collector's full collections among the some 250 000 objects the import
    creates (50-140 ms each, three or four times). The import therefore runs
    with the collector paused; it is collected once before (a small heap) and
    the import's objects are then frozen (``gc.freeze``), so later full
    collections skip them. Does nothing once torch is imported (or another
    thread is importing it: the import then waits for that one).
    """
    if "torch" in sys.modules:
        return
    with _IMPORT_LOCK:
        if "torch" in sys.modules:
            return
        load_torch_libraries()
        collecting = gc.isenabled()
        if collecting:
            gc.collect()
            gc.disable()
        try:
            import torch  # noqa: F401 - the import is the point
        finally:
            if collecting:
                gc.freeze()
                gc.enable()


def load_network(name: str, *, device: str | None = None, should_stop: StopFn | None = None,
                 network: Any = None) -> tuple[Any, str]:
    """Choose the device and load model ``name`` on it; return ``(network, device)``.

    The first call in a process imports torch (:func:`import_torch`) and reads, checks and builds the
    network (seconds on a slow machine); this runs through
    :func:`call_interruptibly`, so a stop request is honoured within
    ``poll`` seconds even then. A ``network`` already loaded (a training
    checkpoint under evaluation) is returned as it is, with the chosen device.

    Raises
    ------
    Cancelled
        ``should_stop()`` returned true.
    ModelError, ParameterError
        As :func:`enhance_core.learned.registry.load_model` and :func:`select_device`.
    """

    if network is not None:
        return network, select_device(device)

    def load() -> tuple[Any, str]:
        import_torch()
        chosen = select_device(device)
        from enhance_core.learned.registry import load_model

        return load_model(name, device=chosen), chosen

    return call_interruptibly(load, should_stop)


@contextlib.contextmanager
def stop_checks(module: Any, should_stop: StopFn | None) -> Iterator[None]:
    """Check ``should_stop()`` before every submodule of ``module`` runs in this thread.

    A network's forward pass then raises :class:`Cancelled` within one layer,
    which keeps cancel prompt on a slow CPU even inside a large tile. Other
    threads sharing the (cached) module are not affected. Without
    ``should_stop`` nothing is hooked.
    """
    if should_stop is None:
        yield
        return
    owner = threading.get_ident()

    def check(_module: Any, _inputs: Any) -> None:
        if threading.get_ident() == owner and should_stop():
            raise Cancelled("stopped by request")

    handles = [child.register_forward_pre_hook(check) for child in module.modules() if child is not module]
    try:
        yield
    finally:
        for handle in handles:
            handle.remove()


def run_tiled(
    fn: Callable[[Any], Any],
    pixels: np.ndarray,
    *,
    tile: int | None = None,
    overlap: int = 32,
    multiple: int = 1,
    device: str | None = None,
    progress: ProgressFn | None = None,
    should_stop: StopFn | None = None,
    mask: np.ndarray | None = None,
    mask_reach: int | None = None,
    memory_budget: int | None = None,
    bytes_per_pixel: float = 1024.0,
    out_channels: int | None = None,
) -> np.ndarray:
    """Apply a network to ``pixels`` tile by tile and blend the tiles seamlessly.

    Parameters
    ----------
    fn : callable
        Maps a float32 tensor (1, C, rows, cols) on ``device`` (rows and cols
        multiples of ``multiple``) to a tensor (1, out_channels, rows, cols).
        It runs under ``torch.inference_mode`` and, on CUDA, fp16 autocast.
    pixels : ndarray
        Float32 (rows, cols, C). The first ``out_channels`` channels are the
        image; any further channels are conditioning inputs for ``fn``.
    tile : int, optional
        Tile side; by default chosen from ``memory_budget`` and ``bytes_per_pixel``.
    overlap : int
        Pixels shared by neighbouring tiles, blended with raised-cosine weights;
        use at least the distance over which the network's tile edges differ.
    multiple : int
        The network's size step; the image is reflect-padded up to it.
    device : str, optional
        Torch device; None selects one with :func:`select_device`.
    progress, should_stop : callable, optional
        ``progress(fraction, message)`` after each tile; ``should_stop()``
        is checked before each tile.
    mask : ndarray, optional
        Float (rows, cols); only tiles holding a mask value > 0 are computed.
        Pixels outside those tiles keep their input values; pixels in them
        blend toward the input where an uncomputed tile also covers them.
    mask_reach : int, optional
        With ``mask``: tile only the mask's extent grown by this many pixels,
        the picture the network needs around what it changes (a brush dab
        then costs one small tile, not the whole tiles it touches). None tiles
        the whole picture (a fill that reads context far beyond its overlap).
    memory_budget : int, optional
        Bytes a tile may use; default per device (see :func:`choose_tile`).
    bytes_per_pixel : float
        Working memory ``fn`` needs per tile pixel.
    out_channels : int, optional
        Channels ``fn`` returns; default all of ``pixels``'s channels. More
        channels than ``pixels`` has (sub-pixel detail for an enlargement)
        blend from zero: pixels no computed tile covers are 0.

    Returns
    -------
    ndarray
        Float32 (rows, cols, out_channels).

    Raises
    ------
    Cancelled
        ``should_stop()`` returned true.
    ModelError
        Memory ran out even at the smallest tile, or ``fn`` returned the wrong shape.
    ParameterError
        ``pixels`` or ``mask`` has the wrong type or shape.
    """
    if not isinstance(pixels, np.ndarray) or pixels.ndim != 3 or pixels.dtype != np.float32:
        raise ParameterError(f"pixels must be a float32 (rows, cols, C) array, got "
                             f"{getattr(pixels, 'dtype', type(pixels))} {getattr(pixels, 'shape', '')}")
    out_channels = out_channels or pixels.shape[2]
    if mask is not None and mask.shape != pixels.shape[:2]:
        raise ParameterError(f"mask must have the image's {pixels.shape[0]}x{pixels.shape[1]} shape, got "
                             f"{'x'.join(map(str, mask.shape))}; resize it or paint a new one")
    device = device or select_device()
    side = tile or choose_tile(device, memory_budget=memory_budget, bytes_per_pixel=bytes_per_pixel,
                               multiple=multiple)
    smallest = max(MIN_TILE, 2 * overlap + multiple)
    crop = None
    if mask is not None and mask_reach is not None and out_channels <= pixels.shape[2]:
        window = mask_window(mask, mask_reach, multiple)
        crop = None if window is None else (window, mask[window])
    while True:
        try:
            if crop is None:
                return _run_tiles(fn, pixels, side=side, overlap=overlap, multiple=multiple, device=device,
                                  progress=progress, should_stop=should_stop, mask=mask, out_channels=out_channels)
            window, part_mask = crop
            part = _run_tiles(fn, pixels[window], side=side, overlap=overlap, multiple=multiple, device=device,
                              progress=progress, should_stop=should_stop, mask=part_mask, out_channels=out_channels)
            output = np.array(pixels[:, :, :out_channels])
            output[window] = part
            return output
        except (RuntimeError, MemoryError) as error:
            if not out_of_memory(error):
                raise
            _release_memory(device)
            if side <= smallest:
                raise ModelError(f"out of memory on {device} even with {side}x{side} tiles; close other "
                                 f"programs, or choose the CPU (ENHANCE_DEVICE=cpu)") from error
            side = max(side // 2, smallest)
            log.warning("out of memory on %s; retrying with %dx%d tiles", device, side, side)


def mask_window(mask: np.ndarray, reach: int, multiple: int = 1) -> tuple[slice, slice] | None:
    """Rows and columns of ``mask``'s extent (values > 0) grown by ``reach``, starting on a multiple of
    ``multiple`` (a network with strides or a pixel unshuffle answers by its grid's phase: a dab of low-light
    started off it differed from the whole picture by 10 levels); None when that is the whole mask or the mask
    is empty (then no tile is computed anyway)."""
    rows, cols = mask.shape
    marked_rows = np.flatnonzero((mask > 0).any(axis=1))
    if marked_rows.size == 0:
        return None
    marked_cols = np.flatnonzero((mask[marked_rows[0]:marked_rows[-1] + 1] > 0).any(axis=0))
    top = max(0, int(marked_rows[0]) - reach) // multiple * multiple
    left = max(0, int(marked_cols[0]) - reach) // multiple * multiple
    bottom, right = min(rows, int(marked_rows[-1]) + 1 + reach), min(cols, int(marked_cols[-1]) + 1 + reach)
    if (top, left, bottom, right) == (0, 0, rows, cols):
        return None
    return slice(top, bottom), slice(left, right)


def _run_tiles(fn, pixels, *, side, overlap, multiple, device, progress, should_stop, mask, out_channels):
    """Run one tiling pass at tile size ``side``; see :func:`run_tiled`."""
    import torch

    rows, cols = pixels.shape[:2]
    tiles = plan_tiles(rows, cols, tile=side, overlap=overlap, multiple=multiple)
    if mask is not None:
        tiles = [t for t in tiles if np.any(mask[t.out_rows, t.out_cols] > 0)]
    from_zero = out_channels > pixels.shape[2]
    output = np.zeros(pixels.shape[:2] + (out_channels,), np.float32) if from_zero else np.empty(
        pixels.shape[:2] + (out_channels,), np.float32)
    for start in range(0, 0 if from_zero else rows, COPY_ROWS):
        if should_stop is not None and should_stop():
            raise Cancelled("stopped by request")
        output[start:start + COPY_ROWS] = pixels[start:start + COPY_ROWS, :, :out_channels]
    with inference_mode(device):
        for index, tile in enumerate(tiles):
            if should_stop is not None and should_stop():
                raise Cancelled("stopped by request")
            patch = extract_tile(pixels, tile)
            inputs = torch.from_numpy(patch.transpose(2, 0, 1)[None]).to(device)
            result = fn(inputs)
            expected = (1, out_channels, *patch.shape[:2])
            if tuple(result.shape) != expected:
                raise ModelError(f"the network returned shape {tuple(result.shape)} for a tile of shape "
                                 f"{tuple(inputs.shape)}; expected {expected}")
            values = result.float().cpu().numpy()[0].transpose(1, 2, 0)
            inside = values[: tile.out_rows.stop - tile.out_rows.start, : tile.out_cols.stop - tile.out_cols.start]
            # In place: the same arithmetic as ``+= weight * (inside - base)``, twice as fast without temporaries.
            change = inside.copy() if from_zero else np.subtract(inside, pixels[tile.out_rows, tile.out_cols,
                                                                                 :out_channels])
            np.multiply(change, tile.weight, out=change)
            target = output[tile.out_rows, tile.out_cols]
            np.add(target, change, out=target)
            if progress is not None:
                progress((index + 1) / len(tiles), f"tile {index + 1} of {len(tiles)}")
    if progress is not None and not tiles:
        progress(1.0, "nothing to compute")
    return output


def _release_memory(device: str) -> None:
    """Return cached blocks to the device after an out-of-memory error."""
    if device.startswith("cuda"):
        import torch

        torch.cuda.empty_cache()


def run_network(
    model: Any,
    pixels: np.ndarray,
    forward: Callable[[Any, Any], Any],
    *,
    overlap: int,
    bytes_per_pixel: float,
    out_channels: int | None = None,
    conditions: np.ndarray | None = None,
    tile: int | None = None,
    mask: np.ndarray | None = None,
    mask_reach: int | None = None,
    device: str | None = None,
    progress: ProgressFn | None = None,
    should_stop: StopFn | None = None,
    clip_input: bool = False,
    average_gray: bool = True,
    cpu_bf16: bool = False,
    refine: Callable[[np.ndarray], np.ndarray] | None = None,
    clip: bool = False,
) -> np.ndarray:
    """Run a learned filter's network over ``pixels`` in cancellable tiles: the plumbing the filters share.

    In order: check ``pixels``; load ``model`` and choose the device
    (:func:`load_network`); clip the input to [0, 1] (``clip_input``); feed a
    gray image as three equal channels; append ``conditions``; run
    ``forward`` tile by tile (:func:`run_tiled`) with a stop check before
    every layer (:func:`stop_checks`); average the output of a gray image
    back to one channel (``average_gray``); ``refine`` it; ``clip`` it.

    Parameters
    ----------
    model : str or nn.Module
        Name in :data:`enhance_core.learned.registry.MODELS`, or a loaded
        network on ``device`` (evaluation of a training checkpoint).
    pixels : ndarray
        (rows, cols, 1 or 3) image; a gray one is fed to the network as three equal channels.
    forward : callable
        ``forward(network, tensor)``: maps a tile (1, C, rows, cols), the image's
        channels then the conditions', to (1, out_channels, rows, cols); see :func:`run_tiled`.
    overlap, bytes_per_pixel, out_channels, tile, mask, mask_reach, progress
        As :func:`run_tiled` (``multiple`` is ``network.multiple``); ``out_channels`` defaults to the image's
        channels as fed.
    conditions : ndarray, optional
        Float32 (rows, cols, K) channels appended to the image (a noise map, a hole mask).
    device : str, optional
        Torch device; None selects one (see :func:`select_device`).
    should_stop : callable, optional
        Checked while the model loads, before every tile and before every layer.
    clip_input : bool
        Clip the input to [0, 1] first.
    average_gray : bool
        For a gray input, return the mean of the output's channels as one channel.
    cpu_bf16 : bool
        Run ``forward`` under bf16 autocast on a CPU that computes bf16 natively (:func:`use_cpu_bf16`).
    refine : callable, optional
        Applied to the output (in the input's channels) before clipping. The tiles then report
        progress up to :data:`REFINE_START`, and 1.0 ("refined") comes once it is done.
    clip : bool
        Clip the output to ``[min(0, input min), max(1, input max)]``: [0, 1] for an input within it.

    Returns
    -------
    ndarray
        Float32 (rows, cols, out_channels), or (rows, cols, 1) for a gray input averaged back.

    Raises
    ------
    Cancelled
        ``should_stop()`` returned true.
    ModelError, ParameterError
        As :func:`check_pixels`, :func:`load_network` and :func:`run_tiled`.
    """
    check_pixels(pixels)
    if isinstance(model, str):
        network, device = load_network(model, device=device, should_stop=should_stop)
    else:
        network, device = model, select_device(device)
    pixels = np.ascontiguousarray(pixels, dtype=np.float32)
    source = np.clip(pixels, 0.0, 1.0) if clip_input else pixels
    gray = source.shape[2] == 1
    if gray:
        source = np.repeat(source, 3, axis=2)
    if conditions is not None:
        source = np.concatenate([source, conditions], axis=2)
    tile_fn: Callable[[Any], Any] = functools.partial(forward, network)
    if cpu_bf16 and device == "cpu" and use_cpu_bf16():
        tile_fn = _in_cpu_bf16(tile_fn)
    tiles_progress = progress if refine is None else sub_progress(progress, 0.0, REFINE_START)
    with stop_checks(network, should_stop):
        result = run_tiled(tile_fn, source, tile=tile, overlap=overlap, multiple=network.multiple, device=device,
                           progress=tiles_progress, should_stop=should_stop, mask=mask, mask_reach=mask_reach,
                           bytes_per_pixel=bytes_per_pixel,
                           out_channels=out_channels or (3 if gray else pixels.shape[2]))
    if gray and average_gray:
        result = result.mean(axis=2, keepdims=True, dtype=np.float32)
    if refine is not None:
        if should_stop is not None and should_stop():
            raise Cancelled("stopped before the result was refined")
        result = refine(result)
        if progress is not None:
            progress(1.0, "refined")
    if clip:
        np.clip(result, min(0.0, float(pixels.min())), max(1.0, float(pixels.max())), out=result)
    return result


def _in_cpu_bf16(fn: Callable[[Any], Any]) -> Callable[[Any], Any]:
    """``fn`` run under bf16 autocast on the CPU."""
    import torch

    def run(tensor: Any) -> Any:
        with torch.autocast("cpu", dtype=torch.bfloat16):
            return fn(tensor)

    return run
