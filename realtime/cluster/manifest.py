"""The job's manifest: a JSON file in the work folder beside the output that lists the finished chunks with their
sha256, so a stopped run, started again with the same command, redoes only the rest."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from framestyle.atomic import write_bytes_atomic
from framestyle.errors import OutputError

from .task import ChunkResult, file_sha256

MANIFEST_NAME = "manifest.json"


class Manifest:
    """The finished chunks of the job described by ``job`` (input, settings, plan: anything that changes the
    chunk files). Chunks recorded by an earlier run of the same job are kept when their files are still there
    with the recorded checksum; a manifest of another job is set aside (its chunks are of no use)."""

    def __init__(self, work: Path, job: dict[str, Any]) -> None:
        self.path = work / MANIFEST_NAME
        self.job = job
        #: Chunk index -> what its task reported, for the chunks already finished.
        self.finished: dict[int, dict[str, Any]] = {}
        #: True when an earlier run's manifest of the same job was found.
        self.resumed = False
        #: The chunk length the job's plan was cut with (kept, so a rerun cuts the same chunks).
        self.chunk_seconds: float | None = None
        previous = self._read()
        if previous is not None and previous.get("job") == job:
            self.resumed = True
            self.chunk_seconds = previous.get("chunk_seconds")
            for key, entry in previous.get("chunks", {}).items():
                if _intact(work / entry["file"], entry):
                    self.finished[int(key)] = entry

    def _read(self) -> dict[str, Any] | None:
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return None
        except (OSError, ValueError):
            return None  # unreadable or half-written by something else: start over
        return data if isinstance(data, dict) else None

    def record(self, result: ChunkResult) -> None:
        """Add a finished chunk and write the manifest (atomically: a crash leaves the old or the new one)."""
        self.finished[result.index] = {"file": result.file, "bytes": result.bytes, "sha256": result.sha256,
                                       "frames": result.frames, "seconds": round(result.seconds, 3),
                                       "node": result.node}
        self.save()

    def save(self) -> None:
        """Write the manifest as it stands."""
        chunks = {str(key): value for key, value in sorted(self.finished.items())}
        data = {"job": self.job, "chunk_seconds": self.chunk_seconds, "chunks": chunks}
        try:
            write_bytes_atomic(self.path, json.dumps(data, indent=1).encode())
        except OSError as error:
            raise OutputError(f"{self.path}: cannot write the manifest ({error.strerror})") from error


def _intact(path: Path, entry: dict[str, Any]) -> bool:
    try:
        return path.stat().st_size == entry["bytes"] and file_sha256(path) == entry["sha256"]
    except (OSError, KeyError, TypeError):
        return False
