"""Path checks that name the folder a user may not enter, rather than raise a bare PermissionError."""

from __future__ import annotations

from functools import partial

import pytest

from enhance_core.errors import ImageWriteError
from enhance_core.paths import denied_folder, exists, is_dir, is_file

from .locked_folders import lock_folder


def test_the_checks_answer_as_pathlib_where_every_folder_lets_the_user_in(tmp_path):
    (tmp_path / "a.png").write_bytes(b"x")
    refuse = partial(ImageWriteError, tmp_path)
    assert exists(tmp_path / "a.png", refuse) and is_file(tmp_path / "a.png", refuse)
    assert is_dir(tmp_path, refuse) and not is_file(tmp_path, refuse)
    assert not exists(tmp_path / "none", refuse) and not is_dir(tmp_path / "a.png" / "below", refuse)


@pytest.mark.parametrize("check", [exists, is_dir, is_file])
def test_a_path_through_a_folder_that_cannot_be_entered_raises_the_callers_error_naming_it(tmp_path, monkeypatch,
                                                                                             check):
    path = tmp_path / "locked" / "inner" / "b.png"
    path.parent.mkdir(parents=True)
    lock_folder(monkeypatch, tmp_path / "locked")
    assert denied_folder(path) == tmp_path / "locked"
    with pytest.raises(ImageWriteError) as caught:
        check(path, partial(ImageWriteError, path))
    assert str(caught.value) == (f"{path}: permission denied: the folder {tmp_path / 'locked'} cannot be entered; "
                                 "check the folder's permissions")


def test_a_name_too_long_for_the_file_system_is_refused_with_its_length(tmp_path) -> None:
    from functools import partial

    from enhance_core.errors import ImageWriteError
    from enhance_core.paths import exists

    with pytest.raises(ImageWriteError, match=r"the name is too long for the file system \(300 bytes in UTF-8"):
        exists(tmp_path / ("x" * 300), partial(ImageWriteError, tmp_path / ("x" * 300)))
