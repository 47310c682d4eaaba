"""Pick an executor by name: `--executor`, else `$MNIST_LAB_EXECUTOR`, else `local`."""

from __future__ import annotations

import os

from core.jobs.executor import Executor

EXECUTOR_ENV = "MNIST_LAB_EXECUTOR"
EXECUTORS = ("local", "ray")


def executor_name(name: str | None = None) -> str:
    """`name`, else `$MNIST_LAB_EXECUTOR`, else `local`.

    Raises:
        ValueError: for an unknown executor, naming the known ones.
    """
    chosen = (name or os.environ.get(EXECUTOR_ENV) or "local").strip().lower()
    if chosen not in EXECUTORS:
        raise ValueError(f"Unknown executor {chosen!r} (from --executor or ${EXECUTOR_ENV}). Pass one of {list(EXECUTORS)}.")
    return chosen


def make_executor(name: str | None = None, slots: int | None = None, mnist_path: str | None = None) -> Executor:
    """The executor called `name` (see `executor_name`), ready to start jobs.

    Args:
        slots: local worker processes (default `$MNIST_LAB_MAX_CONCURRENT_TRAININGS`, else 1);
            for Ray, the cluster's CPUs decide.
        mnist_path: the MNIST file local workers pre-load.
    """
    chosen = executor_name(name)
    if chosen == "ray":
        from core.jobs.ray_executor import RayExecutor  # Ray is optional: imported only when asked for

        return RayExecutor()
    from core.jobs.local_executor import LocalExecutor

    return LocalExecutor(workers=slots, mnist_path=mnist_path)
