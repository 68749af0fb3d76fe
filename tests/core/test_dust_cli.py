"""``enhance-studio detect-dust``: one mask per scan, named by stem, never over an existing one."""

from __future__ import annotations

import numpy as np
import pytest

from enhance_core.cli import main
from enhance_core.image import Image, ImageMeta
from enhance_core.io import read_image, write_image


@pytest.fixture
def bright_detector(monkeypatch):
    """Replace the learned detector's network by a rule: pixels brighter than 0.9 are damage."""
    from enhance_core.learned import damage

    monkeypatch.setattr(damage, "damage_probability",
                        lambda pixels, **kwargs: (pixels.max(axis=2) > 0.9).astype(np.float32))


def cracked_and_clean(folder, shape, crack, names):
    """Write a gray scan with a white line on row ``crack[0]`` (columns ``crack[1]:crack[2]``) and a clean twin."""
    folder.mkdir(parents=True)
    damaged = np.full((*shape, 3), 0.4, np.float32)
    damaged[crack[0], crack[1]:crack[2]] = 1.0
    write_image(Image(damaged, meta=ImageMeta(bit_depth=8)), folder / names[0])
    write_image(Image(np.full((*shape, 3), 0.4, np.float32), meta=ImageMeta(bit_depth=8)), folder / names[1])
    return folder


def test_writes_masks_by_stem_and_keeps_existing(tmp_path, capsys, bright_detector):
    folder = cracked_and_clean(tmp_path / "scans", (96, 112), (40, 10, 100), ("scan1.png", "scan2.png"))
    masks = tmp_path / "masks"
    assert main(["detect-dust", "--grow", "1", "-o", str(masks), str(folder)]) == 0
    mask = read_image(masks / "scan1.png").pixels[..., 0]
    assert mask.shape == (96, 112) and mask[39:42, 10:100].min() == 1.0 and mask[45:].max() == 0.0
    assert read_image(masks / "scan2.png").pixels.max() == 0.0
    assert "2 of 2 mask(s) written" in capsys.readouterr().out
    assert main(["detect-dust", "-o", str(masks), str(folder / "scan1.png")]) == 1
    assert "--overwrite" in capsys.readouterr().err
    assert main(["detect-dust", "--overwrite", "-o", str(masks), str(folder / "scan1.png")]) == 0


def test_skip_existing_finishes_an_interrupted_run(tmp_path, capsys, bright_detector):
    folder = cracked_and_clean(tmp_path / "scans", (96, 112), (40, 10, 100), ("scan1.png", "scan2.png"))
    masks = tmp_path / "masks"
    assert main(["detect-dust", "-o", str(masks), str(folder / "scan1.png")]) == 0
    (masks / "scan1.png").write_bytes(b"kept as it was")
    capsys.readouterr()
    assert main(["detect-dust", "--skip-existing", "-o", str(masks), str(folder)]) == 0
    out = capsys.readouterr().out
    assert "1 of 2 mask(s) written to" in out and "(1 already there, kept)" in out
    assert (masks / "scan1.png").read_bytes() == b"kept as it was" and (masks / "scan2.png").exists()


def test_a_stopped_run_says_what_it_wrote_and_how_to_finish(tmp_path, capsys, monkeypatch, bright_detector):
    """Stopped, it said only "stopped by SIGTERM", and the same command run again failed on every mask written."""
    from enhance_core.learned import damage

    folder = cracked_and_clean(tmp_path / "scans", (96, 112), (40, 10, 100), ("scan1.png", "scan2.png"))
    masks = tmp_path / "masks"
    detect = damage.detect_damage

    def stopped_at_the_second(pixels, **kwargs):
        if (masks / "scan1.png").exists():
            raise KeyboardInterrupt
        return detect(pixels, **kwargs)

    monkeypatch.setattr(damage, "detect_damage", stopped_at_the_second)
    assert main(["detect-dust", "-o", str(masks), str(folder)]) == 130
    assert capsys.readouterr().err.splitlines()[-1] == (
        f"interrupted: 1 of 2 mask(s) written to {masks}; run the same command with --skip-existing to finish "
        "(the masks written are kept)")
    monkeypatch.setattr(damage, "detect_damage", stopped_at_the_second)
    (masks / "scan2.png").write_bytes(b"an earlier run's")
    assert main(["detect-dust", "--overwrite", "-o", str(masks), str(folder)]) == 130
    assert capsys.readouterr().err.splitlines()[-1].endswith(
        "; run the same command again to finish (it replaces all the masks again)"), \
        "--skip-existing would keep the masks not yet replaced, and does not go with --overwrite"
    monkeypatch.setattr(damage, "detect_damage", detect)
    (masks / "scan2.png").unlink()
    assert main(["detect-dust", "--skip-existing", "-o", str(masks), str(folder)]) == 0
    assert "done: 1 of 2 mask(s) written to" in capsys.readouterr().out


@pytest.mark.parametrize(("option", "value", "said"), [("--sensitivity", "3", "--sensitivity must lie between"),
                                                      ("--grow", "-1", "--grow must lie between"),
                                                      ("--device", "tpu", "'tpu'")])
def test_bad_option_exits_2_with_one_line(tmp_path, capsys, option, value, said):
    code = main(["detect-dust", option, value, "-o", str(tmp_path / "m"), str(tmp_path)])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and said in err[0]
    assert not (tmp_path / "m").exists()


def test_masks_never_replace_or_mix_with_the_scans(tmp_path, capsys, bright_detector):
    folder = tmp_path / "scans"
    folder.mkdir(parents=True)
    write_image(Image(np.full((32, 40, 3), 0.4, np.float32), meta=ImageMeta(bit_depth=8)), folder / "scan.png")
    for mask_folder in (folder, tmp_path / "scans" / ".." / "scans"):
        assert main(["detect-dust", "--overwrite", "-o", str(mask_folder), str(folder)]) == 2
        err = capsys.readouterr().err
        assert "holds the scan" in err and "folder of its own" in err
    assert read_image(folder / "scan.png").pixels.shape == (32, 40, 3), "the scan is untouched"
    linked = tmp_path / "linked"
    linked.mkdir()
    (linked / "scan.png").symlink_to(folder / "scan.png")
    assert main(["detect-dust", "--overwrite", "-o", str(linked), str(linked)]) == 2, "a link to a scan is a scan"
    assert main(["detect-dust", "--overwrite", "-o", str(linked), str(folder)]) == 1
    assert "is one of the scans" in capsys.readouterr().err
    assert read_image(folder / "scan.png").pixels.shape == (32, 40, 3) and (linked / "scan.png").is_symlink()


def test_with_r_masks_never_mix_with_the_scans_of_a_subfolder(tmp_path, capsys, bright_detector):
    """detect-dust -r -o scans scans (or 'scans/**/*.tif') wrote each box's masks beside its scans."""
    box = tmp_path / "scans" / "box"
    box.mkdir(parents=True)
    write_image(Image(np.full((32, 40, 3), 0.4, np.float32), meta=ImageMeta(bit_depth=8)), box / "scan.tif")
    for spec in (tmp_path / "scans", tmp_path / "scans" / "**" / "*.tif"):
        assert main(["detect-dust", "-r", "-o", str(tmp_path / "scans"), str(spec)]) == 2
        err = capsys.readouterr().err
        assert f"the mask folder {box} holds the scan {box / 'scan.tif'}" in err and "folder of its own" in err
    assert sorted(path.name for path in box.iterdir()) == ["scan.tif"]


def test_scans_that_share_a_stem_get_no_mask_and_the_rest_do(tmp_path, capsys, bright_detector):
    folder = tmp_path / "scans"
    folder.mkdir(parents=True)
    for name in ("photo.png", "photo.jpg", "other.png"):
        write_image(Image(np.full((32, 40, 3), 0.4, np.float32), meta=ImageMeta(bit_depth=8)), folder / name)
    masks = tmp_path / "masks"
    assert main(["detect-dust", "--overwrite", "-o", str(masks), str(folder)]) == 1
    err = capsys.readouterr().err
    assert err.count("shares the stem 'photo'") == 2 and "rename one of the scans" in err
    assert sorted(p.name for p in masks.iterdir()) == ["other.png"]


def test_a_mask_folder_that_is_a_file_is_refused_and_left_alone(tmp_path, capsys):
    write_image(Image(np.full((32, 40, 3), 0.4, np.float32), meta=ImageMeta(bit_depth=8)), tmp_path / "scan.png")
    taken = tmp_path / "masks.png"
    taken.write_bytes(b"the user's own file")
    assert main(["detect-dust", "-o", str(taken), str(tmp_path / "scan.png")]) == 2
    assert f"-o {taken} is a file, not a folder; name a folder for the masks" in capsys.readouterr().err
    assert taken.read_bytes() == b"the user's own file"


def test_apply_restore_prints_what_the_detector_found_per_file(tmp_path, capsys, bright_detector):
    folder = cracked_and_clean(tmp_path / "scans", (40, 50), (20, 5, 45), ("cracked.png", "clean.png"))
    assert main(["apply", "--filter", "restore", "--set", "grow=0", "--jobs", "1", "-o", str(tmp_path / "out"),
                 str(folder)]) == 0
    lines = capsys.readouterr().err.splitlines()
    said = {name: next(line for line in lines if f"{name}.png ->" in line) for name in ("cracked", "clean")}
    assert f"damage found on {100 * 40 / 2000:.2f} % of the picture" in said["cracked"]
    assert "no damage found at sensitivity 0.50: raise the sensitivity" in said["clean"]


def test_restore_and_detect_dust_on_a_page_of_text_say_the_detector_is_made_for_photographs(tmp_path, capsys,
                                                                                  bright_detector):
    from tests.learned.test_damage_restore import typed_page

    write_image(Image(typed_page(), meta=ImageMeta(bit_depth=8)), tmp_path / "letter.png")
    write_image(Image(np.full((40, 50, 3), 0.95, np.float32), meta=ImageMeta(bit_depth=8)), tmp_path / "sky.png")
    assert main(["apply", "--filter", "restore", "--jobs", "1", "-o", str(tmp_path / "out"),
                 str(tmp_path / "letter.png"), str(tmp_path / "sky.png")]) == 0
    lines = capsys.readouterr().err.splitlines()
    said = {name: next(line for line in lines if f"{name}.png ->" in line) for name in ("letter", "sky")}
    assert "the picture looks like a page of text, and the detector is made for photographs" in said["letter"]
    assert "page of text" not in said["sky"]
    assert main(["detect-dust", "-o", str(tmp_path / "masks"), str(tmp_path / "letter.png"),
                 str(tmp_path / "sky.png")]) == 0
    lines = capsys.readouterr().err.splitlines()
    said = {name: next(line for line in lines if f"{name}.png ->" in line) for name in ("letter", "sky")}
    assert "marked; it looks like a page of text: full stops and a blank margin can be marked" in said["letter"]
    assert "page of text" not in said["sky"]


def test_a_folder_of_boxes_is_detected_with_r_into_the_tree_apply_r_reads(tmp_path, capsys, bright_detector):
    """An archive of hundreds of boxes needed one detect-dust command per box, each with its own -o (an archivist's
    walk-through); -r mirrors the tree, and scans of different boxes may share a stem."""
    for box in ("box1", "box2"):
        cracked_and_clean(tmp_path / "scans" / box, (40, 50), (20, 5, 45), ("scan_0001.png", "scan_0002.png"))
    masks = tmp_path / "masks"
    assert main(["detect-dust", "-o", str(masks), str(tmp_path / "scans")]) == 2
    assert "hold images; pass -r to detect them too, their masks in the same subfolders" in capsys.readouterr().err
    assert main(["detect-dust", "-r", "-o", str(masks), str(tmp_path / "scans")]) == 0
    assert sorted(path.relative_to(masks).as_posix() for path in masks.rglob("*.png")) == [
        "box1/scan_0001.png", "box1/scan_0002.png", "box2/scan_0001.png", "box2/scan_0002.png"]
    assert main(["apply", "--filter", "hole_fill", "--mask-dir", str(masks), "-r", "--jobs", "1", "-o",
                 str(tmp_path / "out"), str(tmp_path / "scans")]) == 0
    assert "4 of 4 file(s) written" in capsys.readouterr().out
