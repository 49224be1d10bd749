"""The driver's decisions that need no cluster: which token a driver uses, and what a failed job leaves behind."""

from __future__ import annotations

from pathlib import Path

import pytest

from framestyle.cluster.connect import _use_local_token
from framestyle.cluster.driver import _settled
from framestyle.cluster.manifest import Manifest
from framestyle.cluster.task import ChunkResult
from framestyle.errors import ClusterError


@pytest.fixture
def no_ray_settings(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    for name in ("RAY_AUTH_MODE", "RAY_AUTH_TOKEN", "RAY_AUTH_TOKEN_PATH"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    return tmp_path


def test_a_driver_uses_the_token_in_its_home_folder(no_ray_settings: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import os

    _use_local_token()
    assert "RAY_AUTH_MODE" not in os.environ  # no token: Ray's default stands
    (no_ray_settings / ".ray").mkdir()
    (no_ray_settings / ".ray" / "auth_token").write_text("t" * 32)
    _use_local_token()
    assert os.environ["RAY_AUTH_MODE"] == "token"
    monkeypatch.setenv("RAY_AUTH_MODE", "disabled")  # a user's choice is kept
    _use_local_token()
    assert os.environ["RAY_AUTH_MODE"] == "disabled"


def test_a_token_in_the_environment_counts(no_ray_settings: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import os

    monkeypatch.setenv("RAY_AUTH_TOKEN", "t" * 32)
    _use_local_token()
    assert os.environ["RAY_AUTH_MODE"] == "token"


def test_a_failed_job_without_finished_chunks_leaves_no_work_folder(tmp_path: Path) -> None:
    work = tmp_path / ".out.mkv.stylize"
    work.mkdir()
    manifest = Manifest(work, {"job": 1})
    manifest.save()
    error = ClusterError("node 127.0.0.1: cannot write")
    assert _settled(error, work, manifest) is error
    assert not work.exists()


def test_a_failed_job_keeps_its_finished_chunks_and_says_so(tmp_path: Path) -> None:
    work = tmp_path / ".out.mkv.stylize"
    work.mkdir()
    (work / "chunk-00000.mkv").write_bytes(b"x")
    manifest = Manifest(work, {"job": 1})
    manifest.record(ChunkResult(0, "chunk-00000.mkv", 1, "0" * 64, 24, 0, 1.0, "node", 1))
    settled = _settled(ClusterError("out.mkv: encoding failed"), work, manifest)
    assert isinstance(settled, ClusterError)
    assert str(settled) == (f"out.mkv: encoding failed; 1 finished chunks are kept in {work}: the same command resumes "
                            "from them (remove that folder to start over)")
    assert (work / "chunk-00000.mkv").exists()
