"""Ctrl+click damage marking: a crack, scratch or speck traced from one click, and the strokes that cover it."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from enhance_core.errors import ParameterError
from enhance_core.masks import Mask
from enhance_core.restoration.pick import FIRST_WINDOW, mark_strokes, pick_damage


def grainy_picture(rows: int = 240, cols: int = 320, seed: int = 0) -> np.ndarray:
    """A colour picture: a soft gradient with fine grain and blotches, and a wide pale band across it."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[:rows, :cols].astype(np.float32)
    base = 0.35 + 0.15 * xx / cols + 0.05 * np.sin(yy / 23.0)
    blotches = cv2.GaussianBlur(rng.normal(0, 0.08, (rows, cols)).astype(np.float32), (0, 0), 4)
    grain = rng.normal(0, 0.012, (rows, cols, 3)).astype(np.float32)
    picture = (base + blotches)[..., None] * np.array([1.0, 0.9, 0.75], np.float32) + grain
    picture[:, cols // 2: cols // 2 + 40] = np.array([0.85, 0.84, 0.8], np.float32) + grain[:, :40]
    return np.clip(picture, 0, 1).astype(np.float32)


def draw(picture: np.ndarray, points: list[tuple[int, int]], tone: tuple[float, float, float],
         width: int) -> tuple[np.ndarray, np.ndarray]:
    """``picture`` with an antialiased polyline of ``tone`` drawn on it, and the line's pixels (alpha >= 0.5)."""
    alpha = np.zeros(picture.shape[:2], np.float32)
    cv2.polylines(alpha, [np.array(points, np.int32).reshape(-1, 1, 2)], False, 1.0, width, cv2.LINE_AA)
    damaged = picture * (1 - alpha[..., None]) + np.array(tone, np.float32) * alpha[..., None]
    return damaged.astype(np.float32), alpha >= 0.5


CRACK = [(10, 40), (60, 55), (110, 48), (150, 80), (200, 95), (250, 90), (300, 130)]


def test_a_click_on_a_white_crack_marks_the_crack_and_not_the_pale_band_it_crosses():
    damaged, crack = draw(grainy_picture(), CRACK, (0.97, 0.96, 0.93), 3)
    marked = pick_damage(damaged, 60, 55)
    assert marked[crack].mean() > 0.9
    band = np.zeros_like(crack)
    band[:, 165:195] = True
    assert np.count_nonzero(marked & band & ~cv2.dilate(crack.astype(np.uint8), np.ones((5, 5))).astype(bool)) == 0
    assert np.count_nonzero(marked) < 2 * np.count_nonzero(crack)


def test_a_scratch_darker_than_the_band_and_brighter_than_the_ground_is_followed_by_its_tone():
    damaged, scratch = draw(grainy_picture(seed=1), [(5, 200), (315, 170)], (0.66, 0.6, 0.5), 3)
    marked = pick_damage(damaged, 40, 197)
    assert marked[scratch].mean() > 0.85


def test_a_click_beside_a_dark_soft_speck_marks_the_speck():
    picture = grainy_picture(seed=2)
    alpha = np.zeros(picture.shape[:2], np.float32)
    cv2.circle(alpha, (90, 150), 9, 1.0, -1)
    alpha = cv2.GaussianBlur(alpha, (0, 0), 2)
    damaged = (picture * (1 - alpha[..., None]) + 0.05 * alpha[..., None]).astype(np.float32)
    marked = pick_damage(damaged, 93, 152)
    covered = Mask(*marked.shape, mark_strokes(marked)).render()
    assert covered[alpha >= 0.2].min() > 0.99
    ys, xs = np.nonzero(covered)
    assert ys.min() > 125 and ys.max() < 175 and xs.min() > 65 and xs.max() < 115


def test_a_crack_longer_than_the_first_window_is_marked_whole():
    picture = np.repeat(grainy_picture(900, 1400, seed=3)[:, :, :1], 3, axis=2)
    damaged, crack = draw(picture, [(10, 750), (400, 720), (800, 770), (1390, 740)], (0.95, 0.95, 0.95), 2)
    assert 1390 - 10 > 2 * FIRST_WINDOW and 720 > FIRST_WINDOW
    marked = pick_damage(damaged, 400, 720)
    assert marked[crack].mean() > 0.9
    assert not marked[:650].any() and not marked[850:].any()


def test_damage_at_the_picture_edge_is_traced_in_the_first_window(monkeypatch):
    import enhance_core.restoration.pick as pick

    halves = []
    window = pick._window
    monkeypatch.setattr(pick, "_window", lambda *args: halves.append(args[-1]) or window(*args))
    damaged, scratch = draw(grainy_picture(1200, 1200, seed=6), [(0, 600), (120, 640)], (0.95, 0.95, 0.95), 2)
    assert pick_damage(damaged, 60, 620)[scratch].mean() > 0.9
    assert max(halves) == FIRST_WINDOW, "the window never doubled"


def test_a_ring_crack_is_traced_once_round():
    damaged = grainy_picture(seed=7)
    alpha = np.zeros(damaged.shape[:2], np.float32)
    cv2.circle(alpha, (100, 120), 60, 1.0, 3, cv2.LINE_AA)
    damaged = (damaged * (1 - alpha[..., None]) + 0.96 * alpha[..., None]).astype(np.float32)
    marked = pick_damage(damaged, 160, 120)
    assert marked[alpha >= 0.5].mean() > 0.9 and np.count_nonzero(marked) < 4 * np.count_nonzero(alpha >= 0.5)


def film_grain(rows: int, cols: int, seed: int, level: float) -> np.ndarray:
    """Colour film grain: clumps about a pixel and a half across, ``level`` their standard deviation."""
    noise = np.random.default_rng(seed).normal(0, 1, (rows, cols, 3)).astype(np.float32)
    clumps = cv2.GaussianBlur(noise, (0, 0), 0.7)
    return level * clumps / clumps.std()


@pytest.mark.parametrize("seed", range(4))
def test_clicks_on_a_plain_grainy_sky_find_nothing_to_mark(seed):
    sky = np.clip(np.array([0.45, 0.6, 0.8], np.float32) + film_grain(200, 260, seed, 0.04), 0, 1)
    for x, y in np.random.default_rng(seed).uniform((10, 10), (250, 190), (10, 2)):
        with pytest.raises(ParameterError, match=r"nothing at \(\d+, \d+\) stands out"):
            pick_damage(sky, x, y)


def test_a_crack_on_a_grainy_sky_is_still_marked():
    sky = np.clip(np.array([0.45, 0.6, 0.8], np.float32) + film_grain(240, 320, 9, 0.04), 0, 1)
    damaged, crack = draw(sky, CRACK, (0.95, 0.95, 0.93), 2)
    marked = pick_damage(damaged, 110, 48)
    assert marked[crack].mean() > 0.85 and np.count_nonzero(marked) < 3 * np.count_nonzero(crack)


def test_nan_pixels_or_a_nan_click_get_a_clear_error():
    picture = grainy_picture()
    picture[100:140, 100:140] = np.nan
    with pytest.raises(ParameterError):
        pick_damage(picture, 120, 120)
    with pytest.raises(ParameterError, match="not a point of the picture"):
        pick_damage(picture, float("nan"), 3)


def test_a_gray_scan_with_one_channel_is_picked_like_a_colour_one():
    damaged, crack = draw(grainy_picture(seed=4), CRACK, (0.97, 0.97, 0.97), 3)
    gray = damaged.mean(axis=2, keepdims=True)
    assert pick_damage(gray, 60, 55)[crack].mean() > 0.9


def test_a_click_on_plain_picture_says_what_to_do():
    flat = np.full((120, 160, 3), 0.5, np.float32)
    with pytest.raises(ParameterError, match=r"nothing at \(80, 60\) stands out.*paint it with the brush"):
        pick_damage(flat, 80, 60)


def test_a_click_outside_the_picture_is_refused():
    with pytest.raises(ParameterError, match=r"outside the 160x120 picture"):
        pick_damage(np.zeros((120, 160, 3), np.float32), 170, 10)


def test_a_click_on_texture_refuses_rather_than_marking_the_texture():
    rng = np.random.default_rng(5)
    texture = np.repeat(cv2.GaussianBlur(rng.random((200, 200)).astype(np.float32), (0, 0), 1.2)[..., None], 3, axis=2)
    texture = (0.3 + 0.4 * (texture - texture.min()) / np.ptp(texture)).astype(np.float32)
    try:
        marked = pick_damage(texture, 100, 100)
    except ParameterError as error:
        assert "cannot be told from the picture" in str(error) or "stands out" in str(error)
    else:
        assert np.count_nonzero(marked) < 0.01 * marked.size


def test_strokes_cover_the_mark_and_its_rim_and_not_much_more():
    damaged, crack = draw(grainy_picture(), CRACK, (0.97, 0.96, 0.93), 3)
    marked = pick_damage(damaged, 60, 55)
    strokes = mark_strokes(marked)
    assert 0 < len(strokes) < 60 and not any(stroke.erase for stroke in strokes)
    covered = Mask(*marked.shape, strokes).render()
    rim = cv2.dilate(marked.astype(np.uint8), cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (3, 3))).astype(bool)
    assert covered[rim].min() > 0.99
    far = ~cv2.dilate(marked.astype(np.uint8), np.ones((9, 9), np.uint8)).astype(bool)
    assert covered[far].max() == 0.0
    assert all(stroke.erase for stroke in mark_strokes(marked, erase=True))


def test_strokes_cover_a_ring_and_a_lone_pixel():
    ring = np.zeros((60, 60), bool)
    cv2.circle(ring.view(np.uint8), (30, 30), 15, 1, 2)
    ring[5, 5] = True
    covered = Mask(60, 60, mark_strokes(ring)).render()
    assert covered[ring].min() > 0.99


def test_unmark_strokes_take_off_a_whole_blob_a_square_and_a_torn_corner():
    """One stroke along a square's skeleton, as wide as the square is thick, left its corners marked (a fifth)."""
    from enhance_core.restoration.pick import unmark_strokes

    marks = [np.zeros((300, 300), bool) for _ in range(3)]
    marks[0][100:200, 80:180] = True  # a square
    marks[1][np.add(*np.mgrid[:300, :300]) < 150] = True  # a torn corner
    cv2.line(marks[2].view(np.uint8), (10, 290), (290, 40), 1, 3)  # a rope
    for mark in marks:
        strokes = unmark_strokes(mark)
        assert all(stroke.erase for stroke in strokes) and len(strokes) < 400
        left = Mask(300, 300, strokes).render_over(mark.astype(np.float32))
        assert left.max() == 0.0
    assert unmark_strokes(np.zeros((8, 8), bool)) == ()


def test_a_pick_stops_when_asked():
    from enhance_core.errors import Cancelled

    damaged, _ = draw(grainy_picture(), CRACK, (0.97, 0.96, 0.93), 3)
    with pytest.raises(Cancelled):
        pick_damage(damaged, 60, 55, should_stop=lambda: True)


def test_holes_are_counted_inside_the_mark_only():
    from enhance_core.restoration.pick import _holes

    mark = np.zeros((40, 40), bool)
    mark[5:15, 5:15] = True
    mark[8:11, 8:11] = False
    mark[30:39, 0:40] = True
    assert _holes(mark) == 1


def test_an_empty_mark_gives_no_strokes():
    assert mark_strokes(np.zeros((30, 40), bool)) == ()


def test_a_crack_that_runs_into_a_picture_line_of_another_dark_tone_stops_there():
    picture, vein = draw(np.full((240, 320, 3), 0.75, np.float32), [(160, 120), (310, 150)], (0.22, 0.22, 0.22), 3)
    damaged, crack = draw(picture, [(10, 90), (160, 120)], (0.1, 0.1, 0.1), 3)
    marked = pick_damage(damaged, 60, 100)
    assert marked[crack].mean() > 0.9
    assert marked[vein & (np.arange(320) > 190)[None, :]].mean() < 0.1


def test_clicks_beside_a_white_scratch_on_dark_foliage_mark_the_scratch_not_the_foliage():
    rng = np.random.default_rng(11)
    leaves = cv2.GaussianBlur(rng.random((160, 240)).astype(np.float32), (0, 0), 1.5)
    leaves = (leaves - leaves.min()) / np.ptp(leaves)
    foliage = np.ascontiguousarray((0.08 + 0.35 * leaves ** 2)[..., None] * np.array([0.8, 1.0, 0.6], np.float32))
    for x, y in rng.uniform((0, 0), (240, 160), (60, 2)):
        cv2.circle(foliage, (int(x), int(y)), int(rng.integers(2, 4)), (0.85, 0.9, 0.95), -1)
    damaged, scratch = draw(foliage, [(40, 80), (200, 76)], (0.92, 0.92, 0.88), 2)
    near = cv2.dilate(scratch.astype(np.uint8), np.ones((5, 5), np.uint8)).astype(bool)
    for x in range(50, 190, 14):
        y = round(80 - (x - 40) / 40 + 3)
        marked = pick_damage(damaged, x, y)
        assert marked[y - 6:y, x - 2:x + 3][scratch[y - 6:y, x - 2:x + 3]].all(), "the scratch beside the click"
        assert np.count_nonzero(marked & ~near) < 0.1 * np.count_nonzero(marked), "and not the foliage"


@pytest.mark.parametrize("picture, x, y", [("coffee", 348, 231), ("brick", 42, 45), ("comb", 108, 100)])
def test_a_click_marks_what_is_under_it_or_nothing_never_something_farther_off(picture, x, y):
    from skimage import data

    if picture == "comb":
        pixels = np.full((200, 220, 3), 0.8, np.float32)
        pixels[:, ::24] = 0.0
        pixels[100, 108] = 1.0
    else:
        pixels = np.atleast_3d(getattr(data, picture)()).astype(np.float32) / 255
    try:
        marked = pick_damage(pixels, x, y)
    except ParameterError as error:
        assert "stands out" in str(error) or "cannot be told" in str(error)
    else:
        ys, xs = np.nonzero(marked)
        assert np.hypot(xs - x, ys - y).min() <= 4.5, "the mark starts within reach of the click"


def test_a_scratch_found_in_the_first_window_is_not_refused_when_the_window_grows_over_grainier_picture():
    rng = np.random.default_rng(12)
    picture = np.clip(0.4 + rng.normal(0, 0.08, (1200, 1200, 1)), 0, 1).repeat(3, axis=2).astype(np.float32)
    picture[400:800] = 0.4
    damaged, scratch = draw(picture, [(0, 601), (1199, 601)], (0.6, 0.6, 0.6), 2)
    assert pick_damage(damaged, 600, 601)[scratch].mean() > 0.5


@pytest.mark.parametrize("reach", [-1.0, float("nan"), float("inf")])
def test_a_reach_that_is_no_distance_is_refused(reach):
    with pytest.raises(ParameterError, match="reach"):
        pick_damage(grainy_picture(), 60, 55, reach=reach)
