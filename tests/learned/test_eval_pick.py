"""The Ctrl+click evaluation: which missed pieces a user would click, and where."""

from __future__ import annotations

import cv2
import numpy as np

from enhance_core.training.eval_pick import clicks_for


def test_the_evaluation_clicks_the_plain_missed_piece_where_it_shows_most():
    clean = np.full((120, 160, 3), 0.4, np.float32)
    alpha = np.zeros((120, 160), np.float32)
    cv2.line(alpha, (10, 60), (150, 60), 1.0, 3, cv2.LINE_AA)
    damaged = (clean * (1 - alpha[..., None]) + 0.95 * alpha[..., None]).astype(np.float32)
    crack = alpha >= 0.5
    detected = np.zeros(crack.shape, np.float32)
    detected[:, :80] = 1.0
    clicks = clicks_for(damaged, clean, crack, detected)
    assert len(clicks) == 1
    x, y, piece = clicks[0]
    assert piece[y, x] and x >= 80 and np.array_equal(piece, crack & (detected < 0.5))
    assert clicks_for(damaged, clean, crack, np.ones_like(detected)) == []
    assert clicks_for(clean, clean, crack, detected) == [], "damage that does not show is not clicked"
