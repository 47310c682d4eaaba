"""The batch-level points of a run: when one is due, kept in memory bounded, and summed up over the last batches."""

from __future__ import annotations

from collections.abc import Sequence

from core.training.events import Progress

MAX_POINTS = 2000  # per job in the server's memory; beyond it the older ones are thinned out
POINTS_PER_EPOCH = 25  # marks an epoch is cut into: each one passed gives the curves a point, however short the epoch


def point_due(done: int, reported: int, steps_per_epoch: int, seconds_since: float, interval: float,
              points_per_epoch: int = POINTS_PER_EPOCH) -> bool:
    """Whether the batches trained so far in an epoch make a new batch-level point.

    A point is due when `interval` seconds have passed since the previous one (a long epoch gets
    a few a second), or when training passed one of the epoch's `points_per_epoch` marks since
    (a short epoch still gets about `points_per_epoch - 1`, whatever the machine's speed). The
    epoch's last batch never makes one: its `EpochEnd` comes next.

    Args:
        done: batches of the epoch trained so far (1-based count).
        reported: batches of the epoch at its previous point (0 before the first).
        steps_per_epoch: batches in the epoch.
        seconds_since: seconds since the previous point (`math.inf` before the epoch's first).
        interval: seconds between time-driven points; 0 = a point after every call.
        points_per_epoch: marks the epoch is cut into.

    Returns:
        True if a point is due now.
    """
    if done >= steps_per_epoch:
        return False
    if seconds_since >= interval:
        return True
    return done * points_per_epoch // steps_per_epoch > reported * points_per_epoch // steps_per_epoch


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
