"""A server's memory cap per training: the setting, the refusal before Start, and the words of a stop.

`MNIST_LAB_JOB_MEMORY_LIMIT_MB` caps the resident size of the worker that trains a job. Before a
job queues, its estimated peak (`core.training.memory_estimate`) is checked against the cap, and a
job that would cross it is refused with the estimate, the cap and the fix. While a job runs, the
local executor reads its worker's resident size from /proc and stops a worker that crosses the
cap (`core.jobs.local_executor`); the run then says `stopped` with `exceeded_reason`.
"""

from __future__ import annotations

import os

from core.config.train_config import TrainConfig
from core.jobs.sharing import SharingLimitError
from core.training.memory_estimate import memory_problem

JOB_MEMORY_LIMIT_ENV = "MNIST_LAB_JOB_MEMORY_LIMIT_MB"
# A warm worker idles at ~600-700 MiB; 3,000 MiB leaves a training ~2.3 GiB, so a server with a
# second worker (a sweep's) and the web server stay under ~7 GiB of a 24 GiB, 2-core machine.
DEFAULT_JOB_MEMORY_LIMIT_MB = 3000.0
FIX = "lower the batch size, the hidden units or the training images"


class MemoryCapError(SharingLimitError):
    """A training this server's memory cap refuses before it starts; the message names the estimate, the cap and the fix."""


def job_memory_limit_mb() -> float:
    """The cap per training in MiB, from `$MNIST_LAB_JOB_MEMORY_LIMIT_MB` (0 = none), else `DEFAULT_JOB_MEMORY_LIMIT_MB`.

    Raises:
        MemoryCapError: the setting is not a number of MiB (the message names it and the fix).
    """
    text = os.environ.get(JOB_MEMORY_LIMIT_ENV, "").strip()
    if not text:
        return DEFAULT_JOB_MEMORY_LIMIT_MB
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not 0 <= value < float("inf"):
        raise MemoryCapError(f"This server's settings need fixing: {JOB_MEMORY_LIMIT_ENV}={text[:40]!r} is not a number of "
                             f"MiB. Set it to one (the default is {DEFAULT_JOB_MEMORY_LIMIT_MB:g}; 0 = no cap), or unset it.")
    return value


def check_memory_cap(config: TrainConfig, limit_mb: float | None = None) -> None:
    """Refuse `config` if its estimated peak memory is over the cap.

    Args:
        config: the run about to start.
        limit_mb: the cap in MiB (None = `job_memory_limit_mb()`; 0 = no cap).

    Raises:
        MemoryCapError: naming the estimate, the cap and the fix.
    """
    problem = memory_problem(config, job_memory_limit_mb() if limit_mb is None else limit_mb)
    if problem:
        raise MemoryCapError(problem)


def memory_refusal(config: TrainConfig) -> str | None:
    """Why the Train form's `config` cannot start on this server (its memory, or a bad cap setting); None if it can."""
    try:
        check_memory_cap(config)
    except MemoryCapError as error:
        return str(error)
    return None


def exceeded_reason(resident_mb: float, limit_mb: float) -> str:
    """What a run stopped at the cap says (after "stopped: " on the Train page)."""
    return (f"it needed more than {limit_mb:,.0f} MiB, this server's cap per training (its worker reached "
            f"{resident_mb:,.0f} MiB and was replaced); {FIX}")
