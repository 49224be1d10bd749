"""Atomic outputs: every file the project writes is written under a temporary name beside its final one, renamed to
it when complete, and removed on any failure (Ctrl-C included), so nothing half-written ever has the output's name."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from .errors import OutputError


class AtomicFile:
    """A temporary file beside ``path`` (created empty, with the permissions a new file gets under the umask) that
    becomes ``path`` on :meth:`commit` and disappears on :meth:`abort`. For outputs written over a long time, such as
    a video; :func:`atomic_file` is the same for one block of code."""

    def __init__(self, path: Path) -> None:
        self.path = path
        folder = path.parent if str(path.parent) else Path(".")
        try:
            fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".part", dir=folder)
        except FileNotFoundError as error:
            raise OutputError(f"{folder}: no such folder (create it first)") from error
        except OSError as error:
            raise OutputError(f"{path}: cannot write here ({error.strerror})") from error
        os.close(fd)
        self.tmp = Path(tmp)
        give_default_permissions(self.tmp)

    def commit(self) -> None:
        """Rename the temporary file to the output's name (replacing an older file of that name)."""
        try:
            os.replace(self.tmp, self.path)
        except BaseException:
            self.abort()
            raise

    def abort(self) -> None:
        """Remove the temporary file; nothing appears under the output's name."""
        self.tmp.unlink(missing_ok=True)


@contextmanager
def atomic_file(path: Path) -> Iterator[Path]:
    """The temporary path to write ``path``'s content to: renamed to ``path`` when the block ends normally, removed
    when it raises."""
    target = AtomicFile(path)
    try:
        yield target.tmp
    except BaseException:
        target.abort()
        raise
    target.commit()


def write_bytes_atomic(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically."""
    with atomic_file(path) as tmp:
        tmp.write_bytes(data)


def give_default_permissions(path: Path) -> None:
    """Give a temporary file (created 0600) the permissions a plain new file would get under the umask."""
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(path, 0o666 & ~umask)
