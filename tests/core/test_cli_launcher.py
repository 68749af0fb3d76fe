"""``app.launcher.main``: subcommands run headless, anything else opens the editor lazily."""

from __future__ import annotations

import sys
import types

import pytest

from app import launcher
from enhance_core.cli import SUBCOMMANDS


@pytest.fixture
def fake_editor(monkeypatch):
    """Replace ``app.editor`` with a recorder so no window opens."""
    opened = []
    module = types.ModuleType("app.editor")
    module.run_editor = lambda paths: opened.append(list(paths)) or 0
    monkeypatch.setitem(sys.modules, "app.editor", module)
    return opened


def test_no_arguments_open_the_bundled_sample(fake_editor):
    assert launcher.main([]) == 0
    assert fake_editor == [[launcher.SAMPLE_IMAGE]]
    assert launcher.SAMPLE_IMAGE.is_file()


def test_image_paths_open_the_editor(fake_editor, tmp_path):
    for name in ("a.png", "b.png", "c.png"):
        (tmp_path / name).write_bytes(b"")
    assert launcher.main([str(tmp_path / "a.png"), str(tmp_path / "b.png")]) == 0
    assert fake_editor == [[tmp_path / "a.png", tmp_path / "b.png"]]


@pytest.mark.parametrize("argv, message", [
    (["aply", "--filter", "denoise"], "error: aply: no such file or folder; did you mean the command 'apply'?"),
    (["a.png", "--filter"], "unknown option '--filter'"),
    (["holiday.jpg"], "error: holiday.jpg: no such file or folder; check the path and spelling"),
    (["help"], "error: help: no such file or folder, nor a command; enhance-studio --help lists the commands"),
    (["convert.jpg"], "error: convert.jpg: no such file or folder; check the path and spelling"),
    (["a.png", "b.png", "c.png"], "the editor opens one image or project and an optional reference, not 3 files"),
])
def test_what_the_editor_cannot_open_is_one_line_before_any_window(fake_editor, tmp_path, monkeypatch, capsys,
                                                                    argv, message):
    monkeypatch.chdir(tmp_path)
    for name in ("a.png", "b.png", "c.png"):
        (tmp_path / name).write_bytes(b"")
    assert launcher.main(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and message in err
    assert fake_editor == []


def test_subcommands_and_flags_stay_headless(fake_editor, capsys):
    assert {"info", "metrics", "convert", "jpeg-table"} <= set(SUBCOMMANDS)
    assert launcher.main(["info", str(launcher.SAMPLE_IMAGE)]) == 0
    assert '"width": 512' in capsys.readouterr().out
    assert launcher.main(["--help"]) == 0
    assert "jpeg-table" in capsys.readouterr().out
    assert launcher.main(["--version"]) == 0
    assert capsys.readouterr().out.startswith("enhance-studio ")
    assert launcher.main(["info"]) == 2
    assert fake_editor == []


def test_missing_pyside_is_one_clear_line(monkeypatch, capsys):
    class WithoutQt(types.ModuleType):
        def __getattr__(self, name):
            raise ModuleNotFoundError("No module named 'PySide6'", name="PySide6")

    monkeypatch.setitem(sys.modules, "app.editor", WithoutQt("app.editor"))
    assert launcher.main([]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "pip install" in err and "PySide6" in err


def test_no_display_on_linux_is_one_clear_line(fake_editor, monkeypatch, capsys):
    monkeypatch.setattr(sys, "platform", "linux")
    for name in ("QT_QPA_PLATFORM", "DISPLAY", "WAYLAND_DISPLAY"):
        monkeypatch.delenv(name, raising=False)
    assert launcher.main([]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "no display" in err and "xvfb-run" in err
    assert fake_editor == []
    monkeypatch.setenv("DISPLAY", ":99")
    assert launcher.main([]) == 0
    assert fake_editor == [[launcher.SAMPLE_IMAGE]]
