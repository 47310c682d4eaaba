"""Saved runs and the models a view can open: the run store, its writer, and the shipped model.

- `store.py`: run folders under the runs directory: list, read, check, load, delete;
- `run_writer.py` and `atomic_files.py`: write a run folder as training goes, never half a file;
- `recorded_run.py`: a training that records itself into a run folder (trainer + writer), new, forked or resumed;
- `checkpoints.py`: a checkpoint per epoch within a disk budget; `continuations.py`: fork and resume's checks,
  and what a resume cuts back;
- `run_table.py`: the Runs page's table of runs;
- `run_owners.py`: which visitor started each run (a hosted server's `owners.json`);
- `run_notes.py`: each run's title and note (`notes.json`); `json_ledger.py`: the one read-and-update of such a file;
  `file_lock.py`: its lock across processes (several servers on one runs folder);
- `damaged_files.py`: a damaged file kept aside as `<name>.damaged-<time>`, never overwritten;
- `pretrained.py`: the small model that ships with the project;
- `model_sources.py`: every trained model a view can pick (the shipped one and each run's).
- `feature_files.py`: a run's embedding map and digit statistics, written when it ends or on request;
- `epoch_map_files.py`: a run's map at each kept epoch (`embedding_epochs.npz`), from its checkpoints, after its map.

May import: core.config, core.data, core.models, core.training, core.embedding, core.novelty.
"""
