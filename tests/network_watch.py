"""Watch and refuse a Python process tree's outside network calls, from inside: an audit hook.

`watch_environment(directory, log_path)` gives the environment variables that make every Python
process started with them (a server, and the workers it spawns, which inherit its environment)
load a `sitecustomize` with an audit hook (PEP 578). The hook appends one JSON line to
`log_path` when a process starts watching and for each name lookup (`socket.getaddrinfo`,
`gethostbyname`, ...) and each `connect` / `sendto` / `sendmsg`, before the call is made. A call
that names an outside host (a name other than localhost, an address off 127.0.0.0/8 and ::1) is
logged with `"outside": true` and refused (`OSError`), so nothing leaves the machine even when the
code under test would have sent it: a test can show the watch catching a request safely.

The hook sees every socket call made through Python's `socket` module, which is how Streamlit,
its web server, `requests` and `urllib` reach the network.
"""

from __future__ import annotations

import json
from pathlib import Path

LOG_ENV = "NETWORK_WATCH_LOG"
SITECUSTOMIZE = r'''
"""Test-only (tests/network_watch.py): log socket lookups and connects to $NETWORK_WATCH_LOG, refuse outside ones."""
import errno as _errno
import ipaddress as _ipaddress
import json as _json
import os as _os
import sys as _sys

_LOG = _os.environ.get("NETWORK_WATCH_LOG")
_LOOKUPS = {"socket.getaddrinfo", "socket.gethostbyname", "socket.gethostbyname_ex", "socket.gethostbyaddr"}
_SENDS = {"socket.connect", "socket.sendto", "socket.sendmsg"}
_LOCAL_NAMES = {None, "", "localhost", "ip6-localhost"}


def _is_local(host):
    if isinstance(host, bytes):
        host = host.decode(errors="replace")
    if host in _LOCAL_NAMES:
        return True
    try:
        address = _ipaddress.ip_address(str(host).split("%")[0])
    except ValueError:
        return False
    return address.is_loopback or address.is_unspecified  # unspecified: a bind to any address


def _write(entry):
    entry["pid"] = _os.getpid()
    entry["argv"] = " ".join(_sys.argv)[:160]
    descriptor = _os.open(_LOG, _os.O_WRONLY | _os.O_APPEND | _os.O_CREAT, 0o644)
    try:
        _os.write(descriptor, (_json.dumps(entry, default=repr) + "\n").encode())
    finally:
        _os.close(descriptor)


def _watch(event, args):
    if event in _LOOKUPS:
        host = args[0]
    elif event in _SENDS:
        address = args[-1] if event != "socket.sendmsg" else args[1]
        if not isinstance(address, tuple):  # a Unix socket's path: local
            return
        host = address[0]
    else:
        return
    outside = not _is_local(host)
    _write({"event": event, "host": host if isinstance(host, (str, type(None))) else repr(host), "outside": outside})
    if outside:
        raise OSError(_errno.ENETUNREACH, f"refused by the test's network watch: {event} {host!r}")


if _LOG:
    _write({"event": "watch.start", "outside": False})
    _sys.addaudithook(_watch)
'''


def watch_environment(directory: Path, log_path: Path) -> dict[str, str]:
    """Write the hook's `sitecustomize.py` into `directory`; returns the environment that loads it.

    Returns:
        `{"PYTHONPATH": directory, "NETWORK_WATCH_LOG": log_path}`, to add to a process's environment.
    """
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "sitecustomize.py").write_text(SITECUSTOMIZE)
    return {"PYTHONPATH": str(directory), LOG_ENV: str(log_path)}


def logged_calls(log_path: Path) -> list[dict]:
    """Every line the hook wrote, in order (`watch.start` lines say which processes were watched)."""
    if not log_path.is_file():
        return []
    return [json.loads(line) for line in log_path.read_text().splitlines()]


def outside_calls(log_path: Path) -> list[dict]:
    """The calls that named an outside host (each was refused)."""
    return [entry for entry in logged_calls(log_path) if entry["outside"]]
