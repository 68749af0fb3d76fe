"""Mark one piece of damage from a click: the crack, scratch or speck under the cursor, traced by its tone.

The learned detector misses some damage (a stretch of a crack it found
elsewhere, a dark speck it took for a pupil). Painting each one over is slow,
so the brush's Ctrl+click marks the piece under the cursor:

1. Around the click, the scan's luma is compared with its background: its
   morphological opening (for bright damage) or closing (for dark damage) with
   a disk, so anything narrower than the disk stands out (a white top-hat or a
   black one) and wider picture areas do not.
2. The seed is the pixel nearest the click (within ``reach``) that stands
   out, brighter or darker, against a disk :data:`SPECK_WIDTH` pixels wide
   by at least :data:`NEAR_SHARE` of the most any pixel there does, and
   that way also from the median of the :data:`BACKGROUND_WIDTH` square
   around it (:data:`MEDIAN_SHARE`: beside a white scratch on dark foliage
   the foliage's dark pixels stand out from the disk's closing, which bright
   leaves lift, but hardly from the median). Something there must stand out
   against both by :data:`SEED_NOISE` times the grain's level, or the click
   finds nothing (a grainy sky). The way the seed stands out is its
   polarity. It is looked at with that disk when it is a wide
   speck (it stands out much less against the narrower one), else with a disk
   :data:`LINE_WIDTH` wide, so the wider picture shapes a crack crosses (a
   white fender, a lit cheek) do not stand out. The damage's colour is the
   median of the pixels beside the seed that stand out nearly as much.
3. The damage's pixels are those in its colour (within
   :data:`COLOUR_TOLERANCE`) that stand out, either way, by
   :data:`KEEP_CONTRAST` of the seed's contrast (and :data:`JOIN_NOISE` times
   the grain's level): along a scratch the tone stays
   the same while the picture under it changes, so a beige scratch is
   brighter than the foliage it crosses and darker than the stone.
4. Where those pixels run along a line through the seed
   (:data:`ELONGATION`), the line is traced a step at a time both ways
   (:func:`_trace`), bridging up to :data:`MAX_GAP` steps where it crosses
   picture of its own tone, and marked as wide as it is along the trace. A
   trace keeps to its heading, so it passes picture shapes of its own tone
   that cross the line; at a branch or a sharp bend it stops (click again
   there). Where the damage ends against a picture line that goes on its way,
   the trace ends when the line's tone drifts from the damage's
   (:data:`DRIFT`); a picture line of the very same tone it runs on along.
5. Otherwise the damage is a speck: the mark grows from the seed through its
   pixels (and its soft rim, within :data:`RIM`), and is kept when it stays
   within twice :data:`SPECK_WIDTH` each way, no more than
   :data:`DEPTH_GROWTH` times as wide as its core and with few holes; else
   the contrast share is raised (:data:`KEEP_CONTRAST`) until it does, and if
   it never does the click is refused with a message (paint that damage
   instead). Nothing within :data:`EDGE` pixels of the picture's edge joins a
   mark, so a trace does not run along a scan's border.
6. :func:`mark_strokes` turns the mark into brush strokes along its skeleton,
   each as wide as the damage there plus :data:`GROW` pixels for its soft rim,
   so it is kept as vectors, like painting, and replays at any scale.
"""

from __future__ import annotations

from collections.abc import Callable

import cv2
import numpy as np
from skimage.morphology import skeletonize

from enhance_core.errors import Cancelled, ParameterError
from enhance_core.masks import Stroke
from enhance_core.restoration.dust import luma

LINE_WIDTH = 15
"""Diameter (px) of the disk the background of cracks, scratches and small specks is taken with."""
SPECK_WIDTH = 31
"""Diameter (px) of the disk the background of a wide speck is taken with: damage up to about 30 px wide."""
BACKGROUND_WIDTH = 61
"""Side (px) of the square whose median is a seed's background: twice the widest speck, which then covers under a
quarter of it."""
MEDIAN_SHARE = 0.25
"""A pixel seeds only a way (brighter or darker) it also stands out from its median background by this share of
its contrast: beside a white scratch on dark foliage, the foliage stands out darker from the disk's closing, which
bright leaves lift, but hardly from the median."""
NEAR_SHARE = 0.7
"""The seed is the pixel nearest the click that stands out by this share of the most any pixel within reach does."""
SPECK_SHARE = 0.75
"""A seed that stands out by less than this share against the line disk's background as against the speck
disk's is a wide speck."""
FIRST_WINDOW = 256
"""Half-size (px) of the first window around the click; it doubles while the mark reaches a border of it that is
not the picture's edge."""
KEEP_CONTRAST = (0.2, 0.35, 0.5, 0.65, 0.8)
"""Shares of the seed's contrast a pixel must reach to join the mark, tried in turn until the mark fits."""
MIN_CONTRAST = 0.06
"""Least contrast (share of the full scale) a seed or a joined pixel must have: more than a clean scan's noise."""
SEED_NOISE, JOIN_NOISE = 6.0, 4.0
"""A seed must stand out by this many times the grain's level (:func:`grain_level`, in the first window around
the click), and a joined pixel by the second: on the grainy skies and backdrops of real old photos a clump of
grain stands out from the seed's background by 2 to 4.7 times it (drawn film grain by up to 5.3), the cracks,
scratches and specks on them by 9 to 33 times; faint drawn cracks in busy pictures by 2 to 6, and those under 6
are refused."""
COLOUR_TOLERANCE = 0.12
"""Largest difference (in any channel, share of the full scale) between a joined pixel and the damage's colour."""
DEPTH_GROWTH = 1.5
"""A mark may be at most this many times as wide anywhere as the part of it that stands out nearly as much as the
seed (plus a pixel)."""
HOLES, HOLE_AREA = 2, 1000
"""A mark may enclose this many holes, and one more per this many of its pixels (a crack's branches rejoin
now and then; a mark that runs into texture becomes a mesh)."""
GROW = 1.5
"""Pixels a picked mark reaches past the damage, over its soft rim (as the detector's marks are grown)."""
BRIDGE = 4
"""Longest gap (px) in a mark that is bridged, through pixels of the damage's colour."""
RIM = 3
"""Width (px) of the soft rim around a speck that joins it when it stands out as the speck does, whatever its
colour; also how far from the seed the damage's colour is taken (three times that: its direction)."""
ELONGATION = 1.5
"""Damage at the seed is a line when its pixels there spread this many times more along it than across."""
STEP, ACROSS, TURN = 1.0, 2.0, 0.2
"""A line is traced a step of this many pixels at a time, moving up to this many to either side to stay on it,
and turning its heading by this share towards each step."""
MAX_GAP = 8
"""A trace ends after more than this many steps in a row without the damage's tone (a gap this long is bridged)."""
DRIFT_RUN, DRIFT = 10, 0.05
"""A trace ends where the median colour of its last this many pixels differs by more than this (in any channel,
share of the full scale) from that of its first: the tone of damage stays, that of a picture line it runs into
seldom matches."""
MAX_STEPS = 200_000
"""Most steps a trace takes each way (it also ends where it comes back onto itself: a ring)."""
STOP_EVERY = 500
"""Steps between checks of ``should_stop`` in a trace."""
EDGE = 2
"""Pixels at the picture's edge that never join a mark traced or grown from a click (a click there is refused)."""
SEGMENT_POINTS = 8
"""Skeleton points per stroke at most, so each stretch of a crack gets its own width."""


def _stop_if_asked(should_stop: Callable[[], bool] | None) -> None:
    if should_stop is not None and should_stop():
        raise Cancelled("marking the damage was cancelled")


def _leave_out_picture_edge(pixels: np.ndarray, window: tuple[slice, slice], rows: int, cols: int) -> None:
    """Clear the pixels of boolean ``pixels`` (over ``window`` of a ``rows`` x ``cols`` picture) within
    :data:`EDGE` of the picture's edge: a scan's border or black surround is a line of its own tone that a
    trace would run along."""
    if window[0].start < EDGE:
        pixels[:EDGE - window[0].start] = False
    if window[0].stop > rows - EDGE:
        pixels[pixels.shape[0] - (window[0].stop - (rows - EDGE)):] = False
    if window[1].start < EDGE:
        pixels[:, :EDGE - window[1].start] = False
    if window[1].stop > cols - EDGE:
        pixels[:, pixels.shape[1] - (window[1].stop - (cols - EDGE)):] = False


def _window(rows: int, cols: int, x: int, y: int, half: int) -> tuple[slice, slice]:
    return slice(max(0, y - half), min(rows, y + half + 1)), slice(max(0, x - half), min(cols, x + half + 1))


def stand_out(plane: np.ndarray, width: int, bright: bool) -> np.ndarray:
    """How much each pixel of ``plane`` stands out above (``bright``) or below its background at disk ``width``
    (its white or black top-hat)."""
    disk = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (width, width))
    return cv2.morphologyEx(plane, cv2.MORPH_TOPHAT if bright else cv2.MORPH_BLACKHAT, disk)


def grain_level(plane: np.ndarray) -> float:
    """The grain's level in ``plane``: the robust spread (median absolute deviation, as a standard deviation) of its
    fine detail, the plane less its blur at 1.5 px."""
    detail = plane - cv2.GaussianBlur(plane, (0, 0), 1.5)
    return float(1.4826 * np.median(np.abs(detail - np.median(detail))))


def _seed(plane: np.ndarray, x: int, y: int, reach: float,
          grain: float) -> tuple[int, int, np.ndarray, np.ndarray] | None:
    """The seed near (x, y) (window coordinates): its column and row, and the contrast maps at the damage's width,
    its own polarity's first (None when nothing within ``reach`` stands out, against both the disk's background
    and the median one, by :data:`MIN_CONTRAST` and by :data:`SEED_NOISE` times ``grain``)."""
    maps = {(width, bright): stand_out(plane, width, bright) for width in (LINE_WIDTH, SPECK_WIDTH)
            for bright in (True, False)}
    box = _window(plane.shape[0], plane.shape[1], x, y, int(reach) + BACKGROUND_WIDTH // 2 + 1)
    top, left = box[0].start, box[1].start
    yy, xx = np.ogrid[box]
    distance = np.hypot(xx - x, yy - y)
    near = distance <= reach
    background = cv2.medianBlur(np.rint(np.clip(plane[box], 0.0, 1.0) * 255).astype(np.uint8),
                                BACKGROUND_WIDTH).astype(np.float32) / 255
    hats = maps[SPECK_WIDTH, True][box], maps[SPECK_WIDTH, False][box]
    aways = plane[box] - background, background - plane[box]
    least = max(MIN_CONTRAST, SEED_NOISE * grain)
    brighter, darker = (np.where(near & (away >= MEDIAN_SHARE * hat), hat, 0.0) for hat, away in zip(hats, aways))
    if max(np.minimum(side, away).max() for side, away in zip((brighter, darker), aways)) < least:
        return None
    standing = np.maximum(brighter, darker)
    candidates = standing >= max(least, NEAR_SHARE * standing.max())
    by, bx = np.unravel_index(int(np.argmin(np.where(candidates, distance, np.inf))), distance.shape)
    bright = bool(brighter[by, bx] >= darker[by, bx])
    sy, sx = top + by, left + bx
    line = maps[LINE_WIDTH, bright][sy, sx]
    width = LINE_WIDTH if line >= max(MIN_CONTRAST, SPECK_SHARE * maps[SPECK_WIDTH, bright][sy, sx]) else SPECK_WIDTH
    return int(sx), int(sy), maps[width, bright], maps[width, not bright]


def _component(candidates: np.ndarray, x: int, y: int) -> np.ndarray:
    """The 8-connected part of ``candidates`` holding pixel (x, y)."""
    count, labels = cv2.connectedComponents(candidates.astype(np.uint8), connectivity=8)
    return labels == labels[y, x] if count > 1 and candidates[y, x] else np.zeros_like(candidates)


def _grow_mark(pixels: np.ndarray, contrast: np.ndarray, other: np.ndarray, x: int, y: int,
               share: float, least: float) -> tuple[np.ndarray, np.ndarray]:
    """Joined pixels from seed (x, y) in the damage's colour that stand out, either way, by ``share`` of its contrast
    (and by ``least``); and the core: those joined to it that stand out nearly as much as it does.

    ``contrast`` is the seed's polarity's map, ``other`` the opposite one: a
    beige scratch is brighter than the foliage it crosses and darker than the
    stone, and its colour is what stays the same. Where it passes from one to
    the other it stands out from neither for a few pixels: gaps up to
    :data:`BRIDGE` pixels through pixels of its colour are bridged. Its soft
    rim, blended with the picture, is not of its colour: pixels within
    :data:`RIM` of the mark that stand out as it does join it too.
    """
    level = max(least, share * float(contrast[y, x]))
    core = _component(contrast >= max(least, 0.8 * float(contrast[y, x])), x, y)
    core[y, x] = True
    colour = np.median(pixels[core], axis=0)
    near_colour = np.abs(pixels - colour).max(axis=2) <= COLOUR_TOLERANCE
    standing = (np.maximum(contrast, other) >= level) & near_colour | core
    bridge = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (BRIDGE + 1, BRIDGE + 1))
    bridged = cv2.morphologyEx(standing.astype(np.uint8), cv2.MORPH_CLOSE, bridge).astype(bool)
    mark = _component(bridged & (standing | near_colour), x, y)
    rim = cv2.dilate(mark.astype(np.uint8), cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * RIM + 1, 2 * RIM + 1)))
    return mark | (rim.astype(bool) & (contrast >= level)), core


def _depth(mark: np.ndarray) -> float:
    """How deep the mark's deepest pixel lies inside it (px): half the width of its widest part."""
    return float(cv2.distanceTransform(np.pad(mark, 1).astype(np.uint8), cv2.DIST_L2, 5).max())


def _holes(mark: np.ndarray) -> int:
    """How many holes of two pixels or more the mark encloses."""
    outside = np.pad(~mark, 1, constant_values=True).astype(np.uint8)
    stats = cv2.connectedComponentsWithStats(outside, connectivity=4)[2]
    return int(np.count_nonzero(stats[1:, cv2.CC_STAT_AREA] >= 2)) - 1


def _fits(mark: np.ndarray, core: np.ndarray) -> bool:
    """Whether ``mark`` is speck-shaped: within twice :data:`SPECK_WIDTH` each way, nowhere
    much wider than its ``core`` (the part that stands out nearly as much as the seed), and with few holes (a mesh
    is texture it has run into)."""
    area = np.count_nonzero(mark)
    ys, xs = np.nonzero(mark)
    return bool(np.ptp(ys) < 2 * SPECK_WIDTH and np.ptp(xs) < 2 * SPECK_WIDTH
                and _depth(mark) <= DEPTH_GROWTH * max(1.0, _depth(core)) + 1.0
                and _holes(mark) <= HOLES + area // HOLE_AREA)


def _standing(pixels: np.ndarray, contrast: np.ndarray, other: np.ndarray, x: int, y: int,
              share: float, least: float) -> np.ndarray:
    """Pixels in the damage's colour that stand out, either way, by ``share`` of the seed's contrast (and by ``least``).

    The damage's colour is the median of the pixels within :data:`RIM` of the
    seed that stand out nearly as much as it does.
    """
    seed_contrast = float(contrast[y, x])
    top, left = max(0, y - RIM), max(0, x - RIM)
    near = contrast[top:y + RIM + 1, left:x + RIM + 1] >= 0.8 * seed_contrast
    colour = np.median(pixels[top:y + RIM + 1, left:x + RIM + 1][near], axis=0)
    near_colour = np.abs(pixels - colour).max(axis=2) <= COLOUR_TOLERANCE
    standing = (np.maximum(contrast, other) >= max(least, share * seed_contrast)) & near_colour
    standing[y, x] = True
    return standing


def _direction(standing: np.ndarray, contrast: np.ndarray, x: int, y: int) -> np.ndarray | None:
    """The direction (unit dx, dy) of the line through seed (x, y), or None when the damage there is not a line.

    Taken from the pixels within ``3 * RIM`` of the seed and joined to it that
    stand out the seed's way by half its contrast or more: their principal
    axis, when they spread :data:`ELONGATION` times more along it than across.
    """
    reach = 3 * RIM
    top, left = max(0, y - reach), max(0, x - reach)
    box = (slice(top, y + reach + 1), slice(left, x + reach + 1))
    core = standing[box] & (contrast[box] >= 0.5 * contrast[y, x])
    ys, xs = np.nonzero(_component(core, x - left, y - top))
    if len(xs) < 3:
        return None
    spreads, axes = np.linalg.eigh(np.cov(np.stack([xs, ys]).astype(np.float64)))
    if spreads[1] < ELONGATION**2 * max(spreads[0], 0.25):
        return None
    return axes[:, 1]


def _trace(standing: np.ndarray, pixels: np.ndarray, x: int, y: int, direction: np.ndarray,
           should_stop: Callable[[], bool] | None = None) -> list[np.ndarray]:
    """The centre path of the line through seed (x, y) of ``pixels``: from the seed both ways, a step at a time.

    Each step goes :data:`STEP` along the heading to the pixel of the damage
    (``standing``) nearest straight ahead, up to :data:`ACROSS` to either
    side, and turns the heading a little towards it (:data:`TURN`); after
    :data:`MAX_GAP` steps without one (the line crosses picture of its own
    tone, or ends) the trace ends where it last found the line. It also ends
    on a pixel it has found before (a ring), and where the median colour of
    its last :data:`DRIFT_RUN` pixels has drifted by more than :data:`DRIFT`
    from that of its first (a dark crack that runs into a black vein), less
    the last half of them. The path runs from one end to the other.
    """
    rows, cols = standing.shape
    offsets = sorted(np.arange(-ACROSS, ACROSS + 0.25, 0.5), key=abs)
    visited = {(x, y)}
    halves = []
    for sign in (1.0, -1.0):
        position, heading = np.array([x, y], np.float64), sign * direction
        found: list[np.ndarray] = []
        misses = 0
        while misses <= MAX_GAP and len(found) < MAX_STEPS:
            ahead = position + STEP * heading
            normal = np.array([-heading[1], heading[0]])
            if len(found) % STOP_EVERY == STOP_EVERY - 1:
                _stop_if_asked(should_stop)
            hit = None
            for offset in offsets:
                px, py = np.rint(ahead + offset * normal).astype(int)
                if 0 <= px < cols and 0 <= py < rows and standing[py, px]:
                    hit = np.array([px, py], np.float64)
                    break
            if hit is not None and (int(hit[0]), int(hit[1])) in visited and not np.array_equal(hit, position):
                break
            if hit is None:
                misses += 1
                position = ahead
                if not (0 <= position[0] < cols and 0 <= position[1] < rows):
                    break
                continue
            step = hit - position if np.any(hit != position) else heading
            heading = (1 - TURN) * heading + TURN * step / np.linalg.norm(step)
            heading /= np.linalg.norm(heading)
            position, misses = hit, 0
            found.append(hit)
            visited.add((int(hit[0]), int(hit[1])))
            if len(found) >= DRIFT_RUN and _drifted(pixels, found):
                del found[-(DRIFT_RUN // 2):]
                break
        halves.append(found)
    return halves[1][::-1] + [np.array([x, y], np.float64)] + halves[0]


def _drifted(pixels: np.ndarray, found: list[np.ndarray]) -> bool:
    """Whether the median colour of the last :data:`DRIFT_RUN` pixels of a trace is more than :data:`DRIFT` from
    that of its first."""
    def tone(points: list[np.ndarray]) -> np.ndarray:
        return np.median(np.array([pixels[int(p[1]), int(p[0])] for p in points]), axis=0)

    return bool(np.abs(tone(found[-DRIFT_RUN:]) - tone(found[:DRIFT_RUN])).max() > DRIFT)


def _half_width(standing: np.ndarray, path: list[np.ndarray]) -> float:
    """Half the line's width: the median, over the path, of how far the damage reaches to either side of it."""
    rows, cols = standing.shape
    reaches = []
    for before, point, after in zip(path, path[1:], path[2:]):
        along = after - before
        if not np.any(along):
            continue
        normal = np.array([-along[1], along[0]]) / np.linalg.norm(along)
        for side in (1.0, -1.0):
            steps = 0
            while steps < LINE_WIDTH // 2:
                px, py = np.rint(point + side * (steps + 1) * normal).astype(int)
                if not (0 <= px < cols and 0 <= py < rows and standing[py, px]):
                    break
                steps += 1
            reaches.append(steps)
    return float(np.median(reaches)) if reaches else 0.0


def _line_mark(standing: np.ndarray, contrast: np.ndarray, level: float, path: list[np.ndarray]) -> np.ndarray:
    """The pixels of a traced line: the path drawn as wide as the line (also over the stretches where it crossed
    picture of its own tone), the damage's pixels a pixel beyond that, and its soft rim (pixels that stand out the
    seed's way by ``level``) a pixel further: the path keeps to one side of a line it follows now and then."""
    rows, cols = standing.shape
    centre = np.zeros((rows, cols), np.uint8)
    cv2.polylines(centre, [np.rint(np.array(path)).astype(np.int32).reshape(-1, 1, 2)], False, 1, 1)
    away = cv2.distanceTransform(1 - centre, cv2.DIST_L2, 5)
    half_width = _half_width(standing, path)
    mark = (away <= half_width + 0.5) | (standing & (away <= half_width + 1.5))
    return mark | ((away <= half_width + 2.5) & (contrast >= level))


def pick_damage(pixels: np.ndarray, x: float, y: float, *, reach: float = 4.0,
                should_stop: Callable[[], bool] | None = None) -> np.ndarray:
    """Mark the damage at or within ``reach`` pixels of (``x``, ``y``) (column, row) in ``pixels``.

    Parameters
    ----------
    pixels : ndarray
        float32 (rows, cols, channels) in 0..1: the scan as the detector sees it.
    x, y : float
        The click, in pixels of ``pixels``.
    reach : float
        How far from the click (px) the damage may be.
    should_stop : callable, optional
        Checked now and then; when it returns true the work stops with
        :class:`~enhance_core.errors.Cancelled`.

    Returns
    -------
    ndarray
        bool (rows, cols): the damage's pixels and its soft rim (:func:`mark_strokes` grows them by
        :data:`GROW`).

    Raises
    ------
    ParameterError
        When the click is not on the picture, nothing near it stands out from
        its surroundings, or the mark cannot be kept from running into the
        picture.
    """
    rows, cols = pixels.shape[:2]
    if not (np.isfinite(x) and np.isfinite(y)):
        raise ParameterError(f"the click at ({x}, {y}) is not a point of the picture")
    if not (np.isfinite(reach) and 0 <= reach <= max(rows, cols)):
        raise ParameterError(f"the reach {reach} px around the click is not a distance within the picture")
    cx, cy = int(round(x)), int(round(y))
    if not (0 <= cx < cols and 0 <= cy < rows):
        raise ParameterError(f"the click at ({x:.0f}, {y:.0f}) is outside the {cols}x{rows} picture")
    half, grain = FIRST_WINDOW, None
    while True:
        _stop_if_asked(should_stop)
        window = _window(rows, cols, cx, cy, half)
        local = np.nan_to_num(np.ascontiguousarray(pixels[window], dtype=np.float32), nan=0.0, posinf=1.0,
                              neginf=0.0)
        plane = luma(local)
        grain = grain_level(plane) if grain is None else grain
        seed = _seed(plane, cx - window[1].start, cy - window[0].start, reach, grain)
        if seed is None:
            raise ParameterError(f"nothing at ({cx}, {cy}) stands out from the picture around it; click on the "
                                 "crack or speck itself, or paint it with the brush")
        sx, sy, contrast, other = seed
        least = max(MIN_CONTRAST, JOIN_NOISE * grain)
        standing = _standing(local, contrast, other, sx, sy, KEEP_CONTRAST[0], least)
        _leave_out_picture_edge(standing, window, rows, cols)
        direction = _direction(standing, contrast, sx, sy)
        if direction is not None:
            level = max(least, KEEP_CONTRAST[0] * float(contrast[sy, sx]))
            mark = _line_mark(standing, contrast, level, _trace(standing, local, sx, sy, direction, should_stop))
        else:
            for share in KEEP_CONTRAST:
                _stop_if_asked(should_stop)
                mark, core = _grow_mark(local, contrast, other, sx, sy, share, least)
                if _fits(mark, core):
                    break
            else:
                raise ParameterError(f"the damage at ({cx}, {cy}) cannot be told from the picture around it; paint "
                                     "it with the brush")
        _leave_out_picture_edge(mark, window, rows, cols)
        if not mark.any():
            raise ParameterError(f"no crack or speck found at ({cx}, {cy}); click on the damage itself, or paint "
                                 "it with the brush")
        touches = ((window[0].start > 0 and mark[0].any()) or (window[0].stop < rows and mark[-1].any())
                   or (window[1].start > 0 and mark[:, 0].any()) or (window[1].stop < cols and mark[:, -1].any()))
        if not touches:
            full = np.zeros((rows, cols), bool)
            full[window] = mark
            return full
        half *= 2


def _neighbours(points: set[tuple[int, int]], point: tuple[int, int]) -> list[tuple[int, int]]:
    y, x = point
    return [(y + dy, x + dx) for dy in (-1, 0, 1) for dx in (-1, 0, 1)
            if (dy or dx) and (y + dy, x + dx) in points]


def _skeleton_paths(skeleton: np.ndarray) -> list[list[tuple[int, int]]]:
    """The skeleton's pixels (row, column) as paths between its ends and branch points (loops as one path each)."""
    points = set(zip(*np.nonzero(skeleton)))
    nodes = {p for p in points if len(_neighbours(points, p)) != 2}
    walked: set[frozenset[tuple[int, int]]] = set()
    paths = [[p] for p in nodes if not _neighbours(points, p)]

    def walk(start: tuple[int, int], step: tuple[int, int]) -> list[tuple[int, int]]:
        path, previous, current = [start], start, step
        walked.add(frozenset((start, step)))
        while True:
            path.append(current)
            if current in nodes or current == start:
                return path
            following = [n for n in _neighbours(points, current) if n != previous
                         and frozenset((current, n)) not in walked]
            if not following:
                return path
            previous, current = current, following[0]
            walked.add(frozenset((previous, current)))

    for node in sorted(nodes):
        for step in _neighbours(points, node):
            if frozenset((node, step)) not in walked:
                paths.append(walk(node, step))
    covered = {p for path in paths for p in path}
    for point in sorted(points - covered):
        if point not in covered:
            loop = walk(point, _neighbours(points, point)[0])
            covered.update(loop)
            paths.append(loop)
    return paths


UNMARK_ROUNDS = 6
"""Rounds of strokes :func:`unmark_strokes` adds over what the ones before left marked (a square's corners)."""


def unmark_strokes(mark: np.ndarray, *, should_stop: Callable[[], bool] | None = None) -> tuple[Stroke, ...]:
    """Eraser strokes that take every pixel of ``mark`` (rows, cols) off a mask: those of :func:`mark_strokes`, then
    more over what they leave marked, round after round (a stroke along a blob's skeleton is as wide as the blob
    is thick there: it left the corners of a square, a fifth of it). What a round leaves is found by drawing the
    strokes' full-strength cores with OpenCV (rendering them as a mask took 4x as long as making them on a
    speckled mark of 60 000 strokes); ``should_stop()`` true between rounds raises :class:`Cancelled`."""
    marked_rows, marked_cols = np.flatnonzero(mark.any(axis=1)), np.flatnonzero(mark.any(axis=0))
    if not len(marked_rows):
        return ()
    top, left = int(marked_rows[0]), int(marked_cols[0])
    part = mark[top:marked_rows[-1] + 1, left:marked_cols[-1] + 1]
    covered = np.zeros(part.shape, np.uint8)
    strokes = added = mark_strokes(mark, grow=0.0, erase=True)
    for _ in range(UNMARK_ROUNDS):
        if should_stop is not None and should_stop():
            raise Cancelled("stopped by request")
        _draw_cores(covered, added, (left, top))
        rest = part & (covered == 0)
        if not rest.any():
            break
        whole = np.zeros_like(mark, dtype=bool)
        whole[top:marked_rows[-1] + 1, left:marked_cols[-1] + 1] = rest
        added = mark_strokes(whole, grow=0.0, erase=True)
        strokes += added
    return strokes


def _draw_cores(canvas: np.ndarray, strokes: tuple[Stroke, ...], origin: tuple[int, int]) -> None:
    """Draw on ``canvas`` (uint8, its top-left pixel at source ``origin`` (x, y)) what each stroke surely paints at
    full strength: within ``radius * hardness`` of its path, less a pixel (to a sixteenth of a pixel)."""
    shift = 4
    for stroke in strokes:
        core = max(stroke.radius * stroke.hardness - 1.0, 0.5)  # a pixel short of it: OpenCV's discs are not the
        # renderer's, and a pixel only nearly erased still shows its fill
        points = np.round((np.asarray(stroke.points, np.float64) - origin) * (1 << shift)).astype(np.int32)
        if len(points) == 1 or not np.any(points != points[0]):
            cv2.circle(canvas, tuple(int(v) for v in points[0]), int(core * (1 << shift)), 1, -1, cv2.LINE_8, shift)
        else:
            cv2.polylines(canvas, [points.reshape(-1, 1, 2)], False, 1, max(1, int(2 * core)), cv2.LINE_8, shift)
            for point in (points[0], points[-1]):
                cv2.circle(canvas, tuple(int(v) for v in point), int(core * (1 << shift)), 1, -1, cv2.LINE_8, shift)


def mark_strokes(mark: np.ndarray, *, grow: float = GROW, erase: bool = False) -> tuple[Stroke, ...]:
    """Brush strokes (source pixels) that cover ``mark`` and ``grow`` pixels past it: one per stretch of its skeleton.

    Each stroke reaches as far from the skeleton as the mark does there (its
    distance transform along the stretch) plus ``grow``, at full strength,
    with a one-pixel soft edge beyond; ``erase`` makes them eraser strokes.
    """
    marked_rows, marked_cols = np.flatnonzero(mark.any(axis=1)), np.flatnonzero(mark.any(axis=0))
    if not len(marked_rows):
        return ()
    top, left = int(marked_rows[0]), int(marked_cols[0])
    part = np.ascontiguousarray(mark[top:marked_rows[-1] + 1, left:marked_cols[-1] + 1])
    inside = cv2.distanceTransform(np.pad(part, 1).astype(np.uint8), cv2.DIST_L2, 5)[1:-1, 1:-1]
    strokes = []
    for path in _skeleton_paths(skeletonize(part)):
        for start in range(0, len(path), SEGMENT_POINTS - 1):
            stretch = np.array(path[start:start + SEGMENT_POINTS])
            radius = float(inside[stretch[:, 0], stretch[:, 1]].max()) + grow
            xy = (stretch[:, ::-1] + (left, top)).astype(np.float32)
            simple = cv2.approxPolyDP(xy.reshape(-1, 1, 2), 0.5, False).reshape(-1, 2) if len(xy) > 2 else xy
            strokes.append(Stroke(tuple((float(px), float(py)) for px, py in simple), radius + 1.0,
                                  radius / (radius + 1.0), 1.0, erase))
    return tuple(strokes)
