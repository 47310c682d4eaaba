"""Running trainings: the job interface, its executors, the dashboard's queue, and sweeps.

- `executor.py`: the one job interface (`JobRequest` in; events out; `Command`s to steer);
  `executors.py` picks one by name;
- `local_executor.py` + `worker_process.py`: warm worker processes on this machine (the default);
  `quiet_tensorflow_start.py`: a worker's TensorFlow import without its start-up lines printed twice;
- `ray_executor.py`: each job on a Ray cluster, its run folder mirrored back (Ray is optional);
- `training_jobs.py`: the server's job queue: a cap on concurrent runs, a FIFO queue, commands;
- `sharing.py`: a hosted server's rules: who may manage what, jobs per visitor, epoch/time caps;
- `sign_in_throttle.py`, `teacher_key.py`: the teacher's door: wrong passwords slow down; the sign-in token,
  keyed by a secret in the runs directory, that Sign out revokes everywhere;
- `memory_cap.py`: the memory cap per training: its setting, the refusal before Start, a stop's words;
- `queue_estimate.py`, `job_progress.py`: when a queued job starts, a job's progress in words;
- `poll_pace.py`: how often a page redraws the job it follows (quick when a change is due, slow in the queue);
- `shared_snapshot.py`: a value every session of a server shares, made again only when its source changed;
- `search_space.py`, `sweep.py`, `sweep_jobs.py`, `sweep_estimate.py`: Optuna sweeps over any executor, the
  dashboard's background sweeps, and how long one may take.

A new way to run jobs (another executor) implements `core.jobs.executor.Executor`; the worker
side trains with `core.runs.recorded_run.RecordedRun`.
May import: core.config, core.data, core.models, core.training, core.runs.
"""
