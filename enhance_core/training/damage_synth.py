"""Synthetic damage on clean photographs, for training and evaluating the damage detector and the fill.

:func:`damage_photo` turns a clean crop into an old, damaged print the way a
scanner sees it, and returns the damage's true extent:

1. **Ageing** (:func:`age_photo`): monochrome or sepia toning, fading toward
   a paper tone, a colour cast.
2. **Hard negatives** drawn *into the picture* (part of the clean target, never
   marked): lettering and eyes with catchlights, and on request railings (rows
   of evenly spaced thin bars, as fences, balusters and window bars are) and
   spectacles (a bright glint on a rim beside an eye), masts and tripods
   (straight members that meet at one point). They teach the detector what
   must not be filled.
3. **Damage** composited over the picture, each element as a soft alpha map and
   a tone: branching cracks 1-6 px wide (paper white, dark emulsion, yellowed),
   long film scratches (faint or strong, sometimes broken), folds, dust specks,
   hairs and fibres, torn or missing corners, stains. Sizes are absolute
   pixels, as the networks work at the scan's own resolution.
4. **Scanning** (:func:`scan_degrade`): slight blur, film grain or scanner
   noise, JPEG; applied with the same random draws to the damaged and to the
   clean picture, so the pair differs only by the damage. On request
   (``gray_scan``) the scan is then gray, as a black-and-white print scanned
   in grayscale is: the damage keeps only its lightness, not its tone.

The label is 1 where the damage covers a pixel with alpha >= 0.3 and visibly
changes it; pixels at the soft rim of damage (alpha 0.04-0.3), damage that
changes its pixel by less than 3/255 and soft specks that change it by less
than :data:`SPECK_CONTRAST` are *ignored* (neither damage nor clean), since no
detector should be scored on them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TypedDict

import cv2
import numpy as np

SUPERSAMPLE = 4
"""Damage shapes are drawn at this multiple of the image size and reduced (antialiased edges)."""
LABEL_ALPHA = 0.3
IGNORE_ALPHA = 0.04
VISIBLE_CHANGE = 3.0 / 255.0
SPECK_CONTRAST = 0.1
"""Least change (of 1) by which a pixel of a soft speck (and of no other damage) is labelled damage; fainter
ones are ignored: under grain a faint soft blob looks like the grain's own clumps, and teaching the detector
to mark those marks grainy skies."""
HEAVY_GRAIN = (0.05, 0.12)
"""Range of the grain's standard deviation on a scan drawn with heavy grain (the usual range is 0 to 0.05)."""

DAMAGE_KINDS = ("crack", "scratch", "fold", "dust", "hair", "corner", "stain", "speck")
DEFAULT_DAMAGE_WEIGHTS = {"crack": 0.35, "scratch": 0.2, "fold": 0.05, "dust": 0.2, "hair": 0.1,
                          "corner": 0.05, "stain": 0.05}


@dataclass(frozen=True)
class DamagedPhoto:
    """One synthetic sample.

    Attributes
    ----------
    damaged : ndarray
        float32 (rows, cols, 3) in [0, 1]: the scan the detector sees.
    clean : ndarray
        float32 (rows, cols, 3): the same scan without the damage (fill target).
    label : ndarray
        bool (rows, cols): True on damaged pixels.
    ignore : ndarray
        bool (rows, cols): True where neither answer is scored (soft rims, invisible damage).
    """

    damaged: np.ndarray
    clean: np.ndarray
    label: np.ndarray
    ignore: np.ndarray


def _canvas(rows: int, cols: int) -> np.ndarray:
    return np.zeros((rows * SUPERSAMPLE, cols * SUPERSAMPLE), np.float32)


def _reduce(canvas: np.ndarray, rows: int, cols: int) -> np.ndarray:
    return cv2.resize(canvas, (cols, rows), interpolation=cv2.INTER_AREA)


def _polyline(canvas: np.ndarray, points: np.ndarray, width: float) -> None:
    """Draw a polyline given in image pixels, ``width`` pixels wide, on a supersampled canvas."""
    scaled = np.round((points + 0.5) * SUPERSAMPLE).astype(np.int32).reshape(-1, 1, 2)
    thickness = max(1, int(round(width * SUPERSAMPLE)))
    cv2.polylines(canvas, [scaled], False, 1.0, thickness, cv2.LINE_AA)


def _random_walk(start: np.ndarray, angle: float, length: float, step: float, wiggle: float,
                 rng: np.random.Generator, *, jag: float = 0.0) -> np.ndarray:
    """Points of a path: ``length`` pixels in steps of ``step``; its heading drifts by ``wiggle``
    per step (curls) and each step deviates from the heading by ``jag`` (a jagged but straight course)."""
    count = max(2, int(length / step))
    turns = np.cumsum(rng.normal(0.0, wiggle, count)) + angle + rng.normal(0.0, jag, count)
    steps = step * np.stack([np.cos(turns), np.sin(turns)], axis=1)
    return np.vstack([start, start + np.cumsum(steps, axis=0)])


def _damage_tone(rng: np.random.Generator, kind: str) -> np.ndarray:
    """RGB colour of a damage element: paper white, dark emulsion or yellowed."""
    choice = rng.random()
    if kind in ("crack", "fold", "corner") and choice < 0.55 or choice < 0.35:
        level = rng.uniform(0.82, 1.0)
        warm = rng.uniform(0.0, 0.06)
        return np.array([level, level - warm * 0.5, level - warm], np.float32)
    if choice < 0.8:
        return np.full(3, rng.uniform(0.02, 0.25), np.float32)
    level = rng.uniform(0.6, 0.9)
    return np.array([level, level * rng.uniform(0.85, 0.95), level * rng.uniform(0.55, 0.75)], np.float32)


def draw_crack(rows: int, cols: int, rng: np.random.Generator) -> np.ndarray:
    """Alpha of a branching crack: a jagged main line with side branches, 1-6 px wide."""
    canvas = _canvas(rows, cols)
    width = rng.choice([1.0, 1.5, 2.0, 2.5, 3.0, 4.0, 5.0, 6.0], p=[0.12, 0.16, 0.18, 0.14, 0.14, 0.12, 0.08, 0.06])
    start = np.array([rng.uniform(0, cols), rng.uniform(0, rows)])
    heading = rng.uniform(0, 2 * math.pi)
    paths = [_random_walk(start, heading, rng.uniform(0.3, 1.2) * max(rows, cols), rng.uniform(2.0, 5.0),
                          rng.uniform(0.02, 0.12), rng, jag=rng.uniform(0.2, 0.7))]
    for _ in range(int(rng.integers(0, 5))):
        trunk = paths[int(rng.integers(len(paths)))]
        origin = trunk[int(rng.integers(len(trunk)))]
        paths.append(_random_walk(origin, heading + rng.normal(0, 1.0), rng.uniform(10, 0.4 * max(rows, cols)),
                                  rng.uniform(2.0, 4.0), rng.uniform(0.03, 0.15), rng, jag=rng.uniform(0.2, 0.7)))
    for index, path in enumerate(paths):
        _polyline(canvas, path, width if index == 0 else max(1.0, width * rng.uniform(0.4, 1.0)))
    return _reduce(canvas, rows, cols)


def draw_scratch(rows: int, cols: int, rng: np.random.Generator) -> np.ndarray:
    """Alpha of a long film scratch: nearly straight, 1-3 px, sometimes broken into dashes."""
    canvas = _canvas(rows, cols)
    vertical = rng.random() < 0.6
    angle = (math.pi / 2 if vertical else rng.uniform(0, math.pi)) + rng.normal(0, 0.05)
    length = rng.uniform(0.4, 1.5) * max(rows, cols)
    centre = np.array([rng.uniform(0, cols), rng.uniform(0, rows)])
    t = np.linspace(-0.5, 0.5, 40)[:, None]
    along = np.array([math.cos(angle), math.sin(angle)])
    across = np.array([-along[1], along[0]])
    bend = rng.normal(0, 0.02) * length
    points = centre + t * length * along + (1 - 4 * t ** 2) * bend * across
    width = float(rng.choice([1.0, 1.0, 1.5, 2.0, 3.0]))
    if rng.random() < 0.3:
        keep = rng.random(len(points) - 1) < 0.7
        for i in np.flatnonzero(keep):
            _polyline(canvas, points[i:i + 2], width)
    else:
        _polyline(canvas, points, width)
    return _reduce(canvas, rows, cols)


def draw_fold(rows: int, cols: int, rng: np.random.Generator) -> np.ndarray:
    """Alpha of a fold line: a straight band 3-8 px wide with a soft profile, across most of the print."""
    canvas = _canvas(rows, cols)
    angle = rng.uniform(0, math.pi)
    centre = np.array([rng.uniform(0, cols), rng.uniform(0, rows)])
    along = np.array([math.cos(angle), math.sin(angle)]) * 2 * max(rows, cols)
    _polyline(canvas, _random_walk(centre - along / 2, angle, 2 * max(rows, cols), 8.0, 0.03, rng),
              rng.uniform(3.0, 8.0))
    alpha = _reduce(canvas, rows, cols)
    return cv2.GaussianBlur(alpha, (0, 0), 0.8)


def draw_dust(rows: int, cols: int, rng: np.random.Generator) -> np.ndarray:
    """Alpha of a cloud of dust specks, 0.5-4 px, round or irregular, spread or clustered."""
    canvas = _canvas(rows, cols)
    count = int(rng.integers(5, 60))
    if rng.random() < 0.6:
        xs, ys = rng.uniform(0, cols, count), rng.uniform(0, rows, count)
    else:
        spread = rng.uniform(10, 60)
        xs, ys = rng.normal(rng.uniform(0, cols), spread, count), rng.normal(rng.uniform(0, rows), spread, count)
    for x, y in zip(xs, ys):
        radius = rng.choice([0.6, 0.8, 1.0, 1.5, 2.0, 3.0, 4.0], p=[0.15, 0.2, 0.2, 0.18, 0.14, 0.08, 0.05])
        axes = (max(1, int(radius * SUPERSAMPLE)), max(1, int(radius * SUPERSAMPLE * rng.uniform(0.5, 1.0))))
        centre = (int((x + 0.5) * SUPERSAMPLE), int((y + 0.5) * SUPERSAMPLE))
        cv2.ellipse(canvas, centre, axes, rng.uniform(0, 180), 0, 360, 1.0, -1, cv2.LINE_AA)
    return _reduce(canvas, rows, cols)


def draw_speck(rows: int, cols: int, rng: np.random.Generator) -> np.ndarray:
    """Alpha of a few large, soft dust specks, 8-26 px across, as dust out of focus on a negative prints them."""
    canvas = _canvas(rows, cols)
    for _ in range(int(rng.integers(1, 9))):
        x, y = rng.uniform(0, cols), rng.uniform(0, rows)
        radius = rng.uniform(4.0, 13.0)
        for _ in range(int(rng.integers(1, 4))):
            centre = (int((x + rng.normal(0, radius / 3) + 0.5) * SUPERSAMPLE),
                      int((y + rng.normal(0, radius / 3) + 0.5) * SUPERSAMPLE))
            axes = (int(radius * SUPERSAMPLE * rng.uniform(0.6, 1.0)),
                    int(radius * SUPERSAMPLE * rng.uniform(0.4, 1.0)))
            cv2.ellipse(canvas, centre, axes, rng.uniform(0, 180), 0, 360, 1.0, -1, cv2.LINE_AA)
    alpha = _reduce(canvas, rows, cols)
    return cv2.GaussianBlur(alpha, (0, 0), float(rng.uniform(1.0, 4.0)))


def draw_hair(rows: int, cols: int, rng: np.random.Generator) -> np.ndarray:
    """Alpha of hairs and fibres: short curly lines 1-2 px wide."""
    canvas = _canvas(rows, cols)
    for _ in range(int(rng.integers(1, 4))):
        start = np.array([rng.uniform(0, cols), rng.uniform(0, rows)])
        path = _random_walk(start, rng.uniform(0, 2 * math.pi), rng.uniform(15, 120), 1.5, rng.uniform(0.05, 0.2), rng)
        _polyline(canvas, path, float(rng.choice([1.0, 1.0, 1.5, 2.0])))
    return _reduce(canvas, rows, cols)


def draw_corner(rows: int, cols: int, rng: np.random.Generator) -> np.ndarray:
    """Alpha of a torn or missing corner or edge piece with a ragged boundary."""
    canvas = _canvas(rows, cols)
    corner = np.array([[0, 0], [cols, 0], [cols, rows], [0, rows]], np.float64)[int(rng.integers(4))]
    reach = rng.uniform(0.1, 0.35) * min(rows, cols)
    inward = np.array([cols / 2, rows / 2]) - corner
    inward /= np.linalg.norm(inward)
    base = math.atan2(inward[1], inward[0])
    angles = np.linspace(base - math.pi / 2 - 0.3, base + math.pi / 2 + 0.3, 48)
    radius = reach * np.clip(1 + np.cumsum(rng.normal(0, 0.08, len(angles))), 0.4, 1.8)
    edge = corner + np.stack([np.cos(angles), np.sin(angles)], 1) * radius[:, None]
    polygon = np.vstack([corner, edge])
    cv2.fillPoly(canvas, [np.round((polygon + 0.5) * SUPERSAMPLE).astype(np.int32)], 1.0, cv2.LINE_AA)
    return _reduce(canvas, rows, cols)


def draw_stain(rows: int, cols: int, rng: np.random.Generator) -> np.ndarray:
    """Alpha of a stain: an irregular blob, 8-50 px, strongest at its rim."""
    canvas = _canvas(rows, cols)
    radius = rng.uniform(6, 30)
    centre = np.array([rng.uniform(0, cols), rng.uniform(0, rows)])
    angles = np.linspace(0, 2 * math.pi, 40, endpoint=False)
    wobble = sum(rng.normal(0, 0.2 / h) * np.cos(h * angles + rng.uniform(0, 6.3)) for h in range(1, 5))
    points = centre + (radius * np.clip(1 + wobble, 0.4, 1.8))[:, None] * np.stack([np.cos(angles), np.sin(angles)], 1)
    cv2.fillPoly(canvas, [np.round((points + 0.5) * SUPERSAMPLE).astype(np.int32)], 1.0, cv2.LINE_AA)
    alpha = _reduce(canvas, rows, cols)
    inner = cv2.erode(alpha, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (5, 5)))
    return np.clip(alpha * rng.uniform(0.45, 0.85) + (alpha - inner) * 0.3, 0.0, 1.0)


DRAWERS = {"crack": draw_crack, "scratch": draw_scratch, "fold": draw_fold, "dust": draw_dust,
           "hair": draw_hair, "corner": draw_corner, "stain": draw_stain, "speck": draw_speck}


def age_photo(image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Tone, fade and tint a clean RGB picture as an old print: monochrome, sepia or faded colour."""
    result = image.astype(np.float32)
    style = rng.random()
    if style < 0.45:
        luma = result @ np.array([0.299, 0.587, 0.114], np.float32)
        tint = np.array([1.0, 1.0, 1.0], np.float32) if rng.random() < 0.4 else \
            np.array([1.0, rng.uniform(0.85, 0.95), rng.uniform(0.6, 0.8)], np.float32)
        result = luma[..., None] * tint
    if rng.random() < 0.6:
        paper = np.array([1.0, rng.uniform(0.92, 1.0), rng.uniform(0.78, 0.95)], np.float32) * rng.uniform(0.8, 1.0)
        fade = rng.uniform(0.0, 0.35)
        result = result * (1 - fade) + paper * fade
    if rng.random() < 0.4:
        result = result * rng.uniform(0.85, 1.1, 3).astype(np.float32)
    return np.clip(result, 0.0, 1.0)


def draw_railing(rows: int, cols: int, rng: np.random.Generator) -> np.ndarray:
    """Alpha of a railing: 4-24 evenly spaced thin bars (a fence, balusters, window bars), sometimes with rails.

    A regular row of thin lines is picture, not damage: cracks branch and wander,
    scratches come alone. The spacing may change along the row (perspective).
    """
    canvas = _canvas(rows, cols)
    angle = (math.pi / 2 if rng.random() < 0.7 else rng.uniform(0, math.pi)) + rng.normal(0, 0.08)
    along = np.array([math.cos(angle), math.sin(angle)])
    across = np.array([-along[1], along[0]])
    count = int(rng.integers(4, 25))
    spacing = rng.uniform(3.0, 20.0)
    perspective = rng.uniform(-0.03, 0.03)
    width = float(rng.choice([1.0, 1.5, 2.0, 3.0, 4.0]))
    length = rng.uniform(0.2, 1.0) * max(rows, cols)
    start = np.array([rng.uniform(0, cols), rng.uniform(0, rows)])
    offsets = np.cumsum(spacing * (1 + perspective * np.arange(count)))
    for offset in offsets:
        foot = start + offset * across
        _polyline(canvas, np.stack([foot, foot + length * along]), width)
    for _ in range(int(rng.integers(0, 3))):
        at = start + rng.uniform(0, length) * along
        _polyline(canvas, np.stack([at, at + offsets[-1] * across]), float(rng.choice([1.0, 2.0, 3.0])))
    return _reduce(canvas, rows, cols)


def draw_glasses(image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Draw a pair of spectacles over two eyes: thin dark or metal frames with a bright glint along a rim.

    The glint is a short bright arc, like a piece of a white crack, but it lies
    on a frame beside an eye: picture, not damage.
    """
    rows, cols = image.shape[:2]
    result = image.copy()
    half = rng.uniform(7.0, 26.0)
    height = half * rng.uniform(0.55, 0.85)
    x, y = rng.uniform(0, cols), rng.uniform(0, rows)
    tilt = rng.normal(0, 8.0)
    gap = half * rng.uniform(0.35, 0.7)
    frame = tuple(float(v) for v in (np.full(3, rng.uniform(0.02, 0.3)) if rng.random() < 0.6
                                     else np.full(3, rng.uniform(0.45, 0.75))))
    thickness = int(rng.choice([1, 1, 2, 3]))
    along = np.array([math.cos(math.radians(tilt)), math.sin(math.radians(tilt))])
    centres = [np.array([x, y]) + side * (half + gap / 2) * along for side in (-1, 1)]
    for centre in centres:
        iris = height * rng.uniform(0.25, 0.4)
        at = (int(centre[0]), int(centre[1]))
        cv2.ellipse(result, at, (int(iris * 1.8), int(iris)), tilt, 0, 360,
                    tuple(float(v) for v in np.full(3, rng.uniform(0.7, 0.95))), -1, cv2.LINE_AA)
        cv2.circle(result, at, int(iris), tuple(float(v) for v in np.full(3, rng.uniform(0.02, 0.25))), -1, cv2.LINE_AA)
        cv2.ellipse(result, at, (int(half), int(height)), tilt, 0, 360, frame, thickness, cv2.LINE_AA)
        start = rng.uniform(190, 300)
        cv2.ellipse(result, (int(centre[0]), int(centre[1] - 0.5)), (int(half), int(height)), tilt, start,
                    start + rng.uniform(20, 80), tuple(float(v) for v in np.full(3, rng.uniform(0.85, 1.0))),
                    int(rng.choice([1, 2])), cv2.LINE_AA)
    inner = [centres[0] + half * along, centres[1] - half * along]
    cv2.line(result, tuple(int(v) for v in inner[0]), tuple(int(v) for v in inner[1]), frame, thickness, cv2.LINE_AA)
    return result


def _tapered_bar(rows: int, cols: int, start: np.ndarray, end: np.ndarray, across: np.ndarray, top: float,
                 base: float) -> np.ndarray:
    """Antialiased coverage (rows, cols) of a straight bar from ``start`` (``top`` px wide) to ``end`` (``base``)."""
    canvas = _canvas(rows, cols)
    outline = np.stack([start + across * top / 2, end + across * base / 2, end - across * base / 2,
                        start - across * top / 2])
    cv2.fillPoly(canvas, [np.round((outline + 0.5) * SUPERSAMPLE).astype(np.int32)], 1.0, cv2.LINE_AA)
    return _reduce(canvas, rows, cols)


class RiggingStyle(TypedDict, total=False):
    """Keyword arguments of :func:`draw_rigging` that a training config may set."""

    members: tuple[int, int]
    stay_alpha: tuple[float, float]


def draw_rigging(image: np.ndarray, rng: np.random.Generator, *, members: tuple[int, int] = (2, 5),
                 stay_alpha: tuple[float, float] = (0.45, 1.0)) -> np.ndarray:
    """Draw a mast with its stays, or a tripod: ``members`` (least, most) straight members that start at one point.

    A lone straight line is a scratch, but straight lines that meet at a point
    (a tripod's legs, a mast and the stays from its top, a gantry's struts) are
    picture. Masts and legs taper toward the apex and thick ones are lit from
    one side, as poles are; stays are thin and often faint (opacity drawn from
    ``stay_alpha``). A mast may carry a yard across it.
    """
    rows, cols = image.shape[:2]
    size = max(rows, cols)
    result = image.copy()
    apex = np.array([rng.uniform(0, cols), rng.uniform(0, rows * 0.7)])
    tripod = rng.random() < 0.4
    base_tone = rng.uniform(0.0, 0.3) if rng.random() < 0.7 else rng.uniform(0.7, 1.0)
    mast: tuple[np.ndarray, np.ndarray] | None = None
    for index in range(int(rng.integers(members[0], members[1] + 1))):
        heavy = tripod or index == 0
        angle = math.pi / 2 + (rng.uniform(-0.6, 0.6) if tripod else rng.normal(0, 0.08)) if heavy \
            else rng.uniform(0, 2 * math.pi)
        along = np.array([math.cos(angle), math.sin(angle)])
        across = np.array([-along[1], along[0]])
        end = apex + rng.uniform(0.15, 0.8) * size * along
        top = float(rng.choice([1.0, 1.0, 1.5, 2.0])) if heavy else float(rng.choice([0.8, 1.0, 1.0, 1.5]))
        base = top * rng.uniform(1.0, 2.5) if heavy else top
        alpha = _tapered_bar(rows, cols, apex, end, across, top, base)[..., None] * (
            rng.uniform(0.8, 1.0) if heavy else rng.uniform(*stay_alpha))
        tone = np.float32(np.clip(base_tone + rng.normal(0, 0.05), 0, 1))
        result = result * (1 - alpha) + tone * alpha
        if heavy and base >= 2.5 and rng.random() < 0.6:
            lit = _canvas(rows, cols)
            _polyline(lit, np.stack([apex + across * top / 4, end + across * base / 4]), base / 3)
            shine = _reduce(lit, rows, cols)[..., None] * alpha
            result = result * (1 - shine) + np.float32(np.clip(tone + rng.uniform(0.15, 0.3), 0, 1)) * shine
        if mast is None:
            mast = (end, along)
    if not tripod and mast is not None and rng.random() < 0.4:
        mast_end, mast_along = mast
        at = apex + rng.uniform(0.1, 0.5) * (mast_end - apex)
        reach = rng.uniform(0.05, 0.15) * size * np.array([-mast_along[1], mast_along[0]])
        yard = _canvas(rows, cols)
        _polyline(yard, np.stack([at - reach, at + reach]), float(rng.choice([1.0, 1.5, 2.0])))
        alpha = _reduce(yard, rows, cols)[..., None]
        result = result * (1 - alpha) + np.float32(base_tone) * alpha
    return np.clip(result, 0.0, 1.0).astype(np.float32)


def draw_stick(image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Draw a lone straight object that stops at things: a walking stick or club in a hand, a signpost, a lamp post.

    A film scratch runs on across whatever is in its way; a stick, pole or
    shaft is a straight line too, but it starts and ends inside the picture,
    at something it holds or that holds it (a hand, a club head, a sign, a
    lamp), drawn here as a blob of another tone at its start and often at its end.
    """
    rows, cols = image.shape[:2]
    size = max(rows, cols)
    result = image.copy()
    start = np.array([rng.uniform(0.1, 0.9) * cols, rng.uniform(0.1, 0.9) * rows])
    angle = math.pi / 2 + rng.normal(0, 0.35) if rng.random() < 0.7 else rng.uniform(0, 2 * math.pi)
    along = np.array([math.cos(angle), math.sin(angle)])
    across = np.array([-along[1], along[0]])
    end = start + rng.uniform(0.15, 0.6) * size * along
    top = float(rng.choice([1.0, 1.5, 2.0, 3.0, 4.0]))
    base = top * rng.uniform(1.0, 1.6)
    tone = np.float32(rng.uniform(0.0, 0.3) if rng.random() < 0.6 else rng.uniform(0.7, 1.0))
    alpha = _tapered_bar(rows, cols, start, end, across, top, base)[..., None] * rng.uniform(0.8, 1.0)
    result = result * (1 - alpha) + tone * alpha
    for point, width, chance, outward in ((start, top, 1.0, -1.0), (end, base, 0.6, 1.0)):
        if rng.random() < chance:
            blob = _canvas(rows, cols)
            axes = (max(width * rng.uniform(2.0, 6.0), 4.0), max(width * rng.uniform(1.5, 4.0), 3.0))
            centre = point + along * rng.uniform(-0.3, 0.3) * axes[0] * outward
            cv2.ellipse(blob, tuple(int(v) for v in np.round((centre + 0.5) * SUPERSAMPLE)),
                        tuple(int(v) for v in np.round(np.array(axes) * SUPERSAMPLE)), float(rng.uniform(0, 180)),
                        0, 360, 1.0, -1, cv2.LINE_AA)
            shade = _reduce(blob, rows, cols)[..., None]
            colour = np.clip(rng.uniform(0.0, 1.0, 3).astype(np.float32) * 0.6 + rng.uniform(0.1, 0.4), 0, 1)
            result = result * (1 - shade) + colour * shade
    return np.clip(result, 0.0, 1.0).astype(np.float32)


def draw_hard_negatives(image: np.ndarray, rng: np.random.Generator, *, railings: float = 0.0,
                        glasses: float = 0.0, rigging: float = 0.0, sticks: float = 0.0,
                        rigging_style: RiggingStyle | None = None) -> np.ndarray:
    """Draw content that resembles damage but is picture: lettering, eyes, railings, glasses, masts, tripods, sticks.

    ``railings``, ``glasses``, ``rigging`` and ``sticks`` are the mean numbers
    of railings (:func:`draw_railing`), spectacles (:func:`draw_glasses`), masts
    or tripods (:func:`draw_rigging`, with ``rigging_style``'s keywords) and
    sticks (:func:`draw_stick`) drawn; at 0 the random draws are those of
    lettering and eyes alone.

    (Isolated bright dots are not drawn: on their own they are indistinguishable
    from white dust, which must be marked.)
    """
    rows, cols = image.shape[:2]
    result = image.copy()
    for _ in range(int(rng.poisson(0.6))):
        text = "".join(rng.choice(list("ABCDEFGHJKLMNOPRSTUVWabcdeghmnorstu0123456789 .,"), int(rng.integers(3, 14))))
        colour = tuple(float(v) for v in (np.full(3, rng.uniform(0.0, 0.2)) if rng.random() < 0.6
                                          else np.full(3, rng.uniform(0.8, 1.0))))
        font = int(rng.choice([cv2.FONT_HERSHEY_SIMPLEX, cv2.FONT_HERSHEY_DUPLEX, cv2.FONT_HERSHEY_COMPLEX,
                               cv2.FONT_HERSHEY_SCRIPT_SIMPLEX, cv2.FONT_HERSHEY_PLAIN]))
        origin = (int(rng.uniform(0, cols * 0.7)), int(rng.uniform(12, rows)))
        ink = np.zeros((rows, cols), np.uint8)
        cv2.putText(ink, text, origin, font, rng.uniform(0.3, 1.2), 255, int(rng.integers(1, 3)), cv2.LINE_AA)
        alpha = ink.astype(np.float32)[..., None] / 255.0
        result = result * (1 - alpha) + np.array(colour, np.float32) * alpha
    for _ in range(int(rng.poisson(0.8))):
        x, y = rng.uniform(0, cols), rng.uniform(0, rows)
        iris = rng.uniform(2.5, 9.0)
        centre = (int(x), int(y))
        dark = tuple(float(v) for v in np.full(3, rng.uniform(0.02, 0.25)))
        cv2.ellipse(result, centre, (int(iris * 1.8), int(iris)), 0, 0, 360,
                    tuple(float(v) for v in np.full(3, rng.uniform(0.7, 0.95))), -1, cv2.LINE_AA)
        cv2.circle(result, centre, int(iris), dark, -1, cv2.LINE_AA)
        glint = (int(x + rng.uniform(-0.5, 0.5) * iris), int(y - rng.uniform(0, 0.5) * iris))
        cv2.circle(result, glint, max(1, int(iris * rng.uniform(0.15, 0.35))), (1.0, 1.0, 1.0), -1, cv2.LINE_AA)
    for _ in range(int(rng.poisson(railings)) if railings > 0 else 0):
        alpha = draw_railing(rows, cols, rng)[..., None] * rng.uniform(0.6, 1.0)
        tone = np.full(3, rng.uniform(0.0, 0.3) if rng.random() < 0.6 else rng.uniform(0.7, 1.0), np.float32)
        result = result * (1 - alpha) + tone * alpha
    for _ in range(int(rng.poisson(glasses)) if glasses > 0 else 0):
        result = draw_glasses(result, rng)
    for _ in range(int(rng.poisson(rigging)) if rigging > 0 else 0):
        result = draw_rigging(result, rng, **(rigging_style or {}))
    for _ in range(int(rng.poisson(sticks)) if sticks > 0 else 0):
        result = draw_stick(result, rng)
    return np.clip(cv2.GaussianBlur(result, (0, 0), 0.5) * 0.5 + result * 0.5, 0.0, 1.0)


class _ScanOptions(TypedDict):
    """The keyword arguments of :func:`scan_degrade` that :func:`damage_photo` draws."""

    blur: float
    grain: float
    grain_size: float
    jpeg: int | None


def scan_degrade(image: np.ndarray, seed: int, *, blur: float, grain: float, grain_size: float,
                 jpeg: int | None) -> np.ndarray:
    """Blur, grain and JPEG as a scanner would add them; the same ``seed`` gives the same grain."""
    rng = np.random.default_rng(seed)
    result = cv2.GaussianBlur(image, (0, 0), blur) if blur > 0.05 else image.copy()
    if grain > 0:
        noise = rng.normal(0.0, 1.0, image.shape[:2] + (1,)).astype(np.float32)
        noise = noise + 0.3 * rng.normal(0.0, 1.0, image.shape).astype(np.float32)
        if grain_size > 0.3:
            blurred: np.ndarray = cv2.GaussianBlur(noise, (0, 0), grain_size).reshape(image.shape)
            blurred /= max(float(blurred.std()), 1e-6)
            noise = blurred
        result = result + grain * noise
    result = np.clip(result, 0.0, 1.0)
    if jpeg is not None:
        ok, data = cv2.imencode(".jpg", np.round(result[..., ::-1] * 255).astype(np.uint8),
                                [cv2.IMWRITE_JPEG_QUALITY, int(jpeg)])
        decoded = cv2.imdecode(data, cv2.IMREAD_COLOR)
        if decoded is None:
            raise RuntimeError("OpenCV could not decode the JPEG it had just encoded")
        result = decoded[..., ::-1].astype(np.float32) / 255.0
    return np.ascontiguousarray(result, dtype=np.float32)


def damage_photo(
    image: np.ndarray,
    rng: np.random.Generator,
    *,
    coverage: tuple[float, float] = (0.005, 0.08),
    weights: dict[str, float] | None = None,
    damaged_fraction: float = 0.85,
    age: bool = True,
    negatives: bool = True,
    railings: float = 0.0,
    glasses: float = 0.0,
    rigging: float = 0.0,
    sticks: float = 0.0,
    rigging_style: RiggingStyle | None = None,
    heavy_grain: float = 0.0,
    gray_scan: float = 0.0,
) -> DamagedPhoto:
    """Age, damage and scan a clean RGB picture; return the damaged scan, the clean scan and the labels.

    Parameters
    ----------
    image : ndarray
        float32 (rows, cols, 3) in [0, 1], a clean photograph.
    rng : numpy Generator
        All random draws come from it (a seeded generator gives a fixed sample).
    coverage : (float, float)
        Damage elements are added until the damaged share of pixels reaches a
        target drawn from this range.
    weights : dict, optional
        Relative frequency of each kind in :data:`DAMAGE_KINDS`.
    damaged_fraction : float
        Probability that the sample has damage at all (the rest are undamaged
        scans, so the detector learns to mark nothing on them).
    age, negatives : bool
        Whether to age the picture and draw hard negatives into it.
    railings, glasses, rigging, sticks : float
        Mean numbers of railings, of spectacles, of masts or tripods and of sticks among the hard negatives
        (0: none, and the random draws are those of earlier versions, so fixed
        evaluation samples stay the same).
    rigging_style : dict, optional
        ``members`` and ``stay_alpha`` for :func:`draw_rigging` (None: its defaults).
    heavy_grain : float
        Probability that the scan's grain is heavy (:data:`HEAVY_GRAIN`, as on a
        small, much enlarged print) instead of the usual 0-0.05. It is drawn
        from its own generator, seeded from ``rng``'s last draw, so at 0 every
        draw is that of earlier versions.
    gray_scan : float
        Probability that the scan is gray (the mean of its channels, in all
        three): no tone tells damage from picture there. Drawn like
        ``heavy_grain``, from its own generator.
    """
    rows, cols = image.shape[:2]
    picture = age_photo(image, rng) if age else image.astype(np.float32)
    if negatives:
        picture = draw_hard_negatives(picture, rng, railings=railings, glasses=glasses, rigging=rigging,
                                      sticks=sticks, rigging_style=rigging_style)
    damaged = picture.copy()
    strength = np.zeros((rows, cols), np.float32)
    speck = np.zeros((rows, cols), np.float32)
    other = np.zeros((rows, cols), np.float32)
    weights = weights or DEFAULT_DAMAGE_WEIGHTS
    kinds = list(weights)
    probs = np.array([weights[k] for k in kinds], np.float64)
    probs /= probs.sum()
    if rng.random() < damaged_fraction:
        target = rng.uniform(*coverage)
        for _ in range(60):
            kind = kinds[int(rng.choice(len(kinds), p=probs))]
            alpha = DRAWERS[kind](rows, cols, rng)
            alpha *= rng.uniform(0.35, 1.0) if kind == "scratch" else rng.uniform(0.75, 1.0)
            tone = _damage_tone(rng, kind)
            if kind == "stain":
                tone = np.array([0.55, 0.42, 0.22], np.float32) * rng.uniform(0.6, 1.2)
            damaged = damaged * (1 - alpha[..., None]) + tone * alpha[..., None]
            strength = np.maximum(strength, alpha)
            if kind == "speck":
                speck = np.maximum(speck, alpha)
            else:
                other = np.maximum(other, alpha)
            if np.mean(strength >= LABEL_ALPHA) >= target:
                break
    seed = int(rng.integers(2**31))
    options: _ScanOptions = {"blur": float(rng.uniform(0.0, 1.0)) if rng.random() < 0.6 else 0.0,
               "grain": float(rng.uniform(0.0, 0.05)) if rng.random() < 0.8 else 0.0,
               "grain_size": float(rng.uniform(0.0, 1.5)),
               "jpeg": int(rng.integers(55, 96)) if rng.random() < 0.5 else None}
    if heavy_grain > 0:
        heavy = np.random.default_rng([seed, 1])
        if heavy.random() < heavy_grain:
            options["grain"] = float(heavy.uniform(*HEAVY_GRAIN))
            options["grain_size"] = float(heavy.uniform(0.3, 1.2))
    damaged = scan_degrade(np.clip(damaged, 0, 1).astype(np.float32), seed, **options)
    clean = scan_degrade(picture, seed, **options)
    if gray_scan > 0 and np.random.default_rng([seed, 2]).random() < gray_scan:
        damaged, clean = (np.repeat(scan.mean(axis=2, keepdims=True), 3, axis=2) for scan in (damaged, clean))
    change = np.abs(damaged - clean).max(axis=2)
    faint_speck = (speck >= IGNORE_ALPHA) & (other < LABEL_ALPHA) & (change < SPECK_CONTRAST)
    label = (strength >= LABEL_ALPHA) & (change >= VISIBLE_CHANGE) & ~faint_speck
    ignore = ((strength >= IGNORE_ALPHA) & ~label)
    return DamagedPhoto(damaged, clean, label, ignore)
