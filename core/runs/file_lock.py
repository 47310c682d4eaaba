"""A lock across processes for a file that several servers on one runs folder change.

Several servers may share one runs folder (README, "several servers, one class"); each reads a
ledger such as `class.json`, changes it and writes it back whole. A lock inside one process does
not stop another process from reading the same old file in between, and then one of the two
changes is lost. `locked` holds `fcntl.flock` on a lock file beside the changed file
(`.class.json.lock` beside `class.json`) for the read-modify-write only. The lock file is never
removed (removing it would let a late process lock a file that no other process will open again);
it stays empty.

`flock` is advisory and POSIX-only: this module needs Linux (or another Unix); the locks hold
between processes of one machine, and on a network file system only where it passes `flock` on
(NFSv4 does; an older NFS mount may not). The same-process threads are kept apart by a
`threading.Lock` as well, so a thread never waits on a lock its own process holds.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import threading
from collections.abc import Iterator
from pathlib import Path

LOCK_SUFFIX = ".lock"

_threads = threading.Lock()  # one holder per process at a time; flock keeps the other processes out


def lock_path(path: str | os.PathLike) -> Path:
    """The lock file of `path`: `.<name>.lock` beside it (hidden, so no listing of the folder shows it)."""
    path = Path(path)
    return path.with_name(f".{path.name}{LOCK_SUFFIX}")


@contextlib.contextmanager
def locked(path: str | os.PathLike) -> Iterator[None]:
    """Hold the cross-process lock of `path` (an exclusive `flock` on its lock file) while the block runs.

    Args:
        path: the file about to be read, changed and written back; its folder is made if missing.

    Raises:
        OSError: the folder or the lock file cannot be made or opened (a read-only runs folder); the
            message names the lock file and the fix. Nothing was changed.
    """
    lock = lock_path(path)
    with _threads:
        try:
            lock.parent.mkdir(parents=True, exist_ok=True)
            handle = os.open(lock, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        except OSError as error:
            raise OSError(error.errno, f"The lock file {lock} cannot be opened ({error.strerror or error}); "
                                       f"nothing was changed. Make {lock.parent} writable by the server.") from error
        try:
            fcntl.flock(handle, fcntl.LOCK_EX)  # waits while another process holds it
            yield
        finally:
            os.close(handle)  # closing the only descriptor releases the lock, even if the block raised
