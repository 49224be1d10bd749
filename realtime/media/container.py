"""Opening an input file with PyAV, the one place that knows how the supported PyAV releases differ in doing so.

A tag that is not UTF-8 (a title in Latin-1 or CP1251, as old muxers wrote them) must not stop a file from being
read. PyAV 19 and later always decode tags as UTF-8 with ``surrogateescape`` (such bytes come through as lone
surrogates, and are written back byte for byte); PyAV 18 and earlier decode them strictly unless told otherwise
(``metadata_errors``, an argument PyAV 19 removed), so there such bytes become U+FFFD.
"""

from __future__ import annotations

from pathlib import Path

import av

#: The major version of the PyAV in use.
PYAV_MAJOR = int(av.__version__.split(".", 1)[0])


def open_input(path: str | Path) -> av.container.InputContainer:
    """Open ``path`` for reading, whatever the encoding of its tags (PyAV's errors propagate)."""
    if PYAV_MAJOR < 19:
        return av.open(str(path), metadata_errors="replace")
    return av.open(str(path))
