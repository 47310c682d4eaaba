"""Which one-cycle schedule a continued run trains with (a resume, a fork), in optimizer steps and in words.

A one-cycle run warms up over its first quarter and anneals to almost zero by its last step. Its
cycles, `((start_step, end_step), ...)`, are saved with each checkpoint (`core.runs.checkpoints`). A
continuation from a checkpoint taken after `steps_done` optimizer steps, training until `steps_end`:

- keeps the cycles that began before `steps_done` (those that began later were planned by a training
  whose epochs after the checkpoint are dropped);
- goes on with the cycle it was in as that cycle was planned: an interrupted run resumed to its planned
  epoch count trains each batch at the rate the uninterrupted run had;
- gives the steps past the last kept cycle a new cycle of their own, warm-up included: a finished run
  resumed for N more epochs runs a new cycle over those N epochs, where it would otherwise train them
  all at the old cycle's end value (~1e-6: hardly training at all).

Nothing here imports TensorFlow: the Train and Runs pages say it in words before and while it trains.
"""

from __future__ import annotations

Cycles = tuple[tuple[int, int], ...]


def fresh_cycles(total_steps: int) -> Cycles:
    """A new run's one cycle over its `total_steps` optimizer steps."""
    return ((0, max(int(total_steps), 1)),)


def continued_cycles(recorded, steps_done: int, steps_end: int) -> Cycles:
    """The cycles of a training that continues from a checkpoint.

    Args:
        recorded: the checkpoint's cycles, `((start_step, end_step), ...)`; empty for a checkpoint of a run
            with a constant rate (a fork that turns one-cycle on), or one saved before cycles were.
        steps_done: the optimizer steps trained before the checkpoint.
        steps_end: the optimizer step the continuation ends at.

    Returns:
        The cycles it trains with: the recorded ones that began before `steps_done`, and a new one from
        the last one's end (or from `steps_done`) to `steps_end` where the continuation goes past them.
    """
    kept = tuple((int(start), int(end)) for start, end in recorded if int(start) < steps_done)
    start = max(kept[-1][1], steps_done) if kept else steps_done
    return kept + ((start, steps_end),) if steps_end > start else kept


def _epoch_at(step: int, steps_per_epoch: int) -> int:
    return round(step / max(steps_per_epoch, 1))


def _epochs(first: int, last: int) -> str:
    return f"epoch {first}" if first == last else f"epochs {first}-{last}"


def describe_continued_cycles(cycles, steps_done: int, steps_per_epoch: int) -> str:
    """`continued_cycles`' result in words, in epochs (1-based), e.g. "one-cycle: a new cycle over epochs 4-5
    (its cycle over epochs 1-3 had ended)"."""
    done_epoch = _epoch_at(steps_done, steps_per_epoch)
    current = [(start, end) for start, end in cycles if start < steps_done < end]
    new = [(start, end) for start, end in cycles if start >= steps_done]
    parts = []
    if current:
        start, end = current[0]
        parts.append(f"goes on with its cycle over {_epochs(_epoch_at(start, steps_per_epoch) + 1, _epoch_at(end, steps_per_epoch))}"
                     " as planned")
    for start, end in new:
        parts.append(f"a new cycle over {_epochs(_epoch_at(start, steps_per_epoch) + 1, _epoch_at(end, steps_per_epoch))}"
                     " (warm-up to the learning rate, then annealing)")
    if not parts:
        return f"one-cycle: its cycle ended at epoch {done_epoch}; the rate stays at its end value"
    text = "one-cycle: " + ", then ".join(parts)
    if not current and any(end <= steps_done for _, end in cycles):
        text += f"; its cycle had ended at epoch {done_epoch}"
    return text
