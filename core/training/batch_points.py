"""The batch-level points of a run kept in memory: bounded, and summed up over the last batches."""

from __future__ import annotations

from collections.abc import Sequence

from core.training.events import Progress

MAX_POINTS = 2000  # per job in the server's memory; beyond it the older ones are thinned out


def add_point(points: tuple[Progress, ...], point: Progress, limit: int = MAX_POINTS) -> tuple[Progress, ...]:
    """`points` with `point` appended, at most `limit` long.

    Past `limit`, every second point of the older half is dropped: the whole run stays on the
    chart, each point where and as it was, at half the density for its first part (again and
    again, for a long run), and the newest points stay as they came.

    Raises:
        ValueError: for a `limit` below 4.
    """
    if limit < 4:
        raise ValueError(f"Received an invalid value for `limit`, expected at least 4. Received: limit={limit}")
    points = points + (point,)
    if len(points) <= limit:
        return points
    half = len(points) // 2
    return points[:half:2] + points[half:]


def recent_mean(points: Sequence[Progress], samples: int = 2000) -> tuple[float, float, int] | None:
    """`(loss, accuracy, images)`: the sample-weighted means of the last points covering `samples` images.

    Returns None without points. Points with no sample count (older records) weigh one each.
    """
    taken, loss_sum, accuracy_sum = 0, 0.0, 0.0
    for point in reversed(points):
        weight = point.samples or 1
        taken += weight
        loss_sum += point.loss * weight
        accuracy_sum += point.accuracy * weight
        if taken >= samples:
            break
    if not taken:
        return None
    return loss_sum / taken, accuracy_sum / taken, taken
