"""What differs between runs being compared: the settings that are not the same in all of them, and
short legend labels made from those ("relu · he_normal · adam 0.001" vs "sigmoid · preset · sgd 0.1").
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

IGNORED = {"name"}  # bookkeeping, never a hyperparameter
LABEL_ORDER = ("model", "activation", "initializer", "hidden_units", "dropout", "optimizer", "learning_rate",
               "schedule", "batch_size", "epochs", "train_size", "augment_shift", "augment_rotation", "augment_zoom",
               "pixel_scale", "validation", "seed")
MAX_LABEL_PARTS = 4


SIGNIFICANT_DIGITS = 3  # a sweep's learning rate 0.6623316566142311 reads 0.662


def _shown(value) -> str:
    if isinstance(value, float):
        return f"{value:.{SIGNIFICANT_DIGITS}g}"
    return str(value)


def learning_rate_story(learning_rate: Any, changes: Sequence[Any] = ()) -> str:
    """A run's learning rate as it trained: `"0.001"`, or `"0.001 → 0.01 in epoch 2"` where it was changed mid-run.

    Args:
        learning_rate: the config's rate.
        changes: `LearningRateChanged` events or their records from `controls.jsonl`, in order; records
            without a numeric `learning_rate` and `epoch` (a damaged line) are left out.
    """
    story = _shown(learning_rate)
    for change in changes:
        record = change.to_dict() if hasattr(change, "to_dict") else change
        rate, epoch = record.get("learning_rate"), record.get("epoch")
        if not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in (rate, epoch)):
            continue
        where = "at" if not record.get("fraction") else "in"  # at its start, or part-way through
        story += f" → {rate:.3g} {where} epoch {int(epoch)}"
    return story


def as_trained(config: Mapping, changes: Sequence[Any] = ()) -> dict:
    """`config` with its `learning_rate` told as it trained (`learning_rate_story`) when it was changed mid-run,
    so legends and "What differs" show the change; the config itself when it was not."""
    story = learning_rate_story(config.get("learning_rate"), changes)
    if story == _shown(config.get("learning_rate")):
        return dict(config)
    return {**config, "learning_rate": story}


def differing_settings(configs: Mapping[str, Mapping]) -> dict[str, dict[str, str]]:
    """For runs `{name: config}`: `{setting: {name: value shown}}` for every setting not equal in all of them.

    A setting a run's config lacks (an older or damaged run) shows as "—" for it. One run, or runs
    that agree on everything, give `{}`.
    """
    if len(configs) < 2:
        return {}
    keys = sorted({key for config in configs.values() for key in config} - IGNORED,
                  key=lambda k: (LABEL_ORDER.index(k) if k in LABEL_ORDER else len(LABEL_ORDER), k))
    differing = {}
    for key in keys:
        values = {name: config.get(key, "—") for name, config in configs.items()}
        if len({repr(v) for v in values.values()}) > 1:
            differing[key] = {name: _shown(value) for name, value in values.items()}
    return differing


def difference_labels(configs: Mapping[str, Mapping], titles: Mapping[str, str] | None = None) -> dict[str, str]:
    """A legend label per run: its title if it has one, else what sets it apart (up to four settings,
    e.g. "relu · adam 0.001"), else its name (runs that agree on everything)."""
    titles = titles or {}
    differing = differing_settings(configs)
    labels = {}
    for name in configs:
        if titles.get(name):
            labels[name] = titles[name]
            continue
        parts = []
        for key, values in differing.items():
            if key in ("learning_rate",) and "optimizer" in differing:
                continue  # folded into the optimizer's part below
            if key == "optimizer":
                rate = configs[name].get("learning_rate")
                parts.append(f"{values[name]} {_shown(rate)}" if rate is not None else values[name])
            elif key == "learning_rate":
                parts.append(f"lr {values[name]}")
            elif key in ("activation", "initializer", "model", "optimizer", "schedule", "pixel_scale", "validation"):
                parts.append(values[name])
            else:
                parts.append(f"{key.replace('_', ' ')} {values[name]}")
        labels[name] = " · ".join(parts[:MAX_LABEL_PARTS]) if parts else name
    if len(set(labels.values())) < len(labels):  # two runs with the same label: their names tell them apart
        seen: dict[str, int] = {}
        for label in labels.values():
            seen[label] = seen.get(label, 0) + 1
        labels = {name: (f"{label} ({name})" if seen[label] > 1 else label) for name, label in labels.items()}
    return labels

