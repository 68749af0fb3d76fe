"""Torch's libraries load ahead of ``import torch`` (GIL released), and the networks run the same after."""

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
