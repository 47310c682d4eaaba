"""Writes that are all-or-nothing: a reader never sees a half-written file."""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike, suffix: str = ".tmp") -> Iterator[Path]:
    """Yield a temporary path beside `path`; on success it replaces `path` in one rename.

    Args:
        path: the final file.
        suffix: the temporary file's ending (Keras insists on `.keras` for models).

    On any error the temporary file is removed and `path` is left as it was.
    """
    path = Path(path)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=suffix)
    os.close(handle)
    os.chmod(temporary, 0o644)  # mkstemp's 0600 would hide runs from other users of a shared server
    temporary = Path(temporary)
    try:
        yield temporary
        with open(temporary, "rb+") as written:
            os.fsync(written.fileno())
        os.replace(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)


def write_bytes_atomic(path: str | os.PathLike, data: bytes) -> None:
    with atomic_path(path) as temporary:
        temporary.write_bytes(data)


def write_json_atomic(path: str | os.PathLike, value) -> None:
    write_bytes_atomic(path, json.dumps(value, indent=2, sort_keys=True).encode())
