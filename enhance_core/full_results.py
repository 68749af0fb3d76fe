"""Full-resolution renders shared by the lanes that need the whole result: export and exact metrics.

Each of those lanes used to render with a fresh renderer (:func:`enhance_core.render.render_image`), so a
learned step on a large photo ran its network once for the exact metrics, again for the export and again for
a second export of the same stack. A :class:`FullResults` renders through one caching
:class:`~enhance_core.render.Renderer` at scale 1 instead:

- keys: the renderer's prefix keys (source identity, render context, every step's render key up to a step),
  so a changed stack or source never returns an earlier result, and changing step k reuses the steps before it;
- memory: at most ``cache_bytes`` of step results (least recently used dropped first; a result larger than
  the budget is not kept);
- threads: renders run one at a time, so a lane asking for what another lane is computing waits (answering
  its own stop callback) and then takes it from the cache instead of running the network beside it;
- cancel: a step's result is stored only once the step has finished, so a cancelled render leaves nothing
  partial behind;
- :meth:`FullResults.clear` drops everything (a new source); a render still running keeps the renderer it
  started with, whose results go with it.

Returned pixels are the cached array itself (read-only): copy before changing them.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Sequence

from enhance_core.errors import Cancelled
from enhance_core.filters.base import ProgressFn, StopFn
from enhance_core.image import Image
from enhance_core.render import Renderer, result_image

if TYPE_CHECKING:
    from enhance_core.stack import StackItem

FULL_RESULTS_BYTES = 512 << 20
"""Default budget: one 24 MP RGB float32 result (288 MB) fits; a 6 MP photo keeps about seven step results."""
WAIT_SECONDS = 0.05
"""How often a render waiting for another one checks its stop callback."""


def _no_progress(fraction: float, message: str) -> None:
    """Ignore progress."""


def _never_stop() -> bool:
    """Never stop."""
    return False


class FullResults:
    """Full-resolution results of one source's stacks, shared by the threads that render them.

    Parameters
    ----------
    cache_bytes : int
        Memory budget for the cached step results.
    """

    def __init__(self, *, cache_bytes: int = FULL_RESULTS_BYTES) -> None:
        self.cache_bytes = cache_bytes
        self._renderer = Renderer(cache_bytes=cache_bytes)
        self._busy = threading.Lock()

    def clear(self) -> None:
        """Forget every result (the source was replaced); never waits for a render in progress."""
        self._renderer = Renderer(cache_bytes=self.cache_bytes)

    def render(self, image: Image, steps: Sequence[StackItem], *, progress: ProgressFn | None = None,
               should_stop: StopFn | None = None, device: str | None = None) -> Image:
        """Render ``steps`` on ``image`` at full resolution, reusing earlier results; a new :class:`Image`.

        Alpha and metadata as :func:`enhance_core.render.render_image` gives them (size-changing steps warp
        the alpha and update the metadata); the pixels are read-only. ``should_stop()`` true raises
        :class:`Cancelled`, also while waiting for another thread's render.
        """
        progress = progress or _no_progress
        should_stop = should_stop or _never_stop
        while not self._busy.acquire(timeout=WAIT_SECONDS):
            if should_stop():
                raise Cancelled("render cancelled while waiting for another full-resolution render")
        try:
            pixels = self._renderer.render(image, steps, progress=progress, should_stop=should_stop, device=device)
        finally:
            self._busy.release()
        return result_image(image, steps, pixels)
