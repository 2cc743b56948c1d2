"""Writing a file so that a reader never sees half of it."""

from __future__ import annotations

import os
from pathlib import Path


def write_atomically(path: Path, data: str | bytes) -> None:
    """Write `data` beside `path` under a name of this process's, then rename it over `path`:
    readers in other processes see the old file or the new one, whole."""
    path = Path(path)
    partial = path.with_suffix(f".{os.getpid()}.tmp")
    if isinstance(data, bytes):
        partial.write_bytes(data)
    else:
        partial.write_text(data)
    partial.replace(path)
