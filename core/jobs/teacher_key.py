"""The teacher's sign-in token: keyed by a secret the server keeps, so Sign out revokes every copy.

A signed-in browser keeps `HMAC(secret, generation, visitor id, password)` in a cookie. The
secret and the generation live in `teacher_key.json` in the runs directory: made once, atomically
(a hard link of a finished file, so two processes never make two), readable by the server's user
only (mode 0600). Sign out, by any teacher, adds one to the generation: every token made before,
a cookie copied to another browser included, stops working at that browser's next page run.
A password change ends them too (the password is part of the token). A damaged file is kept
aside (`core/runs/damaged_files.py`) and a new secret made, which also ends every sign-in.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import secrets
import tempfile
import threading
from pathlib import Path

from core.runs.damaged_files import keep_aside
from core.runs.store import resolve_runs_dir

KEY_FILE = "teacher_key.json"
SECRET_BYTES = 32
_lock = threading.Lock()  # one read-modify-write of the file at a time in this process


class TeacherKey:
    """Makes and checks teacher tokens for one runs directory and one password.

    Args:
        runs_dir: where `teacher_key.json` is kept (None = the default runs directory).
        password: the teacher's password (a token made under another password is not valid).
    """

    def __init__(self, runs_dir: str | os.PathLike | None, password: str):
        self.path = resolve_runs_dir(runs_dir) / KEY_FILE
        self._password = hashlib.sha256(password.encode()).digest()

    def token(self, visitor: str) -> str:
        """The token that signs `visitor` in as the teacher until the next Sign out: 64 hex digits."""
        secret, generation = self._read_or_create()
        return self._sign(secret, generation, visitor)

    def is_valid(self, token: str, visitor: str) -> bool:
        """Whether `token` signs `visitor` in now (made for this visitor, this password, since the last Sign out)."""
        if not token or not visitor:
            return False
        secret, generation = self._read_or_create()
        return hmac.compare_digest(token.encode(), self._sign(secret, generation, visitor).encode())

    def revoke_all(self) -> int:
        """End every teacher sign-in, in every browser; returns the new generation."""
        with _lock:
            secret, generation = self._read_or_create_locked()
            _write_private(self.path, {"secret": secret.hex(), "generation": generation + 1}, replace=True)
            return generation + 1

    def _sign(self, secret: bytes, generation: int, visitor: str) -> str:
        message = f"{generation}\n{visitor}\n".encode() + self._password
        return hmac.new(secret, message, hashlib.sha256).hexdigest()

    def _read_or_create(self) -> tuple[bytes, int]:
        with _lock:
            return self._read_or_create_locked()

    def _read_or_create_locked(self) -> tuple[bytes, int]:
        for _ in range(3):
            try:
                return _parse(self.path.read_bytes())
            except FileNotFoundError:
                pass
            except ValueError:  # damaged: kept for whoever looks; a new secret ends every sign-in
                keep_aside(self.path)
            self.path.parent.mkdir(parents=True, exist_ok=True)
            try:
                _write_private(self.path, {"secret": secrets.token_bytes(SECRET_BYTES).hex(), "generation": 0}, replace=False)
            except FileExistsError:
                continue  # another process made it first: read theirs
        return _parse(self.path.read_bytes())


def _parse(data: bytes) -> tuple[bytes, int]:
    """`(secret, generation)` from the file's bytes.

    Raises:
        ValueError: the file is not what `_write_private` writes.
    """
    value = json.loads(data)
    if not isinstance(value, dict):
        raise ValueError("not an object")
    secret, generation = bytes.fromhex(str(value.get("secret", ""))), value.get("generation")
    if len(secret) != SECRET_BYTES or not isinstance(generation, int) or isinstance(generation, bool) or generation < 0:
        raise ValueError("no 32-byte secret or no generation")
    return secret, generation


def _write_private(path: Path, value: dict, replace: bool) -> None:
    """Write `value` to `path` all at once, mode 0600; `replace=False` raises FileExistsError if `path` exists."""
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")  # mode 0600
    try:
        with os.fdopen(handle, "w") as file:
            json.dump(value, file)
            file.flush()
            os.fsync(file.fileno())
        if replace:
            os.replace(temporary, path)
        else:
            os.link(temporary, path)  # fails if another process made the file meanwhile
    finally:
        Path(temporary).unlink(missing_ok=True)
