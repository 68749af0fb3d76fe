"""``enhance-studio jpeg-table IMAGE``: quality 95..5 with PSNR, SSIM and the real encoded size."""

from __future__ import annotations

import json

from enhance_core.cli import main
from enhance_core.io import read_image, write_image
from enhance_core.metrics import compare_images

from .io_fixtures import make_image


def test_table_lists_every_fifth_quality_with_real_sizes_and_scores(tmp_path, capsys):
    image = make_image(rows=64, cols=64, bit_depth=8)
    image.meta.exif = image.meta.icc_profile = None
    source = write_image(image, tmp_path / "photo.png")
    assert main(["jpeg-table", "--json", str(source)]) == 0
    captured = capsys.readouterr()
    rows = [json.loads(line) for line in captured.out.splitlines()]
    assert [row["quality"] for row in rows] == list(range(95, 0, -5))
    assert rows[0]["bytes"] > rows[-1]["bytes"] and rows[0]["psnr"] > rows[-1]["psnr"] > 0
    assert "[19/19] quality 5" in captured.err
    for quality in (95, 50):
        jpeg = write_image(read_image(source), tmp_path / f"q{quality}.jpg", quality=quality)
        row = next(row for row in rows if row["quality"] == quality)
        assert row["bytes"] == jpeg.stat().st_size
        scores = compare_images(read_image(jpeg).pixels, read_image(source).pixels)
        assert row["psnr"] == round(scores["psnr"], 3) and row["ssim"] == round(scores["ssim"], 5)


def test_text_table_has_a_header_and_nineteen_rows(tmp_path, capsys):
    source = write_image(make_image(rows=32, cols=32, bit_depth=8), tmp_path / "small.png")
    assert main(["jpeg-table", str(source)]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert lines[0].split() == ["quality", "PSNR", "dB", "SSIM", "bytes", "bits/px"] and len(lines) == 20
