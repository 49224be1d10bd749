"""Shared-memory frame slots for clients on the same machine: the server creates a file in /dev/shm (mode 0600),
both sides map it, frames and their replies are written in place, and only headers travel on the socket."""

from __future__ import annotations

import mmap
import os
import re
import secrets
from pathlib import Path

from framestyle.errors import StyleError

SHM_DIR = Path("/dev/shm")
_NAME = re.compile(r"^framestyle-[0-9A-Za-z_-]{1,200}$")


def shm_available() -> bool:
    """Whether this machine has a writable /dev/shm (Linux)."""
    return SHM_DIR.is_dir() and os.access(SHM_DIR, os.W_OK)


class SlotMemory:
    """``slots`` buffers of ``slot_bytes`` each in one shared mapping; the creator removes the file on close."""

    def __init__(self, name: str, slots: int, slot_bytes: int, mapping: mmap.mmap, owner: bool) -> None:
        self.name = name
        self.slots = slots
        self.slot_bytes = slot_bytes
        self._mapping = mapping
        self._owner = owner

    @classmethod
    def create(cls, slots: int, slot_bytes: int) -> SlotMemory:
        """A new, zeroed mapping under a random name only this user can open."""
        name = f"framestyle-{os.getpid()}-{secrets.token_hex(8)}"
        path = SHM_DIR / name
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            os.ftruncate(fd, slots * slot_bytes)
            mapping = mmap.mmap(fd, slots * slot_bytes)
        except OSError:
            path.unlink(missing_ok=True)
            raise
        finally:
            os.close(fd)
        return cls(name, slots, slot_bytes, mapping, owner=True)

    @classmethod
    def attach(cls, name: str, slots: int, slot_bytes: int) -> SlotMemory:
        """Map the slots a server created and named in its WELCOME."""
        if not _NAME.match(name):
            raise StyleError(f"the server named an unexpected shared memory segment {name!r}")
        try:
            fd = os.open(SHM_DIR / name, os.O_RDWR)
        except OSError as error:
            raise StyleError(f"cannot open shared memory {name!r}: {error.strerror}") from error
        try:
            if os.fstat(fd).st_size < slots * slot_bytes:
                raise StyleError(f"shared memory {name!r} is smaller than the server said")
            mapping = mmap.mmap(fd, slots * slot_bytes)
        finally:
            os.close(fd)
        return cls(name, slots, slot_bytes, mapping, owner=False)

    def slot(self, index: int) -> memoryview:
        """The writable bytes of slot ``index``."""
        if not 0 <= index < self.slots:
            raise IndexError(f"slot {index} is outside 0..{self.slots - 1}")
        return memoryview(self._mapping)[index * self.slot_bytes:(index + 1) * self.slot_bytes]

    def close(self) -> None:
        """Unmap (once no view of a slot is left) and, for the creator, remove the file."""
        if self._owner:
            (SHM_DIR / self.name).unlink(missing_ok=True)
            self._owner = False
        try:
            self._mapping.close()
        except BufferError:
            pass  # a view of a slot is still alive somewhere; the mapping goes when it does
