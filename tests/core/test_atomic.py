"""atomic_write: the target is replaced whole, on disk, or left as it was; modes are kept or made from the umask."""

from __future__ import annotations

import os
import stat

import pytest

from enhance_core import atomic
from enhance_core.atomic import atomic_write, write_bytes_atomic, write_text_atomic


def test_new_file_gets_the_content_and_the_umask_mode(tmp_path):
    path = write_text_atomic(tmp_path / "notes.json", "{\"a\": 1}\n")
    assert path.read_text(encoding="utf-8") == "{\"a\": 1}\n"
    assert stat.S_IMODE(path.stat().st_mode) == 0o666 & ~atomic._UMASK
    assert [p.name for p in tmp_path.iterdir()] == ["notes.json"]


def test_replacing_keeps_the_targets_mode(tmp_path):
    target = tmp_path / "weights.bin"
    target.write_bytes(b"old")
    os.chmod(target, 0o640)
    write_bytes_atomic(target, b"new")
    assert target.read_bytes() == b"new"
    assert stat.S_IMODE(target.stat().st_mode) == 0o640


def test_an_error_in_the_block_leaves_the_target_and_no_temporary_file(tmp_path):
    target = tmp_path / "recipe.json"
    target.write_text("good")
    with pytest.raises(RuntimeError, match="encoder failed"):
        with atomic_write(target) as temp:
            assert temp.parent == tmp_path and temp.name.startswith(".recipe.json.") and temp.suffix == ".part"
            temp.write_text("half")
            raise RuntimeError("encoder failed")
    assert target.read_text() == "good"
    assert [p.name for p in tmp_path.iterdir()] == ["recipe.json"]


def test_content_is_flushed_before_the_rename(tmp_path, monkeypatch):
    order = []
    real_fsync, real_replace = os.fsync, os.replace
    monkeypatch.setattr(atomic.os, "fsync", lambda fd: (order.append("fsync"), real_fsync(fd)))
    monkeypatch.setattr(atomic.os, "replace", lambda a, b: (order.append("replace"), real_replace(a, b)))
    write_bytes_atomic(tmp_path / "a.png", b"data")
    assert order == ["fsync", "replace"]


def test_a_failed_rename_keeps_the_target_and_raises_oserror(tmp_path, monkeypatch):
    target = tmp_path / "project.esproj"
    target.write_text("before")

    def full_disk(source, destination):
        raise OSError(28, "No space left on device", str(destination))

    monkeypatch.setattr(atomic.os, "replace", full_disk)
    with pytest.raises(OSError, match="No space left"):
        write_text_atomic(target, "after")
    assert target.read_text() == "before"
    assert [p.name for p in tmp_path.iterdir()] == ["project.esproj"]


def test_a_missing_folder_raises_oserror(tmp_path):
    with pytest.raises(FileNotFoundError):
        write_text_atomic(tmp_path / "missing" / "a.json", "x")


@pytest.mark.parametrize("name", ["a" * 250 + ".png", "ü" * 120 + ".tif", "写真" * 40 + ".jpg"])
def test_a_name_near_the_file_system_limit_is_written_and_its_partial_file_found(tmp_path, name):
    from enhance_core.batch_workers import partial_files

    target = tmp_path / name
    with atomic_write(target) as temp:
        temp.write_bytes(b"new")
        assert len(temp.name.encode()) <= 255 and partial_files(target) == [temp]
    assert target.read_bytes() == b"new" and partial_files(target) == []


def test_remove_unfinished_removes_the_temporary_files_of_writes_under_way_only(tmp_path):
    """A process ending during a long export (the editor closed) left the hidden partial file in the user's folder."""
    target = tmp_path / "result.png"
    target.write_bytes(b"earlier")
    write_bytes_atomic(tmp_path / "done.png", b"done")
    with atomic_write(target) as temp:
        temp.write_bytes(b"half")
        atomic.remove_unfinished()
        assert not temp.exists()
        temp.write_bytes(b"whole")  # a writer that goes on (the process did not end after all) still lands
    assert sorted(p.name for p in tmp_path.iterdir()) == ["done.png", "result.png"]
    atomic.remove_unfinished()  # nothing under way: nothing to remove
    assert (tmp_path / "done.png").read_bytes() == b"done"


def test_a_read_only_target_is_replaced_where_the_system_refuses_to_replace_read_only_files(tmp_path, monkeypatch):
    """Windows refuses to replace a read-only file: the temporary file took the target's read-only mode, the
    replace failed and the read-only partial file then blocked every later batch into that folder."""
    target = tmp_path / "protected.png"
    target.write_bytes(b"old")
    target.chmod(0o444)
    real_replace = os.replace

    def windows_replace(source, destination) -> None:
        if os.path.exists(destination) and not os.stat(destination).st_mode & stat.S_IWRITE:
            raise PermissionError(13, "Access is denied", str(destination))
        real_replace(source, destination)

    monkeypatch.setattr(atomic.sys, "platform", "win32")
    monkeypatch.setattr(atomic.os, "replace", windows_replace)
    write_bytes_atomic(target, b"new")
    monkeypatch.undo()
    assert target.read_bytes() == b"new" and stat.S_IMODE(target.stat().st_mode) == 0o444
    assert list(tmp_path.iterdir()) == [target]
