"""Whether a run's confidence means what it says: reliability diagram, expected calibration error, temperature scaling.

- `ece.py`: top-label reliability bins and the expected calibration error (ECE), by hand;
- `temperature.py`: temperature scaling, one number fitted on held-out predictions;
- `run_calibration.py`: a run's calibration, before and after a temperature fitted on its
  validation split, cached in the run folder (`calibration.json`).

May import: core.config, core.data, core.models, core.runs.
"""
