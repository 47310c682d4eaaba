"""The FLOP count `bench/epoch_speed.py` divides by, against the figure worked out by hand."""

import importlib.util
from pathlib import Path

import pytest

import core  # noqa: F401  (before anything imports TensorFlow)
from core.config.train_config import preset_config

pytest.importorskip("keras")

from core.models.keras_models import build_keras_model  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]


def load_epoch_speed(monkeypatch):
    monkeypatch.syspath_prepend(str(ROOT / "bench"))  # as when run as `python bench/epoch_speed.py`
    spec = importlib.util.spec_from_file_location("epoch_speed", ROOT / "bench/epoch_speed.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_cnn_epoch_is_five_teraflop(monkeypatch):
    """conv 5x5 1->32 at 28x28, conv 5x5 32->64 at 14x14, dense 3136->1024->10; x3 for training, x60,000."""
    epoch_speed = load_epoch_speed(monkeypatch)
    model = build_keras_model(preset_config("cnn"), steps_per_epoch=1)
    by_hand = 2 * (28 * 28 * 32 * 25 * 1 + 14 * 14 * 64 * 25 * 32 + 3136 * 1024 + 1024 * 10)
    assert epoch_speed.forward_flops(model) == by_hand
    assert epoch_speed.training_flops_per_epoch(model) / 1e12 == pytest.approx(5.0, abs=0.05)
