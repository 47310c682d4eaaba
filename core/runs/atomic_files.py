"""Writes that are all-or-nothing: a reader never sees a half-written file."""

from __future__ import annotations

import contextlib
import json
import os
import re
import tempfile
import time
from collections.abc import Iterable, Iterator
from pathlib import Path

TEMPORARY_SUFFIXES = (".tmp", ".keras", ".npz")  # the endings `atomic_path`'s callers pass
STALE_TEMPORARY_SECONDS = 600.0  # no write takes this long: a temporary file older than this was orphaned


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


def temporary_pattern(name: str) -> re.Pattern:
    """The names `atomic_path` gives the temporary files of `name`: `.{name}.` + mkstemp's 8 characters + a suffix."""
    suffixes = "|".join(re.escape(suffix) for suffix in TEMPORARY_SUFFIXES)
    return re.compile(rf"\.{re.escape(name)}\.[a-z0-9_]{{8}}(?:{suffixes})")


def remove_stale_temporaries(folder: str | os.PathLike, names: Iterable[str],
                             older_than: float = STALE_TEMPORARY_SECONDS, now: float | None = None) -> list[Path]:
    """Remove the temporary files that a process killed mid-write left beside the files `names`.

    Only plain files (never links or folders) whose name is exactly `atomic_path`'s temporary
    name for one of `names`, and untouched for `older_than` seconds, are removed: a write going
    on now, and every real file, are left alone.

    Args:
        folder: the folder the files were written in.
        names: the final files' names, e.g. `("model.keras", "predictions.npz")`.
        older_than: seconds since the temporary file was last written.
        now: the current time (`time.time()` when None).

    Returns:
        The paths removed.
    """
    patterns = [temporary_pattern(name) for name in names]
    now = time.time() if now is None else now
    removed = []
    with os.scandir(folder) as entries:
        for entry in entries:
            if not entry.name.startswith(".") or not any(pattern.fullmatch(entry.name) for pattern in patterns):
                continue
            if not entry.is_file(follow_symlinks=False) or now - entry.stat(follow_symlinks=False).st_mtime < older_than:
                continue
            Path(entry.path).unlink(missing_ok=True)
            removed.append(Path(entry.path))
    return removed


def write_bytes_atomic(path: str | os.PathLike, data: bytes) -> None:
    with atomic_path(path) as temporary:
        temporary.write_bytes(data)


def write_json_atomic(path: str | os.PathLike, value) -> None:
    write_bytes_atomic(path, json.dumps(value, indent=2, sort_keys=True).encode())
