"""Wrong teacher passwords slow down: per visitor, and across the whole server.

A visitor (a browser's id) may mistype the password `free_failures` times; each wrong password
after that makes them wait twice as long as the last before the next try (`first_wait_seconds`,
then double, up to `max_wait_seconds`). Across every visitor, `server_failures` wrong passwords
within `server_window_seconds` make every sign-in wait until the oldest of them is out of the
window, so throwing cookies away for a fresh id buys nothing. A try during a wait is refused
without looking at the password. Nothing sleeps: the refusal says how long to wait.

Each wrong password is logged (the visitor id's first characters and the counts, never what was
typed: the password is never passed in here).
"""

from __future__ import annotations

import collections
import logging
import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

logger = logging.getLogger(__name__)

FREE_FAILURES = 3  # a teacher's typos, before any wait
FIRST_WAIT_SECONDS = 2.0  # after the first wrong password past the free ones; doubled for each one after
MAX_WAIT_SECONDS = 15 * 60.0
SERVER_FAILURES = 30  # wrong passwords from everyone within the window before every sign-in waits
SERVER_WINDOW_SECONDS = 10 * 60.0
MAX_VISITORS_KEPT = 10_000  # visitors remembered at once; the quietest are forgotten first
SHOWN_ID_CHARACTERS = 6  # of a visitor id, in the log


class SignInRefused(RuntimeError):
    """A sign-in refused before the password was looked at; `retry_after` is the wait in whole seconds."""

    def __init__(self, retry_after: int, server_wide: bool = False):
        self.retry_after = retry_after
        where = " on this server" if server_wide else ""
        super().__init__(f"Too many attempts{where}; try again in {retry_after} s.")


@dataclass
class _Failures:
    count: int  # wrong passwords in a row
    last: float  # when the last one was typed (the clock's seconds)


class SignInThrottle:
    """Counts wrong teacher passwords and says when the next try may come.

    Args:
        free_failures: wrong passwords a visitor may type before waits begin.
        first_wait_seconds: the wait after the first wrong password past the free ones; each next doubles it.
        max_wait_seconds: the longest wait for one visitor.
        server_failures: wrong passwords from all visitors within `server_window_seconds` that make every sign-in wait.
        server_window_seconds: the window of the server-wide count.
        clock: seconds, never going back (`time.monotonic` by default; tests pass their own).
    """

    def __init__(self, free_failures: int = FREE_FAILURES, first_wait_seconds: float = FIRST_WAIT_SECONDS,
                 max_wait_seconds: float = MAX_WAIT_SECONDS, server_failures: int = SERVER_FAILURES,
                 server_window_seconds: float = SERVER_WINDOW_SECONDS, clock: Callable[[], float] = time.monotonic):
        if free_failures < 0 or first_wait_seconds <= 0 or max_wait_seconds < first_wait_seconds or server_failures < 1:
            raise ValueError("Received invalid sign-in limits: expected free_failures >= 0, 0 < first_wait_seconds <= "
                             f"max_wait_seconds and server_failures >= 1. Received: free_failures={free_failures}, "
                             f"first_wait_seconds={first_wait_seconds}, max_wait_seconds={max_wait_seconds}, "
                             f"server_failures={server_failures}")
        self.free_failures = free_failures
        self.first_wait_seconds = first_wait_seconds
        self.max_wait_seconds = max_wait_seconds
        self.server_failures = server_failures
        self.server_window_seconds = server_window_seconds
        self._clock = clock
        self._lock = threading.Lock()
        self._visitors: collections.OrderedDict[str, _Failures] = collections.OrderedDict()  # least recent first
        self._server: collections.deque[float] = collections.deque()  # the times of the window's wrong passwords

    def wait_after(self, failures: int) -> float:
        """The wait, in seconds, after `failures` wrong passwords in a row from one visitor."""
        if failures <= self.free_failures:
            return 0.0
        return min(self.max_wait_seconds, self.first_wait_seconds * 2.0 ** (failures - self.free_failures - 1))

    def check(self, visitor: str) -> None:
        """Let `visitor` try a password now, or refuse.

        Raises:
            SignInRefused: the visitor, or the whole server, must wait (the message says how long).
        """
        with self._lock:
            now = self._clock()
            self._forget_old(now)
            record = self._visitors.get(visitor)
            if record is not None:
                left = record.last + self.wait_after(record.count) - now
                if left > 0:
                    raise SignInRefused(math.ceil(left))
            if len(self._server) >= self.server_failures:
                left = self._server[-self.server_failures] + self.server_window_seconds - now
                if left > 0:
                    raise SignInRefused(math.ceil(left), server_wide=True)

    def failed(self, visitor: str) -> int:
        """Count a wrong password from `visitor`; returns the whole seconds to wait before their next try (0: none)."""
        with self._lock:
            now = self._clock()
            self._forget_old(now)
            record = self._visitors.pop(visitor, None) or _Failures(0, now)
            record.count, record.last = record.count + 1, now
            self._visitors[visitor] = record  # now the most recent
            while len(self._visitors) > MAX_VISITORS_KEPT:
                self._visitors.popitem(last=False)
            self._server.append(now)
            wait = math.ceil(self.wait_after(record.count))
            on_server = len(self._server)
        logger.warning("Teacher sign-in failed: visitor %s… (%d wrong in a row; %d on this server in the last %g min)%s",
                       visitor[:SHOWN_ID_CHARACTERS], record.count, on_server, self.server_window_seconds / 60,
                       f"; their next try waits {wait} s" if wait else "")
        return wait

    def succeeded(self, visitor: str) -> None:
        """The right password: `visitor`'s count starts again (the server-wide count keeps its failures)."""
        with self._lock:
            self._visitors.pop(visitor, None)

    def _forget_old(self, now: float) -> None:
        while self._server and self._server[0] <= now - self.server_window_seconds:
            self._server.popleft()
        while self._visitors:  # a visitor quiet for longer than the longest wait starts again from zero
            oldest = next(iter(self._visitors.values()))
            if oldest.last > now - self.max_wait_seconds - self.server_window_seconds:
                break
            self._visitors.popitem(last=False)
