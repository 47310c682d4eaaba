"""The rules of a shared server: who may manage what, and the limits that keep a class's queue fair.

A server runs in one of two modes:

- **local** (the default, `make run` on your own machine): one user, who owns everything; no
  limits beyond the queue's length.
- **hosted** (`MNIST_LAB_HOSTED=1`, or a teacher password set): many visitors. Each visitor (a
  browser, known by a cookie; see `dashboard/visitor.py`) has at most `jobs_per_visitor` trainings
  queued or running, and may stop, pause or delete only their own jobs and runs; a job's link
  shows its view to anyone, but gives no control. A job whose visitor has not been seen for
  `abandoned_after_seconds` leaves the queue, or stops if it was running or paused; a pause that
  holds the worker while others wait ends after `max_pause_seconds`. Where the web server can tell which
  visitors have a page connected, a queued job whose visitor has had none for `closed_tab_grace_seconds`
  leaves the queue. A training stops at
  `max_job_seconds` and may not ask for more than `max_epochs`. A teacher who signs in with the password manages everything.

Every setting comes from an environment variable (or the same key in `st.secrets`, which the
dashboard passes in); the defaults are in `SETTINGS` and the README.
"""

from __future__ import annotations

import hmac
import os
from collections.abc import Mapping
from dataclasses import dataclass

HOSTED_ENV = "MNIST_LAB_HOSTED"
TEACHER_PASSWORD_ENV = "MNIST_LAB_TEACHER_PASSWORD"
SETTINGS = {  # environment variable → (field, default when hosted)
    "MNIST_LAB_JOBS_PER_VISITOR": ("jobs_per_visitor", 1),
    "MNIST_LAB_MAX_EPOCHS": ("max_epochs", 30),
    "MNIST_LAB_MAX_JOB_MINUTES": ("max_job_minutes", 10.0),
    "MNIST_LAB_ABANDONED_AFTER_MINUTES": ("abandoned_after_minutes", 3.0),
    "MNIST_LAB_MAX_PAUSE_MINUTES": ("max_pause_minutes", 2.0),
    "MNIST_LAB_CLOSED_TAB_GRACE_SECONDS": ("closed_tab_grace_seconds", 20.0),
}
CLOSED_TAB_GRACE_SECONDS = SETTINGS["MNIST_LAB_CLOSED_TAB_GRACE_SECONDS"][1]  # a reload reconnects sooner

HEARTBEAT_SECONDS = 30.0  # an open page's "still here", at the most relaxed
HEARTBEATS_PER_LIMIT = 4  # so a visitor is never taken for gone between two of their page's heartbeats


class SharingLimitError(RuntimeError):
    """A request this server's sharing rules refuse; the message says what to do instead."""


@dataclass(frozen=True)
class SharingRules:
    """What a server allows; `SharingRules()` is the local, single-user one (no limits)."""

    hosted: bool = False
    jobs_per_visitor: int | None = None
    max_epochs: int | None = None
    max_job_minutes: float | None = None
    abandoned_after_minutes: float | None = None
    max_pause_minutes: float | None = None
    closed_tab_grace_seconds: float = CLOSED_TAB_GRACE_SECONDS  # no live page this long: the visitor closed it
    teacher_password: str | None = None

    @property
    def max_job_seconds(self) -> float | None:
        return None if self.max_job_minutes is None else self.max_job_minutes * 60

    @property
    def abandoned_after_seconds(self) -> float | None:
        return None if self.abandoned_after_minutes is None else self.abandoned_after_minutes * 60

    @property
    def max_pause_seconds(self) -> float | None:
        return None if self.max_pause_minutes is None else self.max_pause_minutes * 60

    @property
    def heartbeat_seconds(self) -> float | None:
        """How often an open page says "still here": a few times within the abandonment limit, at
        most every `HEARTBEAT_SECONDS`; None when nothing is ever abandoned (a local server)."""
        limit = self.abandoned_after_seconds
        return None if limit is None else min(HEARTBEAT_SECONDS, limit / HEARTBEATS_PER_LIMIT)

    @classmethod
    def from_settings(cls, settings: Mapping[str, object] | None = None) -> SharingRules:
        """The rules from `settings` (e.g. `st.secrets`) over the environment; local unless hosted.

        Raises:
            SharingLimitError: a setting is not a positive number, or the teacher's password is set but
                empty or blank (the message names it and the fix).
        """
        def setting(name: str):
            if settings is not None and name in settings:
                return settings[name]
            return os.environ.get(name)

        password = setting(TEACHER_PASSWORD_ENV)
        if password is not None and not str(password).strip():  # it would silently make the server local: no caps, no owners
            raise SharingLimitError(f"{TEACHER_PASSWORD_ENV} is set but empty, which would turn hosting off (no limits, "
                                    "anyone deletes anything). Set it to a password, or unset it for a local server.")
        hosted = str(setting(HOSTED_ENV) or "").strip().lower() in ("1", "true", "yes", "on") or password is not None
        if not hosted:
            return cls()
        values = {}
        for name, (field, default) in SETTINGS.items():
            raw = setting(name)
            if raw is None or str(raw).strip() == "":
                values[field] = default
                continue
            try:
                value = type(default)(float(raw)) if isinstance(default, int) else float(raw)
            except ValueError:
                value = None
            if value is None or value <= 0:
                raise SharingLimitError(f"{name}={str(raw)[:40]!r} is not a positive number. Set it to one "
                                        f"(the default is {default}), or unset it.")
            values[field] = value
        return cls(hosted=True, teacher_password=None if password is None else str(password), **values)

    def may_manage(self, owner: str | None, visitor: str | None, teacher: bool = False) -> bool:
        """Whether `visitor` may stop, pause, step or delete something `owner` started."""
        if not self.hosted or teacher:
            return True
        return owner is not None and visitor is not None and hmac.compare_digest(owner, visitor)

    def is_teacher_password(self, attempt: str) -> bool:
        """Whether `attempt` is the teacher's password (compared in constant time)."""
        if not self.teacher_password:
            return False
        return hmac.compare_digest(attempt.encode(), self.teacher_password.encode())

    def check_epochs(self, epochs: int) -> None:
        """Raises SharingLimitError when `epochs` exceeds this server's cap."""
        if self.max_epochs is not None and epochs > self.max_epochs:
            raise SharingLimitError(f"This server trains at most {self.max_epochs} epochs a run; you asked for {epochs}. "
                                    f"Lower Epochs to {self.max_epochs} or fewer.")

    def describe_caps(self) -> str | None:
        """The limits a visitor's training runs under, in a sentence; None when there are none."""
        if not self.hosted:
            return None
        limits = []
        if self.max_epochs is not None:
            limits.append(f"trains at most {self.max_epochs} epochs")
        if self.max_job_minutes is not None:
            limits.append(f"stops after {self.max_job_minutes:g} minutes")
        text = "Shared server: each training " + " and ".join(limits) if limits else "Shared server"
        if self.jobs_per_visitor is not None:
            count = "one training" if self.jobs_per_visitor == 1 else f"{self.jobs_per_visitor} trainings"
            text += f"; {count} per visitor at a time"
        return text + "."
