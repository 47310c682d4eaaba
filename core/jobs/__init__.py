"""Running trainings for a server: the job queue, its executors and each job's progress.

- `training_jobs.py`: background jobs with a cap on concurrent runs and a FIFO queue;
- `job_progress.py`: a job's progress in words and fractions, and its time left.

A new way to run jobs (another executor, a sweep) goes here, on top of `core.runs.recorded_run`.
May import: core.config, core.data, core.models, core.training, core.runs.
"""
