"""A sweep's search space, from text: `name=low:high[:log]` ranges and `name=a,b,c` lists.

Each knob is a `TrainConfig` field. A range is of the field's own type (`batch_size=32:256` is a
range of integers, `learning_rate=1e-4:1e-1:log` of floats sampled on a log scale); a list is a
categorical choice whose items are coerced to the field's type (`optimizer=adam,sgd`,
`batch_size=64,128,256`). Text fields and true/false fields take lists only. The same text comes
from `--search` on the command line and from the Sweep page's fields.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from core.config.train_config import FIELD_TYPES, ConfigError, TrainConfig, coerce
from core.config.train_form import FORM_FIELDS

NOT_SWEPT = ("model",)  # a sweep trains one model; pick it with the sweep's own `model`
MAX_CHOICES = 50  # a list longer than this is almost surely a mistake (and a slow sampler)
LOG_FLAG = "log"


@dataclass(frozen=True)
class Range:
    """Values between `low` and `high` (both included), of the field's type; `log`: on a log scale."""

    name: str
    low: int | float
    high: int | float
    log: bool = False

    @property
    def kind(self) -> str:
        return FIELD_TYPES[self.name]

    def text(self) -> str:
        return f"{self.name}={self.low}:{self.high}" + (f":{LOG_FLAG}" if self.log else "")


@dataclass(frozen=True)
class Choice:
    """One of `choices`, each already of the field's type."""

    name: str
    choices: tuple[Any, ...]

    def text(self) -> str:
        return f"{self.name}=" + ",".join(str(choice) for choice in self.choices)


Knob = Range | Choice


def _example(name: str) -> str:
    """A well-formed search for `name`, for error messages."""
    kind = FIELD_TYPES[name]
    if kind == "float":
        return f"{name}=1e-4:1e-1:log or {name}=0.001,0.01"
    if kind == "int":
        return f"{name}=32:256 or {name}=64,128,256"
    if kind == "bool":
        return f"{name}=true,false"
    return f"{name}=" + ",".join(map(str, FORM_FIELDS[name].choices[:2])) + f" (any of {list(FORM_FIELDS[name].choices)})"


def parse_knob(text: str) -> Knob:
    """One search, `name=low:high[:log]` or `name=a,b,c`, as a `Range` or a `Choice`.

    Args:
        text: e.g. `"learning_rate=1e-4:1e-1:log"`, `"batch_size=64,128,256"`, `"optimizer=adam,sgd"`.

    Returns:
        A `Range` (int or float by the field's type) or a `Choice` of values of the field's type.

    Raises:
        ConfigError: naming the knob, the text received and a well-formed example.
    """
    if isinstance(text, str) and text.strip() in FIELD_TYPES and text.strip() not in NOT_SWEPT:
        name = text.strip()
        raise ConfigError(f"The search {text!r} gives `{name}` no values. Pass `{name}=LOW:HIGH[:log]` or `{name}=a,b,c`, "
                          f"e.g. {_example(name)}.")
    if not isinstance(text, str) or "=" not in text:
        raise ConfigError(
            f"Received an invalid search {text!r}: expected `name=low:high[:log]` or `name=a,b,c`, "
            "e.g. learning_rate=1e-4:1e-1:log or batch_size=64,128,256."
        )
    name, _, spec = (part.strip() for part in text.partition("="))
    if name in NOT_SWEPT:
        raise ConfigError(f"`{name}` cannot be searched over: a sweep trains one model. Pick it with the sweep's `model`.")
    if name not in FIELD_TYPES:
        raise ConfigError(f"Unknown knob `{name}` in search {text!r}. Pass one of {sorted(set(FIELD_TYPES) - set(NOT_SWEPT))}.")
    if not spec:
        raise ConfigError(f"The search for `{name}` is empty. Pass e.g. {_example(name)}.")
    if ":" in spec:
        return _parse_range(name, spec)
    return _parse_choice(name, spec)


def _parse_range(name: str, spec: str) -> Range:
    kind = FIELD_TYPES[name]
    if kind not in ("int", "float"):
        raise ConfigError(
            f"`{name}` takes a list of values, not a range. Received: {name}={spec!r}. Pass e.g. {_example(name)}."
        )
    parts = [part.strip() for part in spec.split(":")]
    log = len(parts) == 3 and parts[2].lower() == LOG_FLAG
    if len(parts) not in (2, 3) or (len(parts) == 3 and not log):
        raise ConfigError(
            f"Received an invalid range for `{name}`: {spec!r}. Pass `{name}=LOW:HIGH` or `{name}=LOW:HIGH:log`, "
            f"e.g. {_example(name)}."
        )
    try:
        low, high = (float(part) for part in parts[:2])
    except ValueError:
        raise ConfigError(
            f"Received an invalid range for `{name}`: {spec!r}; its ends must be numbers. Pass e.g. {_example(name)}."
        ) from None
    if kind == "int":
        if not (low.is_integer() and high.is_integer()):
            raise ConfigError(f"`{name}` is an integer; its range needs integer ends. Received: {name}={spec!r}.")
        low, high = int(low), int(high)
    if not low < high:
        raise ConfigError(
            f"Received an invalid range for `{name}`: {spec!r}; LOW must be below HIGH. "
            f"Pass e.g. {name}={high}:{low}" + (":log" if log else "") + f", or one value to fix it: {name}={low}."
        )
    if log and low <= 0:
        raise ConfigError(f"A log-scale range for `{name}` needs LOW > 0. Received: {name}={spec!r}. Drop `:log` or raise LOW.")
    return Range(name, low, high, log)


def _parse_choice(name: str, spec: str) -> Choice:
    items = [item.strip() for item in spec.split(",")]
    if any(not item for item in items):
        raise ConfigError(f"The list for `{name}` has an empty item: {spec!r}. Pass values separated by commas, e.g. {_example(name)}.")
    if len(items) > MAX_CHOICES:
        raise ConfigError(f"The list for `{name}` has {len(items)} values; pass at most {MAX_CHOICES}, or a range.")
    values = []
    for item in items:
        value = coerce(name, item)  # ConfigError naming the knob and the item
        if value not in values:
            values.append(value)
    return Choice(name, tuple(values))


def parse_search_space(texts: Iterable[str]) -> dict[str, Knob]:
    """Several searches, one per knob, keyed by knob name (in the order given).

    Raises:
        ConfigError: for a malformed search, an unknown knob, or a knob searched twice.
    """
    space: dict[str, Knob] = {}
    for text in texts:
        knob = parse_knob(text)
        if knob.name in space:
            raise ConfigError(f"`{knob.name}` is searched twice ({space[knob.name].text()!r} and {text!r}). Pass one search per knob.")
        space[knob.name] = knob
    if not space:
        raise ConfigError("The search space is empty. Pass at least one search, e.g. learning_rate=1e-4:1e-1:log.")
    return space


def check_against(space: dict[str, Knob], base: TrainConfig) -> None:
    """Check that each list value and each range end is a valid value of its knob on top of `base`.

    Combinations are not checked (a `batch_size` larger than `train_size`, say): such a trial fails
    on its own, with the config's message.

    Raises:
        ConfigError: naming the knob and the config's own reason.
    """
    for knob in space.values():
        values = knob.choices if isinstance(knob, Choice) else (knob.low, knob.high)
        for value in values:
            try:
                base.replace(**{knob.name: value})
            except ConfigError as error:
                raise ConfigError(f"The search `{knob.text()}` reaches a value the training refuses: {error}") from None



def searches_and_fixed(texts: dict[str, str]) -> tuple[list[str], dict[str, str]]:
    """Split a form's knob texts: a range or a list is a search, one value fixes the knob, blank keeps the preset.

    Args:
        texts: knob name → what the visitor typed, e.g. `{"learning_rate": "1e-4:1e-1:log", "epochs": "3"}`.

    Returns:
        `(searches, fixed)`: texts such as `"learning_rate=1e-4:1e-1:log"` for `parse_search_space`,
        and knob → value (still text) to fix for every trial.
    """
    searches, fixed = [], {}
    for name, text in texts.items():
        text = (text or "").strip()
        if not text:
            continue
        if ":" in text or "," in text:
            searches.append(f"{name}={text}")
        else:
            fixed[name] = text
    return searches, fixed
