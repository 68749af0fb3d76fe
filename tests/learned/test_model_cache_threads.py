"""The model cache under threads: a model asked for by several threads at once is built once, and all get it whole."""

from __future__ import annotations

import threading

import pytest

from enhance_core.errors import Cancelled
from enhance_core.learned import engine, registry


@pytest.fixture
def builds(monkeypatch) -> list[str]:
    """Names of the models built from their weights from now on (the cache is emptied first, and after)."""
    built: list[str] = []
    build = registry._build

    def recording_build(spec, path):
        built.append(next(name for name, known in registry.MODELS.items() if known is spec))
        return build(spec, path)

    registry.clear_cache()
    monkeypatch.setattr(registry, "_build", recording_build)
    yield built
    registry.clear_cache()


def test_threads_loading_the_same_model_at_once_build_it_once(builds):
    start = threading.Barrier(3)
    got: list[object] = []

    def load(should_stop) -> None:
        start.wait()
        got.append(engine.load_network("noise_level", device="cpu", should_stop=should_stop)[0])

    threads = [threading.Thread(target=load, args=(stop,)) for stop in (None, lambda: False, None)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert builds == ["noise_level"]
    assert len(got) == 3 and got[0] is got[1] is got[2]
    assert not any(parameter.requires_grad for parameter in got[0].parameters()), "handed out ready to run"


def test_a_load_abandoned_by_a_stop_fills_the_cache_for_the_next_run(builds, monkeypatch):
    release = threading.Event()
    build = registry._build

    def held_build(spec, path):
        network = build(spec, path)
        assert release.wait(60)
        return network

    monkeypatch.setattr(registry, "_build", held_build)
    with pytest.raises(Cancelled):
        engine.load_network("noise_level", device="cpu", should_stop=lambda: bool(builds))
    release.set()
    network = engine.load_network("noise_level", device="cpu")[0]
    assert builds == ["noise_level"], "the next run waited for the abandoned load instead of building again"
    assert network is engine.load_network("noise_level", device="cpu")[0]
