"""``enhance-studio detect-dust``: one mask per scan, named by stem, never over an existing one."""

from __future__ import annotations

import numpy as np

from enhance_core.cli import main
from enhance_core.image import Image, ImageMeta
from enhance_core.io import read_image, write_image
from tests.core.test_dust import add_damage, clean_scan


def test_writes_masks_by_stem_and_keeps_existing(tmp_path, capsys):
    folder = tmp_path / "scans"
    folder.mkdir()
    damaged, labels = add_damage(clean_scan(96, 112))
    write_image(Image(damaged, meta=ImageMeta(bit_depth=8)), folder / "scan1.png")
    write_image(Image(clean_scan(96, 112, seed=3), meta=ImageMeta(bit_depth=8)), folder / "scan2.png")
    masks = tmp_path / "masks"
    assert main(["detect-dust", "-o", str(masks), str(folder)]) == 0
    mask = read_image(masks / "scan1.png").pixels[..., 0]
    assert mask.shape == labels.shape and mask[labels > 0].mean() > 0.6
    assert read_image(masks / "scan2.png").pixels.mean() < 0.01
    assert "2 of 2 mask(s) written" in capsys.readouterr().out
    assert main(["detect-dust", "-o", str(masks), str(folder / "scan1.png")]) == 1
    assert "--overwrite" in capsys.readouterr().err
    assert main(["detect-dust", "--overwrite", "-o", str(masks), str(folder / "scan1.png")]) == 0


def test_bad_sensitivity_exits_2_with_one_line(tmp_path, capsys):
    code = main(["detect-dust", "--sensitivity", "3", "-o", str(tmp_path / "m"), str(tmp_path)])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and "--sensitivity" in err[0]
