"""One value every session of a server shares, made again only when what it is made from changed.

A page that polls (a fragment with `run_every`) runs once per open tab: forty tabs on the class board
each made the same board from the same ledger and the same queue every two seconds. A
`SharedSnapshot` makes it once: the first session to ask after its source changed makes it, the
others (asking meanwhile, or later with the same version) get that one. Its source's versions are
the caller's: a file's stamp, a counter that changes with every change (`TrainingJobs.version`), or
a tuple of them. A change of `version` is taken at once (a teacher's action shows on the next
draw); a change of `live_version` alone (a training's next point) once the snapshot is
`min_age_seconds` old.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

Value = TypeVar("Value")


class SharedSnapshot(Generic[Value]):
    """A value shared by every caller, made again when its versions changed.

    Args:
        min_age_seconds: a snapshot this young is reused even when its `live_version` changed (a live
            training changes the queue's version many times a second; a board redrawn every two
            seconds needs it made at most once a second). 0 = made again at every change.
        max_age_seconds: a snapshot this old is made again even when its version did not change
            (for values that also depend on the clock, such as a queue's waiting times).
        clock: seconds, monotonic (tests pass their own).

    Raises:
        ValueError: if an age is negative, or `max_age_seconds` is below `min_age_seconds`.
    """

    def __init__(self, min_age_seconds: float = 0.0, max_age_seconds: float = math.inf,
                 clock: Callable[[], float] = time.monotonic):
        if min_age_seconds < 0 or max_age_seconds < 0:
            raise ValueError("`min_age_seconds` and `max_age_seconds` must be 0 or more. Received: "
                             f"min_age_seconds={min_age_seconds}, max_age_seconds={max_age_seconds}")
        if max_age_seconds < min_age_seconds:
            raise ValueError("`max_age_seconds` must be at least `min_age_seconds`. Received: "
                             f"min_age_seconds={min_age_seconds}, max_age_seconds={max_age_seconds}")
        self.min_age_seconds, self.max_age_seconds, self._clock = min_age_seconds, max_age_seconds, clock
        self._lock = threading.Lock()  # one maker at a time: the others wait for its value, not make their own
        self._made: tuple[Hashable, Hashable, float, Value] | None = None  # (version, live version, when, value)
        self.made_count = 0  # how many times a value was made (for tests and benchmarks)

    def get(self, version: Hashable, make: Callable[[], Value], live_version: Hashable = None) -> Value:
        """The shared value for these versions: the one made last if it still holds, else `make()`'s.

        Args:
            version: what the value is made from, as something that changes when that changes; any change
                makes the value again.
            make: makes the value. It runs under the snapshot's lock, so the callers that ask meanwhile wait
                for its value instead of making their own; it must not ask this snapshot itself. An error in
                it reaches the caller, and the last value made stays as it was.
            live_version: what changes often (a training's points); its change alone makes the value again
                only once the last one is `min_age_seconds` old.
        """
        with self._lock:
            now = self._clock()
            if self._made is not None:
                made_version, made_live_version, made_at, value = self._made
                age = now - made_at
                if (made_version == version and age < self.max_age_seconds
                        and (made_live_version == live_version or age < self.min_age_seconds)):
                    return value
            value = make()
            self._made = (version, live_version, now, value)
            self.made_count += 1
            return value
