"""Torch imports without holding up other threads (libraries loaded ahead with the GIL released, the collector
paused), and the networks run the same after."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from enhance_core.learned.noise_map import estimate_noise_map
from tests.learned.conftest import synthetic_rgb

REPO = Path(__file__).resolve().parents[2]
CHILD = """
import sys
import numpy as np
from enhance_core.learned.engine import load_torch_libraries
load_torch_libraries()
maps = open("/proc/self/maps").read()
print("torch module:", "torch" in sys.modules, "libtorch mapped:", "libtorch_cpu.so" in maps)
from enhance_core.learned.noise_map import estimate_noise_map
from tests.learned.conftest import synthetic_rgb
np.save(sys.argv[1], estimate_noise_map(synthetic_rgb(96, 80), device="cpu"))
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="loaded ahead on Linux only")
def test_libraries_load_before_the_import_and_the_network_gives_the_same_output(tmp_path):
    out = tmp_path / "level.npy"
    done = subprocess.run([sys.executable, "-c", CHILD, str(out)], cwd=REPO, capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stderr
    assert "torch module: False libtorch mapped: True" in done.stdout
    np.testing.assert_array_equal(np.load(out), estimate_noise_map(synthetic_rgb(96, 80), device="cpu"))


IMPORT_CHILD = """
import gc
import sys
from enhance_core.learned.engine import import_torch
if sys.argv[1] == "off":
    gc.disable()
import_torch()
print("torch:", "torch" in sys.modules, "collector on:", gc.isenabled(), "frozen:", gc.get_freeze_count() > 100_000)
"""


@pytest.mark.parametrize("collector", ["on", "off"])
def test_torch_is_imported_with_the_collector_paused_and_its_objects_frozen(collector):
    """Full collections among the import's objects held the GIL up to 140 ms; after it they are left out.

    A collector the caller turned off stays off (and nothing is frozen)."""
    done = subprocess.run([sys.executable, "-c", IMPORT_CHILD, collector], cwd=REPO, capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stderr
    on = collector == "on"
    assert f"torch: True collector on: {on} frozen: {on}" in done.stdout
