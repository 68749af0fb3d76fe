"""Render cache keys (issue 21): memory linear in the number of steps, exact equality, no recursion."""

from __future__ import annotations

import dataclasses
import gc
import tracemalloc

import numpy as np

from enhance_core.filters.base import RenderContext
from enhance_core.filters.registry import FILTERS
from enhance_core.image import Image
from enhance_core.render import PrefixKey, Renderer
from enhance_core.stack import make_item


def gamma_steps(count: int, *, offset: float = 0.0) -> list:
    return [make_item("gamma", {"gamma": 1.0 + offset + index / 1e5}) for index in range(count)]


def keys_for(steps: list) -> list[PrefixKey]:
    return Renderer._prefix_keys(steps, RenderContext(), source=1)


def test_each_key_holds_one_step_and_shares_the_rest() -> None:
    steps = gamma_steps(500)
    keys = keys_for(steps)
    assert all(key.parent is before for key, before in zip(keys[1:], keys))
    held = {len(gc.get_referents(key)) for key in keys}
    assert held == {4}  # its type, parent, step and hash: the same for the last key as for the first


def test_key_memory_grows_linearly_with_the_steps() -> None:
    sizes = []
    for count in (1000, 4000):
        steps = gamma_steps(count)
        tracemalloc.start()
        keys = keys_for(steps)
        sizes.append(tracemalloc.get_traced_memory()[0])
        tracemalloc.stop()
        del keys
    assert sizes[1] < 8 * sizes[0]  # 4 times the steps: about 4 times the memory (quadratic keys: 16)


def chain(steps) -> list[PrefixKey]:
    keys, key = [], PrefixKey(None, "base")
    for step in steps:
        key = PrefixKey(key, step)
        keys.append(key)
    return keys


def test_equal_chains_match_and_a_changed_step_does_not() -> None:
    steps = list(range(100_000))
    mine, theirs = chain(steps), chain(list(steps))
    assert mine[-1] == theirs[-1] and hash(mine[-1]) == hash(theirs[-1])
    steps[40_000] = -1
    changed = chain(steps)
    assert changed[39_999] == mine[39_999]
    assert changed[40_000] != mine[40_000] and changed[-1] != mine[-1]
    assert mine[-1] != mine[-2] and mine[5] != (5,)
    items = gamma_steps(3)
    assert keys_for(items)[-1] == keys_for([make_item(i.filter, i.params) for i in items])[-1]


def test_a_long_stack_recomputes_only_its_changed_last_step(monkeypatch) -> None:
    calls = []
    gamma = FILTERS["gamma"]

    def counted(pixels, params, ctx):
        calls.append(1)
        return gamma.apply(pixels, params, ctx)

    monkeypatch.setitem(FILTERS, "gamma", dataclasses.replace(gamma, apply=counted))
    image = Image(np.full((4, 5, 3), 0.5, np.float32))
    steps = [make_item("gamma", {"gamma": 1.0})] * 3000
    renderer = Renderer()
    renderer.render(image, steps)
    calls.clear()
    tracemalloc.start()
    second = renderer.render(image, steps[:-1] + [make_item("gamma", {"gamma": 2.0})])
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert len(calls) == 1 and np.allclose(second, 0.25)
    assert peak < 2_000_000  # keys holding every earlier step would take 36 MB here


def test_uncached_steps_are_those_a_render_at_that_scale_would_compute() -> None:
    image = Image(np.random.default_rng(1).random((40, 60, 3), dtype=np.float32))
    blur, off, negative = make_item("gaussian_blur"), make_item("gamma", enabled=False), make_item("negative")
    renderer = Renderer()
    assert renderer.uncached_steps(image, [blur, off, negative], scale=0.5) == (blur, negative)
    renderer.render(image, [blur, off, negative], scale=0.5)
    assert renderer.uncached_steps(image, [blur, off, negative], scale=0.5) == ()
    assert renderer.uncached_steps(image, [blur, negative], scale=0.25) == (blur, negative)
    changed = make_item("exposure")
    assert renderer.uncached_steps(image, [blur, changed], scale=0.5) == (changed,)
    assert renderer.uncached_steps(image, [blur], scale=0.5) == ()
    other = Image(image.pixels.copy())
    assert renderer.uncached_steps(other, [blur], scale=0.5) == (blur,)


def test_two_regions_of_one_renderer_each_match_the_export() -> None:
    from enhance_core.masks import Region
    from enhance_core.render import render_image

    image = Image(np.random.default_rng(2).random((120, 150, 3), dtype=np.float32))
    steps = [make_item("gaussian_blur", {"sigma": 2.0}), make_item("negative")]
    export = render_image(image, steps).pixels
    renderer = Renderer()
    for region in (Region(0, 0, 50, 60), Region(60, 80, 50, 60), Region(10, 20, 30, 30)):
        np.testing.assert_allclose(renderer.render(image, steps, region=region), export[region.slices], atol=1e-6)


def test_an_exact_render_after_a_quick_preview_is_computed_again(monkeypatch) -> None:
    gamma = FILTERS["gamma"]

    def by_draft(pixels, params, ctx):
        return np.full_like(pixels, 0.25 if ctx.draft else 0.75)

    monkeypatch.setitem(FILTERS, "gamma", dataclasses.replace(gamma, apply=by_draft))
    image = Image(np.full((4, 5, 3), 0.5, np.float32))
    renderer = Renderer()
    assert np.allclose(renderer.render(image, [make_item("gamma")], draft=True), 0.25)
    assert np.allclose(renderer.render(image, [make_item("gamma")]), 0.75)


def test_a_step_that_needs_the_whole_picture_runs_once_for_every_region(monkeypatch) -> None:
    from enhance_core.masks import Region
    from enhance_core.render import render_image

    calls = []
    equalize = FILTERS["histogram_equalize"]

    def counted(pixels, params, ctx):
        calls.append(pixels.shape)
        return equalize.apply(pixels, params, ctx)

    monkeypatch.setitem(FILTERS, "histogram_equalize", dataclasses.replace(equalize, apply=counted))
    image = Image(np.random.default_rng(3).random((80, 100, 3), dtype=np.float32))
    steps = [make_item("histogram_equalize"), make_item("gaussian_blur", {"sigma": 1.5})]
    export = render_image(image, steps).pixels
    calls.clear()
    renderer = Renderer()
    for region in (Region(0, 0, 30, 40), Region(40, 50, 30, 40), Region(10, 60, 20, 30)):
        np.testing.assert_allclose(renderer.render(image, steps, region=region), export[region.slices], atol=1e-6)
    assert calls == [(80, 100, 3)], "the first region's render kept the whole result for the others"
    assert renderer.uncached_steps(image, steps[:1]) == ()


def test_the_editor_s_cache_grows_with_the_memory_the_process_may_use(monkeypatch):
    """At 1 GiB a 100 MP scan's whole CLAHE result (1.2 GB) was never kept, so every 1:1 pan ran CLAHE again; but
    a container's or the address space's limit must hold it down (a review: a MemoryError under ulimit -v)."""
    from enhance_core import render
    from enhance_core.render import DEFAULT_CACHE_BYTES, MAX_DEFAULT_CACHE_BYTES, Renderer, default_cache_bytes

    monkeypatch.setattr(render, "usable_memory", lambda: 24 << 30)
    assert default_cache_bytes() == 3 << 30
    assert Renderer()._cache.max_bytes == 3 << 30
    assert Renderer(cache_bytes=0)._cache.max_bytes == 0
    monkeypatch.setattr(render, "usable_memory", lambda: 4 << 30)
    assert default_cache_bytes() == DEFAULT_CACHE_BYTES
    monkeypatch.setattr(render, "usable_memory", lambda: 0)  # unknown
    assert default_cache_bytes() == DEFAULT_CACHE_BYTES
    monkeypatch.setattr(render, "usable_memory", lambda: 256 << 30)
    assert default_cache_bytes() == MAX_DEFAULT_CACHE_BYTES


def test_usable_memory_is_the_least_of_the_machine_s_and_the_limits():
    import subprocess
    import sys

    script = ("import resource\n"
              "resource.setrlimit(resource.RLIMIT_AS, (3 << 30, resource.RLIM_INFINITY))\n"
              "from enhance_core.render import default_cache_bytes, usable_memory\n"
              "print(usable_memory(), default_cache_bytes())\n")
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    usable, budget = (int(word) for word in done.stdout.split())
    assert usable <= 3 << 30 and budget == 1 << 30, done.stderr


def test_memory_comes_from_the_system_on_every_platform(monkeypatch):
    """Windows has no os.sysconf and no /proc, macOS no count of free pages: the free memory read as unknown (no cap
    on the batch's workers) and the editor's cache stayed at 1 GiB whatever the machine had."""
    from types import SimpleNamespace

    import psutil

    from enhance_core import batch, render

    monkeypatch.setattr(psutil, "virtual_memory", lambda: SimpleNamespace(total=3 << 30, available=5 << 20))
    assert batch.available_memory() == 5 << 20
    assert 0 < render.usable_memory() <= 3 << 30
