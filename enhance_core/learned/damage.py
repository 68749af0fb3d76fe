"""The learned damage detector: where a scan has cracks, scratches, dust, hairs, tears and stains.

The network (:class:`enhance_core.learned.archs.damage_unet.DamageUNet`,
weights ``models/detect/``) returns a damage probability for every pixel of the
scan at its own resolution, in tiles through the inference engine. It runs on
the scan and on its mirror image, and a pixel's probability is the geometric
mean of the two answers, so a picture structure that looks like damage only
one way round is not marked. There are four sets of weights: the colour
weights (:data:`MODEL_NAME`, five levels deep: a view about 300 px wide, twice
the others'), gray weights
trained on gray scans only (:data:`GRAY_MODEL_NAME`), where damage differs
from the picture in lightness alone (the colour weights lean on the tone of
damage and find about half of it on gray scans), and the coarse pass's own
colour and gray weights (:data:`COARSE_MODEL_NAME` and
:data:`GRAY_COARSE_MODEL_NAME`, four levels, from earlier training stages). A gray scan
(:func:`is_gray`) runs through the gray weights, any other through the colour
weights. Torn and missing corners and edges are often wider than the
network's view, so a second, coarse pass runs on the scan
reduced to :data:`COARSE_SIDE` pixels, where a whole tear fits in view; of
that pass only large regions that touch the print's edge are kept
(:func:`torn_edges`), since at that scale fine picture detail can look like
cracks. That pass asks its colour and its gray weights, each on the reduced scan and its
mirror image (:func:`coarse_probability`), the gray weights on the reduced
scan made gray: the two rarely imagine the same tear in a flat patch at the
border, and a real tear shows in both. On a colour scan it takes the geometric
mean of their answers (the colour weights also see the tone of a tear, which
the gray weights cannot), or the colour weights' answer over a tear they are
all but certain of (:func:`certain_tears`: a white corner torn from a pale
print differs from it in tone, not in lightness); on a gray scan, where both
see lightness alone, the smaller answer. (The deeper colour weights see the
whole reduced scan at once and are certain of white patches at the border of
real photos, and the newer gray weights see tears in pale hair and white
fur at the border; the rule is calibrated on the earlier weights, which the
coarse pass keeps.) The editable mask is that
probability above a threshold set by the *sensitivity* (0.5 is the network's
own decision boundary; higher finds fainter damage and marks more), grown by
a pixel or two so the fill also covers the soft rim of each defect.

:func:`source_damage_probability` keeps the probability of the most recent
source images, so a preview, a 1:1 view and the export of the same scan run
the network once. For the editor's quick proxy frame of a large scan,
:func:`draft_damage_probability` looks at the scan reduced to about
:data:`DRAFT_PIXELS` (a 24-megapixel scan in about a third of a second instead of
seconds) until the full-resolution map is ready.

``torch`` is imported only when the detector runs, so the filter registry and
the GUI start without it.
"""

from __future__ import annotations

import math
import threading
import weakref
from collections.abc import Callable
from typing import Any

import cv2
import numpy as np

from enhance_core.errors import Cancelled, ParameterError
from enhance_core.filters.base import ProgressFn, StopFn
from enhance_core.learned.engine import check_pixels, load_network, run_network, sub_progress

MODEL_NAME = "detect"
"""The colour weights of the full-resolution pass."""
COARSE_MODEL_NAME = "detect_coarse"
"""The colour weights of the coarse pass (:func:`torn_edges`)."""
GRAY_MODEL_NAME = "detect_gray"
"""The gray weights of the full-resolution pass of gray scans."""
GRAY_COARSE_MODEL_NAME = "detect_gray_coarse"
"""The gray weights of the coarse pass's second opinion."""
GRAY_SPREAD = 3.5 / 255.0
"""Largest difference between a pixel's channels that still counts as gray: up to 3 levels of 8 bits, as rounding
and JPEG leave in a gray picture saved in colour."""
GRAY_SHARE = 0.001
"""Share of the pixels that may differ by more than :data:`GRAY_SPREAD` in a gray scan."""
OVERLAP = 48
MIN_VIEW = 128
"""Smallest side, in pixels, the full-resolution pass looks at: a smaller picture is mirrored out to it first. In a
picture of a few dozen pixels the network's zero padding reaches everything, and it took blank pictures of 96 px or
less for damage all over (93-100 % marked). On drawn damage over 14 LIVE1 crops, precision 0.79 -> 0.94 at 64 px and
0.33 -> 0.89 at 96 px, recall 0.38 -> 0.38 and 0.37 -> 0.35; mirroring out to 256 px lost recall and precision on
160 px crops (0.58 -> 0.53, 0.98 -> 0.89)."""
SMALL_PICTURE = 256
"""Long side, in pixels, under which a picture is too small for the network to see as a picture: flat sepia or
blue pictures of 128-160 px were marked over half, even mirrored out to :data:`MIN_VIEW`."""
SMALL_MARK_SHARE = 0.3
"""On a picture under :data:`SMALL_PICTURE`, a full-resolution pass of the shipped weights that marks more than
this share of it has failed to see it (drawn damage covers 0.5-8 % of a picture, torn corners up to about 15 %):
nothing is marked. Weights given in their place (a candidate scored, a test's stand-in) are taken as they answer."""
BYTES_PER_PIXEL = 420.0
"""Peak working memory of the network per tile pixel in fp32."""
REDUCED_MIN_SIDE = 512
"""The full-resolution weights also look at the scan reduced by 2, 4, 8... while its short side stays at least this
long (:func:`reduced_factors`), and a pixel takes the larger of the full-resolution answer and, for each reduced
view, the smaller of that view's answer and the next coarser view's: damage is what two neighbouring scales both
see. The network knows damage a few pixels wide, as on a print scanned at 150-300 dpi; at 1200 dpi a crack 0.25 mm
wide is 12 px, and the full-resolution pass alone found none of it. Asking two scales keeps off the grain and skin
texture that one view, enlarged twice as much as the network knows, takes for specks (``models/detect/HISTORY.md``,
session 57). A picture of the size the network learned on gets no reduced view (a 1/2 view cost it 0.09 dB)."""
COARSE_SIDE = 192
"""Long side, in pixels, of the coarse pass that finds tears too large for the full-resolution view."""
EDGE_AREA = 0.005
"""Smallest share of the picture a coarse detection must cover, touching the edge, to be kept."""
EDGE_PROBABILITY = 0.65
"""Probability above which the coarse pass marks a pixel."""
SURE_EDGE_PROBABILITY = 0.995
"""On a colour scan the coarse pass keeps a tear whose core the colour weights are at least this sure of, whatever
the gray weights say (:func:`certain_tears`; measured in ``models/detect/HISTORY.md``)."""
EDGE_DEPTH = 5.0
"""Smallest half-width, in coarse pixels, of a kept region (a tear is a piece, not a line)."""
DRAFT_PIXELS = 500_000
"""Pixels of the reduced scan a draft detection looks at: twice the proxy's, about 0.3 s on a 2-core CPU with
native bf16 for the scan and its mirror image (the first frame of restore on a 24 MP scan came in 0.58 s)."""
DRAFT_MAX_SCALE = 0.7
"""A draft detects at full resolution when the reduction would be milder than this (the saving is small)."""


def threshold_for(sensitivity: float) -> float:
    """Probability above which a pixel is marked, for a sensitivity in [0, 1] (0.5 -> 0.5)."""
    if not 0.0 <= sensitivity <= 1.0:
        raise ParameterError(f"sensitivity must lie between 0 and 1, got {sensitivity}")
    return 0.9 - 0.8 * sensitivity


def is_gray(pixels: np.ndarray) -> bool:
    """Whether a scan is gray: one channel, or three that agree on nearly every pixel.

    Three channels agree when they differ by at most :data:`GRAY_SPREAD` on all
    but :data:`GRAY_SHARE` of the pixels (every other row and column is looked
    at). A sepia or toned print, or a black-and-white print scanned in colour
    with a colour cast, is not gray.

    Parameters
    ----------
    pixels : ndarray
        Float (rows, cols, C), C = 1 or 3, display values in [0, 1].

    Returns
    -------
    bool
        True for a gray scan.
    """
    if pixels.shape[2] == 1:
        return True
    sample = pixels[::2, ::2]
    red, green, blue = sample[..., 0], sample[..., 1], sample[..., 2]
    spread = np.maximum(np.maximum(np.abs(red - green), np.abs(green - blue)), np.abs(red - blue))
    return int(np.count_nonzero(spread > GRAY_SPREAD)) <= GRAY_SHARE * spread.size


def damage_probability(
    pixels: np.ndarray,
    *,
    device: str | None = None,
    progress: ProgressFn | None = None,
    should_stop: StopFn | None = None,
    tile: int | None = None,
    network: Any = None,
    gray_network: Any = None,
    gray_coarse_network: Any = None,
    gray: bool | None = None,
) -> np.ndarray:
    """Return the damage probability, float32 (rows, cols) in [0, 1], of a scan.

    Parameters
    ----------
    pixels : ndarray
        Float32 (rows, cols, C), C = 1 or 3, display values in [0, 1].
    device : str, optional
        ``"cpu"``, ``"cuda"``, ``"mps"``; None picks one.
    progress, should_stop : callable, optional
        Progress per tile and cooperative cancel (checked between layers).
    tile : int, optional
        Tile side; default from the device's memory budget.
    network : nn.Module, optional
        A loaded detector (evaluation of a training checkpoint) in place of both
        colour weights; also in place of both gray weights unless ``gray_network`` is given.
    gray_network : nn.Module, optional
        A loaded detector in place of both gray weights.
    gray_coarse_network : nn.Module, optional
        A loaded detector in place of the coarse pass's gray weights alone (before
        ``gray_network`` and ``network``): a candidate at full resolution can be
        scored next to the shipped coarse pass.
    gray : bool, optional
        Whether the scan is gray (:func:`is_gray`); None decides from ``pixels``.
        A draft of a reduced scan passes the full scan's answer.

    Returns
    -------
    ndarray
        Float32 (rows, cols) damage probability.

    Raises
    ------
    ParameterError
        Wrong image shape.
    ModelError
        The weights are missing or corrupt.
    Cancelled
        ``should_stop()`` returned true.
    """
    check_pixels(pixels)
    import torch

    source = np.clip(np.ascontiguousarray(pixels, dtype=np.float32), 0.0, 1.0)
    gray = is_gray(source) if gray is None else gray
    small = coarse_copy(source)
    colour_weights = coarse_weights = gray_weights = gray_coarse_weights = None
    if not gray:
        colour_weights, device = load_network(MODEL_NAME, device=device, should_stop=should_stop, network=network)
    gray_stand_in = network if gray_network is None else gray_network
    if small is not None:
        coarse_weights, device = load_network(COARSE_MODEL_NAME, device=device, should_stop=should_stop,
                                              network=network)
        gray_coarse_weights, device = load_network(
            GRAY_COARSE_MODEL_NAME, device=device, should_stop=should_stop,
            network=gray_stand_in if gray_coarse_network is None else gray_coarse_network)
    if gray:
        gray_weights, device = load_network(GRAY_MODEL_NAME, device=device, should_stop=should_stop,
                                            network=gray_stand_in)

    def forward(net: Any, tensor: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(net(tensor.contiguous(memory_format=torch.channels_last)).float())

    def detect(net: Any, source: np.ndarray, progress: ProgressFn | None) -> np.ndarray:
        return run_network(net, source, forward, overlap=OVERLAP, bytes_per_pixel=BYTES_PER_PIXEL,
                           out_channels=1, tile=tile, device=device, progress=progress, should_stop=should_stop,
                           cpu_bf16=True, average_gray=False)[..., 0]

    full_network = gray_weights if gray else colour_weights
    rows, cols = source.shape[:2]
    factors = reduced_factors(rows, cols)
    seen = factors + [2 * factors[-1]] if factors else []
    full_share = 1.0 / (1.0 + sum(1.0 / (factor * factor) for factor in seen))
    views: dict[int, np.ndarray] = {}
    for index, factor in enumerate(seen):
        done = full_share * sum(1.0 / (f * f) for f in seen[:index])
        views[factor] = both_views(lambda image, report: detect(full_network, image, report),
                                   reduced(source, 1.0 / factor),
                                   sub_progress(progress, done, done + full_share / (factor * factor)))
    pad_rows, pad_cols = max(0, MIN_VIEW - rows), max(0, MIN_VIEW - cols)
    top, left = pad_rows // 2, pad_cols // 2
    if pad_rows or pad_cols:
        source = np.pad(source, ((top, pad_rows - top), (left, pad_cols - left), (0, 0)), mode="symmetric")
    start = 1.0 - full_share
    probability = detect(full_network, source, sub_progress(progress, start, start + full_share / 2))
    _mirror_in_place(source)
    mirrored = detect(full_network, source, sub_progress(progress, start + full_share / 2, 1.0))
    del source
    np.multiply(probability, mirrored[:, ::-1], out=probability)
    del mirrored
    np.sqrt(np.maximum(probability, 0.0, out=probability), out=probability)
    if pad_rows or pad_cols:
        probability = np.ascontiguousarray(probability[top:top + rows, left:left + cols])
    for factor in factors:
        view = views[factor]
        coarser = cv2.resize(views[2 * factor], (view.shape[1], view.shape[0]), interpolation=cv2.INTER_LINEAR)
        agreed = np.minimum(view, coarser)
        np.maximum(probability, cv2.resize(agreed, (cols, rows), interpolation=cv2.INTER_LINEAR), out=probability)
    shipped = network is None and gray_network is None and gray_coarse_network is None
    if (shipped and max(rows, cols) < SMALL_PICTURE
            and np.count_nonzero(probability > 0.5) > SMALL_MARK_SHARE * probability.size):
        probability[:] = 0.0
    if small is not None:
        small_gray = np.ascontiguousarray(small.mean(axis=2, keepdims=True, dtype=np.float32))
        coarse = coarse_probability(small, lambda image: detect(coarse_weights, image, None))
        second = coarse_probability(small_gray, lambda image: detect(gray_coarse_weights, image, None))
        if gray:
            both = np.minimum(coarse, second)
        else:
            both = np.maximum(np.sqrt(coarse * second), certain_tears(coarse))
        edges = torn_edges(both, probability.shape)
        if edges is not None:
            np.maximum(probability, edges, out=probability)
    return np.clip(probability, 0.0, 1.0)


def reduced_factors(rows: int, cols: int) -> list[int]:
    """The factors, 2, 4, 8..., by which the full-resolution weights also look at a ``rows`` x ``cols`` scan: while
    its short side stays at least :data:`REDUCED_MIN_SIDE` (none for a picture under twice that). Each view is
    checked against one reduced twice as much, which is also looked at."""
    factors: list[int] = []
    while min(rows, cols) / (2 ** (len(factors) + 1)) >= REDUCED_MIN_SIDE:
        factors.append(2 ** (len(factors) + 1))
    return factors


def both_views(detect: Callable[[np.ndarray, ProgressFn | None], np.ndarray], image: np.ndarray,
               progress: ProgressFn | None) -> np.ndarray:
    """The geometric mean of ``detect`` on ``image`` (rows, cols, C) and on its mirror image, as the
    full-resolution pass joins them; float32 (rows, cols)."""
    answer = detect(image, sub_progress(progress, 0.0, 0.5))
    mirrored = detect(np.ascontiguousarray(image[:, ::-1]), sub_progress(progress, 0.5, 1.0))[:, ::-1]
    return np.sqrt(np.maximum(answer * mirrored, 0.0)).astype(np.float32)


def _mirror_in_place(image: np.ndarray, rows: int = 256) -> None:
    """Mirror ``image`` left to right in place, a band of ``rows`` at a time (no second full-size copy)."""
    for top in range(0, image.shape[0], rows):
        band = image[top:top + rows]
        band[:] = band[:, ::-1].copy()


def reduced(source: np.ndarray, scale: float) -> np.ndarray:
    """``source`` (rows, cols, C) reduced by ``scale`` with area averaging, keeping its channel axis."""
    size = max(1, round(source.shape[1] * scale)), max(1, round(source.shape[0] * scale))
    return cv2.resize(source, size, interpolation=cv2.INTER_AREA).reshape(size[1], size[0], source.shape[2])


def coarse_copy(source: np.ndarray) -> np.ndarray | None:
    """The scan (rows, cols, C) reduced for the coarse pass, :data:`COARSE_SIDE` long; None when it needs none.

    A scan less than twice that size gets no coarse pass: the network's own view holds its tears.
    """
    scale = COARSE_SIDE / max(source.shape[:2])
    return reduced(source, scale) if scale < 0.5 else None


def coarse_probability(small: np.ndarray, detect: Callable[[np.ndarray], np.ndarray]) -> np.ndarray:
    """The coarse pass's damage probability of a reduced scan: the mean of ``detect`` on it and on its mirror image.

    Parameters
    ----------
    small : ndarray
        Float32 (r, c, C) reduced scan (:func:`coarse_copy`).
    detect : callable
        Returns the network's (r, c) probability of an image like ``small``.

    Returns
    -------
    ndarray
        Float32 (r, c). On undamaged real photos the mean drops most of the
        torn corners one view alone imagines, and on drawn damage it finds
        torn corners a little more often (``models/detect/HISTORY.md``).
    """
    mirrored = detect(np.ascontiguousarray(small[:, ::-1]))[:, ::-1]
    return (0.5 * (detect(small) + mirrored)).astype(np.float32)


def certain_tears(coarse: np.ndarray) -> np.ndarray:
    """The colour weights' coarse answer over the regions above :data:`EDGE_PROBABILITY` that hold a certain tear.

    Parameters
    ----------
    coarse : ndarray
        Float32 (r, c): the colour weights' coarse-pass probability.

    Returns
    -------
    ndarray
        Float32 (r, c): ``coarse`` over every region above :data:`EDGE_PROBABILITY`
        that holds a torn edge (:func:`torn_edges`) of pixels at or above
        :data:`SURE_EDGE_PROBABILITY`, zero elsewhere. The certain core must be a
        tear on its own; the region around it gives the tear its ragged rim.
    """
    core = torn_edges(np.where(coarse >= SURE_EDGE_PROBABILITY, coarse, 0.0).astype(np.float32), coarse.shape)
    if core is None:
        return np.zeros(coarse.shape, np.float32)
    _, labels = cv2.connectedComponents((coarse > EDGE_PROBABILITY).astype(np.uint8), connectivity=8)
    held = np.unique(labels[core > 0])
    return np.where(np.isin(labels, held[held > 0]), coarse, 0.0).astype(np.float32)


def torn_edges(coarse: np.ndarray, shape: tuple[int, int]) -> np.ndarray | None:
    """The part of a coarse-pass probability that is a torn or missing edge, enlarged to ``shape``.

    Parameters
    ----------
    coarse : ndarray
        Float (r, c) damage probability of the reduced scan.
    shape : (int, int)
        Rows and columns of the full-resolution scan.

    Returns
    -------
    ndarray or None
        Float32 ``shape``: the coarse probability inside regions marked above
        :data:`EDGE_PROBABILITY` that touch the picture's edge, cover at least
        :data:`EDGE_AREA` of it and are at least :data:`EDGE_DEPTH` deep, zero
        elsewhere; None when there is no such region.
    """
    marked = (coarse > EDGE_PROBABILITY).astype(np.uint8)
    count, labels, stats, _ = cv2.connectedComponentsWithStats(marked, connectivity=8)
    r, c = marked.shape
    x, y, w, h, area = (stats[1:, i] for i in range(5))
    touches = (x == 0) | (y == 0) | (x + w == c) | (y + h == r)
    depth = np.zeros(count, np.float32)
    np.maximum.at(depth, labels.ravel().astype(np.intp), cv2.distanceTransform(marked, cv2.DIST_L2, 3).ravel())
    keep = 1 + np.flatnonzero(touches & (area >= EDGE_AREA * r * c) & (depth[1:] >= EDGE_DEPTH))
    if keep.size == 0:
        return None
    kept = np.where(np.isin(labels, keep), coarse, 0.0).astype(np.float32)
    return cv2.resize(kept, (shape[1], shape[0]), interpolation=cv2.INTER_LINEAR)


LINE_LENGTH = (60, 0.08)
"""A mark is a long line from this many pixels, or this share of the picture's short side when that is more."""
LINE_SPREAD = 2.5
"""Largest spread (px, standard deviation) of a long mark's pixels across its axis for it to count as straight."""


def long_straight_marks(marked: np.ndarray) -> int:
    """How many of the marks (joined marked pixels of ``marked``, (rows, cols)) are long straight lines.

    A scratch is one, but so are a rope, a mast, a pole or a wire, which the detector can take for one (the
    mooring rope of ``old_photos`` ``f``): the restore's note asks the user to look at them.
    """
    shortest = max(LINE_LENGTH[0], LINE_LENGTH[1] * min(marked.shape[:2]))
    count, labels, stats, _ = cv2.connectedComponentsWithStats((marked > 0).astype(np.uint8), connectivity=8)
    lines = 0
    for label in np.flatnonzero(np.maximum(stats[1:, cv2.CC_STAT_WIDTH], stats[1:, cv2.CC_STAT_HEIGHT]) >= shortest):
        left, top, width, height = stats[label + 1, :4]
        rows, cols = np.nonzero(labels[top:top + height, left:left + width] == label + 1)
        points = np.stack([cols, rows], axis=1).astype(np.float64)
        points -= points.mean(axis=0)
        across, along = np.linalg.eigvalsh(points.T @ points / len(points))
        lines += bool(np.sqrt(12.0 * along) >= shortest and np.sqrt(across) <= LINE_SPREAD)
    return lines


TEXT_SAMPLE = 250_000
"""Pixels :func:`looks_like_text` looks at (every k-th row and column of a larger picture)."""
TEXT_PAPER = 0.7
"""Lightest tenth of a text page: its paper is at least this light (0..1)."""
TEXT_BAND = (0.08, 0.35)
"""Below the paper around it, a pixel within the first is paper; more than the second below it, ink."""
TEXT_SHARES = (0.6, (0.01, 0.3), 0.08, 0.25)
"""A text page: at least this share paper, an ink share in this range, at most this share in between, and at
most this share of the ink more than a pixel from paper (strokes, not dark areas)."""


def looks_like_text(pixels: np.ndarray) -> bool:
    """Whether ``pixels`` (rows, cols[, channels], 0..1) look like a page of text or line art: light paper with
    thin dark strokes and little in between.

    The detector learned damage on photographs: on such a page it takes full stops and the dots of letters for
    dust, and a blank margin for a torn-off piece; the restore's note says so. Made on typed and printed pages,
    bilevel fax pages and an aged, yellowed page; none of the 2 125 photographs of ``../shared/data`` is taken
    for one.
    """
    rows, cols = pixels.shape[:2]
    stride = max(1, int(np.ceil(np.sqrt(rows * cols / TEXT_SAMPLE))))
    sample = pixels[::stride, ::stride]
    luma = np.ascontiguousarray(sample.mean(axis=2) if sample.ndim == 3 else sample, dtype=np.float32)
    paper_around = cv2.blur(cv2.dilate(luma, np.ones((9, 9), np.uint8)), (9, 9))  # the page under the strokes
    below = paper_around - luma
    inked = below > TEXT_BAND[1]
    paper, ink = float(np.mean(below < TEXT_BAND[0])), float(np.mean(inked))
    if np.percentile(luma, 90) <= TEXT_PAPER or not inked.any():
        return False
    thick = np.count_nonzero(cv2.erode(inked.astype(np.uint8), np.ones((3, 3), np.uint8))) / np.count_nonzero(inked)
    least_paper, (least_ink, most_ink), most_between, most_thick = TEXT_SHARES
    return bool(paper >= least_paper and least_ink <= ink < most_ink and 1.0 - paper - ink <= most_between
                and thick <= most_thick)


def damage_mask(probability: np.ndarray, *, sensitivity: float = 0.5, grow: float = 1.5) -> np.ndarray:
    """Threshold a damage probability and grow it by ``grow`` pixels; return float32 (rows, cols) of 0 and 1.

    Parameters
    ----------
    probability : ndarray
        Float (rows, cols) in [0, 1], from :func:`damage_probability`.
    sensitivity : float
        0..1; see :func:`threshold_for`.
    grow : float
        Radius in pixels by which the marked area grows (0 keeps it as thresholded).
    """
    if not 0.0 <= grow <= 50.0:
        raise ParameterError(f"grow must lie between 0 and 50 pixels, got {grow}")
    marked: np.ndarray = (probability > threshold_for(sensitivity)).astype(np.uint8)
    if grow >= 0.5 and marked.any():
        side = 2 * int(np.ceil(grow)) + 1
        centre = side // 2
        yy, xx = np.mgrid[:side, :side] - centre
        disk = ((xx * xx + yy * yy) <= grow * grow + 0.25).astype(np.uint8)
        marked = cv2.dilate(marked, disk)
    return marked.astype(np.float32)


def detect_damage(
    pixels: np.ndarray,
    *,
    sensitivity: float = 0.5,
    grow: float = 1.5,
    device: str | None = None,
    progress: ProgressFn | None = None,
    should_stop: StopFn | None = None,
) -> np.ndarray:
    """Return the damage mask (float32 (rows, cols), 1 = damaged) of a scan; see :func:`damage_mask`."""
    probability = damage_probability(pixels, device=device, progress=progress, should_stop=should_stop)
    return damage_mask(probability, sensitivity=sensitivity, grow=grow)


WAIT_POLL_S = 0.05
"""How often a caller waiting for another's damage map checks whether it is asked to stop."""


class _ProbabilityCache:
    """The damage probability of the last few source images, keyed by the array's identity, and the sources whose
    probability a thread is computing (so that a second caller waits for it instead of computing it again)."""

    def __init__(self, size: int = 2) -> None:
        self.size = size
        self._entries: list[tuple[weakref.ref, np.ndarray]] = []
        self._running: list[tuple[weakref.ref, threading.Event]] = []
        self._lock = threading.Lock()

    def get(self, source: np.ndarray) -> np.ndarray | None:
        with self._lock:
            return self._get(source)

    def _get(self, source: np.ndarray) -> np.ndarray | None:
        self._entries = [e for e in self._entries if e[0]() is not None]
        return next((probability for ref, probability in self._entries if ref() is source), None)

    def claim(self, source: np.ndarray) -> tuple[np.ndarray | None, threading.Event | None]:
        """(the probability, None) when cached; else (None, an event) when another thread computes it, to wait
        on; else (None, None), and the caller computes it and must :meth:`release` the source."""
        with self._lock:
            cached = self._get(source)
            if cached is not None:
                return cached, None
            running = next((event for ref, event in self._running if ref() is source), None)
            if running is None:
                self._running.append((weakref.ref(source), threading.Event()))
            return None, running

    def release(self, source: np.ndarray) -> None:
        """End a :meth:`claim`: its waiters find the probability cached, or (when it failed) claim it themselves."""
        with self._lock:
            for ref, event in self._running:
                if ref() is source:
                    event.set()
            self._running = [(ref, event) for ref, event in self._running if ref() is not None and ref() is not source]

    def put(self, source: np.ndarray, probability: np.ndarray) -> None:
        with self._lock:
            self._entries = [e for e in self._entries if e[0]() is not None and e[0]() is not source]
            self._entries.append((weakref.ref(source), probability))
            del self._entries[:-self.size]

    def computed(self, source: np.ndarray, compute: Callable[[], np.ndarray], *,
                 should_stop: StopFn | None, progress: ProgressFn | None) -> np.ndarray:
        """The cached probability of ``source``, else ``compute()``'s (read-only, cached), computed by one thread at
        a time: a second caller waits for the first (still stopped by its own ``should_stop``)."""
        while True:
            cached, running = self.claim(source)
            if cached is not None:
                if progress is not None:
                    progress(1.0, "damage map ready")
                return cached
            if running is None:
                break
            if progress is not None:
                progress(0.0, "waiting for the damage map another task is finding")
            while not running.wait(WAIT_POLL_S):
                if should_stop is not None and should_stop():
                    raise Cancelled("stopped while waiting for the damage map")
        try:
            probability = compute()
            probability.flags.writeable = False
            self.put(source, probability)
        finally:
            self.release(source)
        return probability


_CACHE = _ProbabilityCache()
_DRAFTS = _ProbabilityCache()


def detected_mark_at(source: np.ndarray, x: float, y: float, *, sensitivity: float, grow: float, reach: float,
                     device: str | None = None, should_stop: StopFn | None = None) -> np.ndarray | None:
    """The detector's mark (joined marked pixels of the mask ``sensitivity`` and ``grow`` make of ``source``'s
    full-resolution map) at or nearest source pixel (``x``, ``y``) within ``reach`` pixels; None when none is.

    What the eraser's Ctrl+click unmarks whole: a rope or mast the detector took for a scratch, which a trace by
    tone brought back some 30 px a click.
    """
    marked = damage_mask(source_damage_probability(source, device=device, should_stop=should_stop),
                         sensitivity=sensitivity, grow=grow)
    rows, cols = marked.shape
    column, row = int(round(x)), int(round(y))
    span = int(math.ceil(reach))
    top, left = max(0, row - span), max(0, column - span)
    near = marked[top:min(rows, row + span + 1), left:min(cols, column + span + 1)]
    found = np.argwhere(near > 0)
    if not len(found):
        return None
    distances = np.hypot(found[:, 0] + top - row, found[:, 1] + left - column)
    if distances.min() > reach:
        return None
    seed_row, seed_col = found[int(np.argmin(distances))] + (top, left)
    _, labels = cv2.connectedComponents((marked > 0).astype(np.uint8), connectivity=8)
    return labels == labels[seed_row, seed_col]


def source_damage_probability(source: np.ndarray, *, device: str | None = None, progress: ProgressFn | None = None,
                              should_stop: StopFn | None = None) -> np.ndarray:
    """:func:`damage_probability` of a source image's full-resolution pixels, computed once per source.

    The result is read-only and shared (whatever device computed it); the
    source array must not change in place (image pixels in the core never do).
    A call while another thread computes it waits for that one.
    """
    return _CACHE.computed(source, lambda: damage_probability(source, device=device, progress=progress,
                                                              should_stop=should_stop),
                           should_stop=should_stop, progress=progress)


def draft_scale(rows: int, cols: int) -> float:
    """Scale at which a draft detection looks at a ``rows`` x ``cols`` scan (1.0: at full resolution)."""
    scale = float(np.sqrt(DRAFT_PIXELS / float(rows * cols)))
    return 1.0 if scale >= DRAFT_MAX_SCALE else scale


def draft_damage_probability(source: np.ndarray, *, device: str | None = None, progress: ProgressFn | None = None,
                             should_stop: StopFn | None = None) -> tuple[np.ndarray, float]:
    """A quick damage probability of a source image and the scale it is at: (float32 map, scale).

    The full-resolution map (scale 1) when :func:`source_damage_probability`
    has it or the scan is small (:func:`draft_scale`); else the probability of
    the source reduced to about :data:`DRAFT_PIXELS` (area averaging), computed
    once per source. Thin cracks and dust fade in the reduction, so this is
    for a quick proxy frame only, not for a preview, a view or an export.
    """
    scale = draft_scale(source.shape[0], source.shape[1])
    if scale == 1.0 or _CACHE.get(source) is not None:
        return source_damage_probability(source, device=device, progress=progress, should_stop=should_stop), 1.0
    return _DRAFTS.computed(source, lambda: damage_probability(reduced(source, scale), device=device, progress=progress,
                                                               should_stop=should_stop, gray=is_gray(source)),
                            should_stop=should_stop, progress=progress), scale
