"""Files the server found damaged are kept aside under a new name, never overwritten or deleted.

A ledger (`owners.json`, `notes.json`), `sweeps.db` or the teacher's key that cannot be read is
renamed to `<name>.damaged-<UTC time>` in the same folder, so whoever looks can repair it or
delete it, and a fresh file starts in its place. `kept_copies` lists what was kept, for a page to
say so for as long as the copy is there.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

DAMAGED_MARK = ".damaged-"


def keep_aside(path: str | os.PathLike) -> Path:
    """Rename the damaged file `path` to `<name>.damaged-<UTC time>` beside it, never over another file.

    The new name is made with a hard link and the old one removed after, so the bytes are under at
    least one of the two names at every moment, and an existing kept copy is never replaced (where
    the file system has no hard links, a rename to a name that is free).

    Args:
        path: the damaged file.

    Returns:
        The path it is kept at now.

    Raises:
        OSError: if the file cannot be renamed (it is then left where it was).
    """
    path = Path(path)
    stamp = time.strftime("%Y%m%d-%H%M%S", time.gmtime())
    for attempt in range(100):
        kept = path.with_name(f"{path.name}{DAMAGED_MARK}{stamp}" + (f"-{attempt}" if attempt else ""))
        try:
            os.link(path, kept, follow_symlinks=False)
        except FileExistsError:
            continue
        except OSError:  # a file system without hard links: a rename to a name that is free now
            if kept.exists():
                continue
            os.rename(path, kept)
            return kept
        path.unlink()
        return kept
    raise FileExistsError(f"{path.name} could not be kept aside: 100 kept copies from this second already exist.")


def kept_copies(folder: str | os.PathLike, name: str) -> list[Path]:
    """The kept copies of `name` in `folder` (plain files only), oldest first; [] when there are none."""
    try:
        with os.scandir(folder) as entries:
            found = [Path(entry.path) for entry in entries
                     if entry.name.startswith(name + DAMAGED_MARK) and entry.is_file(follow_symlinks=False)]
    except OSError:
        return []
    return sorted(found)
