"""Training one model: the streaming trainer, the events it yields, and how long an epoch takes.

- `trainer.py`: `Trainer`, a generator of progress and per-epoch metrics for any zoo model;
- `streaming_callback.py`: the Keras callback that feeds it from `fit`;
- `events.py`: what a run streams (`Progress` points, `EpochEnd`, `LearningRateChanged`,
  `TrainingEnd`, `RunDone`) and the run states;
- `training_start.py`: where a training continues from a checkpoint (a fork, a resume): weights, optimizer state,
  epochs done, early stopping's count, the one-cycle cycles;
- `patience.py`: early stopping's count, carried across a checkpoint;
- `one_cycle_plan.py`: which one-cycle cycles a continued run trains with, in steps and in words;
- `batch_points.py`: a run's batch-level points kept in memory, bounded, and their recent mean;
- `epoch_estimate.py`: an epoch's duration, said before it starts;
- `memory_estimate.py`: the peak memory of the worker that will train a config, said before it starts;
- `training_health.py`: not learning, an exploding loss or overfitting, read from the epochs so far.

Knows nothing of run folders or job queues.
May import: core.config, core.data, core.models.
"""
