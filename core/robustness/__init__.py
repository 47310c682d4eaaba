"""How a trained model holds up when its test digits are rotated, shifted, scaled, thinned or thickened, noisy or faded.

- `perturbations.py`: each perturbation, its levels and what it does to a batch of digits
  (scipy.ndimage), level by level, the unchanged level first;
- `sweep.py`: a run's test accuracy at every level of every perturbation, through the run's
  saved NumPy model (no TensorFlow), with a strip of perturbed sample digits per level, cached
  atomically in the run folder (`robustness.json`, `robustness_samples.npz`);
- `report_process.py`: the process that computes a run's report (its calibration, then its
  sweep) off the web server, and leaves its progress in the run folder.

May import: core.config, core.data, core.models, core.runs, core.calibration.
"""
