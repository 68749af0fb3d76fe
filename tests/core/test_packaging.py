"""What ``pip install`` of the wheel gives a user, run outside the checkout: the weights and the sample image ship."""

from __future__ import annotations

import os
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import numpy as np

from enhance_core import __version__
from enhance_core.image import Image
from enhance_core.io.writer import write_image
from enhance_core.learned.registry import MODELS

ROOT = Path(__file__).parents[2]
INSTALLED_CHECK = """
import sys
from pathlib import Path

import enhance_core, app
from app.bundled import SAMPLE_IMAGE
from enhance_core.io.reader import read_image
from enhance_core.learned.registry import MODELS, load_model, models_dir

site = Path(sys.argv[1])
assert Path(enhance_core.__file__).parent.parent == site and Path(app.__file__).parent.parent == site
assert models_dir() == site / "enhance_core" / "models", models_dir()
for name in MODELS:
    load_model(name)
print("sample", read_image(SAMPLE_IMAGE).pixels.shape)
"""


def build(kind: str, out: Path) -> Path:
    """Build the project's ``wheel`` or ``sdist`` into ``out`` with hatchling (no build environment fetched)."""
    done = subprocess.run([sys.executable, "-c", f"import hatchling.build as b; print(b.build_{kind}({str(out)!r}))"],
                          cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return out / done.stdout.strip().splitlines()[-1]


def test_the_wheel_holds_the_weights_and_the_sample_image_and_runs_a_learned_filter_outside_the_checkout(tmp_path):
    wheel = build("wheel", tmp_path / "dist")
    site = tmp_path / "site"
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
        archive.extractall(site)
    for spec in MODELS.values():
        assert f"enhance_core/models/{spec.weights}" in names and f"enhance_core/models/{spec.weights}.sha256" in names
    assert {"app/resources/sample_astronaut.png", f"enhance_studio-{__version__}.dist-info/licenses/LICENSE"} <= names
    assert not [name for name in names if name.startswith(("tests/", "runs/", "models/")) or "__pycache__" in name]
    work = tmp_path / "elsewhere"
    work.mkdir()
    env = {key: value for key, value in os.environ.items() if key != "ENHANCE_MODELS_DIR"}
    env["PYTHONPATH"] = str(site)
    check = subprocess.run([sys.executable, "-c", INSTALLED_CHECK, str(site)], cwd=work, env=env,
                           capture_output=True, text=True, timeout=300)
    assert check.returncode == 0, check.stderr
    assert "sample (512, 512, 3)" in check.stdout
    noisy = np.clip(0.5 + np.random.default_rng(0).normal(0, 0.1, (40, 48, 3)), 0, 1).astype(np.float32)
    write_image(Image(noisy), work / "in.png")
    run = subprocess.run([sys.executable, "-m", "enhance_core.cli", "apply", "--filter", "denoise", "-o", "out",
                          "in.png"], cwd=work, env=env, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr
    assert (work / "out" / "in.png").exists()


def test_the_sdist_holds_the_tests_weights_and_licences(tmp_path):
    with tarfile.open(build("sdist", tmp_path)) as archive:
        names = {name.split("/", 1)[1] for name in archive.getnames() if "/" in name}
    assert {"LICENSE", "resources/LICENSES.md", "tests/core/test_packaging.py", "dev.sh",
            f"models/{MODELS['denoise'].weights}"} <= names
    assert not [name for name in names if name.startswith(("runs/", ".venv/")) or "__pycache__" in name]
