"""The one atomic-write helper: the output appears whole or not at all, and never replaces it half-written."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from framestyle.atomic import AtomicFile, atomic_file, write_bytes_atomic
from framestyle.cluster.manifest import Manifest
from framestyle.errors import OutputError


def test_a_finished_block_renames_the_file_into_place(tmp_path: Path) -> None:
    target = tmp_path / "out.bin"
    with atomic_file(target) as tmp:
        tmp.write_bytes(b"new")
        assert not target.exists() and tmp.parent == tmp_path
    assert target.read_bytes() == b"new"
    assert os.listdir(tmp_path) == ["out.bin"]


@pytest.mark.parametrize("error", [RuntimeError("boom"), KeyboardInterrupt()])
def test_a_failing_block_leaves_the_old_file_and_no_temporary(tmp_path: Path, error: BaseException) -> None:
    target = tmp_path / "out.bin"
    target.write_bytes(b"old")
    with pytest.raises(type(error)), atomic_file(target) as tmp:
        tmp.write_bytes(b"half")
        raise error
    assert target.read_bytes() == b"old"
    assert os.listdir(tmp_path) == ["out.bin"]


def test_the_file_gets_the_permissions_of_a_plain_new_file(tmp_path: Path) -> None:
    umask = os.umask(0o022)
    try:
        write_bytes_atomic(tmp_path / "a.txt", b"x")
    finally:
        os.umask(umask)
    assert (tmp_path / "a.txt").stat().st_mode & 0o777 == 0o644


def test_a_missing_folder_is_one_clear_error(tmp_path: Path) -> None:
    with pytest.raises(OutputError, match=r"missing: no such folder \(create it first\)"):
        AtomicFile(tmp_path / "missing" / "out.bin")


def test_abort_removes_the_temporary(tmp_path: Path) -> None:
    output = AtomicFile(tmp_path / "video.mp4")
    assert output.tmp.exists()
    output.abort()
    assert os.listdir(tmp_path) == []


def test_a_failed_manifest_write_leaves_no_temporary(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    manifest = Manifest(tmp_path, {"job": 1})

    def disk_full(self: Path, data: bytes) -> int:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(Path, "write_bytes", disk_full)
    with pytest.raises(OutputError, match="cannot write the manifest"):
        manifest.save()
    assert not [name for name in os.listdir(tmp_path) if name.endswith(".part")]
