"""A study's parameter space, validated against the strategy's own parameter rules.

A space maps parameter names to one of
    {"type": "int", "low": 5, "high": 50, "step": 5}
    {"type": "float", "low": 0.5, "high": 3.0, "step": 0.5, "log": false}
    {"type": "categorical", "choices": ["sma", "ema"]}
Every name must be a parameter of the strategy; every bound and choice must pass that
parameter's own field (its type, min and max); and at least one combination (with the
fixed parameters) must pass the strategy's cross-field rules (fast < slow, ...). A
combination a trial draws that breaks a cross-field rule is recorded as an infeasible
trial, with the strategy's message.
"""

from __future__ import annotations

import itertools
import math
import random
from dataclasses import dataclass
from typing import Any

import optuna
from rest_framework import serializers

from prediction.signals import SIGNAL_STRATEGIES
from trading.strategies.params import PARAMS_BY_KIND
from xquant.errors import ValidationError

TYPES = ("int", "float", "categorical")
#: A grid larger than this is refused: say a step, or use random or TPE.
MAX_GRID = 100_000


def params_serializer_class(strategy: str) -> type[serializers.Serializer]:
    if strategy in SIGNAL_STRATEGIES:
        return SIGNAL_STRATEGIES[strategy].params_serializer
    if strategy in PARAMS_BY_KIND:
        return PARAMS_BY_KIND[strategy]
    raise ValidationError(
        f"Unknown strategy {strategy!r}. Signal strategies: {', '.join(SIGNAL_STRATEGIES)}; "
        f"trading strategies: {', '.join(PARAMS_BY_KIND)}.",
        extra={"fields": {"strategy": [f"Unknown strategy {strategy!r}."]}},
    )


def _bad(name: str, message: str) -> ValidationError:
    return ValidationError(
        f"Parameter space, {name}: {message}", extra={"fields": {f"space.{name}": [message]}}
    )


def _field_check(field: serializers.Field, name: str, value: Any, what: str) -> None:
    try:
        field.run_validation(value)
    except serializers.ValidationError as exc:
        detail = exc.detail if isinstance(exc.detail, list) else [exc.detail]
        raise _bad(name, f"{what} {value!r} is not allowed: {' '.join(map(str, detail))}") from None


def _number(spec: dict, key: str, name: str, kind: str) -> float | int:
    value = spec.get(key)
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise _bad(name, f"{key} must be a number.")
    if kind == "int" and not float(value).is_integer():
        raise _bad(name, f"{key} must be a whole number for an int parameter.")
    return int(value) if kind == "int" else float(value)


@dataclass(frozen=True)
class Space:
    strategy: str
    params: dict[str, dict[str, Any]]
    fixed: dict[str, Any]

    def as_json(self) -> dict[str, Any]:
        return self.params

    def suggest(self, trial: optuna.Trial) -> dict[str, Any]:
        out = dict(self.fixed)
        for name, spec in self.params.items():
            if spec["type"] == "int":
                out[name] = trial.suggest_int(name, spec["low"], spec["high"], step=spec["step"])
            elif spec["type"] == "float":
                out[name] = trial.suggest_float(
                    name, spec["low"], spec["high"], step=spec.get("step"), log=spec["log"]
                )
            else:
                out[name] = trial.suggest_categorical(name, spec["choices"])
        return out

    def values(self, name: str) -> list[Any] | None:
        """Every value of a parameter, for a grid (None: a continuous float)."""
        spec = self.params[name]
        if spec["type"] == "categorical":
            return list(spec["choices"])
        step = spec.get("step")
        if step is None:
            return None
        count = math.floor((spec["high"] - spec["low"]) / step + 1e-9) + 1
        vals = [spec["low"] + k * step for k in range(count)]
        return [int(v) for v in vals] if spec["type"] == "int" else [round(v, 12) for v in vals]

    def grid(self) -> dict[str, list[Any]]:
        grid = {}
        for name in self.params:
            vals = self.values(name)
            if vals is None:
                raise _bad(name, "a grid needs a step for every float parameter.")
            grid[name] = vals
        size = math.prod(len(v) for v in grid.values())
        if size > MAX_GRID:
            raise ValidationError(
                f"The grid has {size:,} points, more than {MAX_GRID:,}: use larger steps, "
                "or the random or TPE sampler.",
                extra={"fields": {"sampler": ["Grid too large."]}},
            )
        return grid

    def grid_size(self) -> int:
        return math.prod(len(v) for v in self.grid().values())


def strategy_params_check(strategy: str, params: dict[str, Any]) -> dict[str, Any]:
    """The strategy's validated parameters; ValidationError with its own message."""
    serializer = params_serializer_class(strategy)(data=params)
    if serializer.is_valid():
        return dict(serializer.validated_data)
    messages = []
    for field, errors in serializer.errors.items():
        errs = errors if isinstance(errors, list) else [errors]
        messages.append(f"{field}: {' '.join(map(str, errs))}")
    raise ValidationError(
        f"Invalid {strategy} parameters: {'; '.join(messages)}",
        extra={"fields": {"params": messages}},
    )


def space_build(
    *, strategy: str, space: dict[str, Any], fixed: dict[str, Any] | None = None, seed: int = 0
) -> Space:
    """Validate a space against the strategy's parameter rules (ValidationError, 400)."""
    fields = params_serializer_class(strategy)().fields
    fixed = dict(fixed or {})
    if not isinstance(space, dict) or not space:
        raise ValidationError(
            "The parameter space needs at least one parameter.",
            extra={"fields": {"space": ["At least one parameter."]}},
        )
    clean: dict[str, dict[str, Any]] = {}
    for name, spec in space.items():
        if name not in fields:
            raise _bad(name, f"not a parameter of {strategy}. Allowed: {', '.join(fields)}.")
        if name in fixed:
            raise _bad(name, "is both searched and fixed.")
        field = fields[name]
        if not isinstance(spec, dict) or spec.get("type") not in TYPES:
            raise _bad(name, f"type must be one of {', '.join(TYPES)}.")
        kind = spec["type"]
        if kind == "categorical":
            choices = spec.get("choices")
            if not isinstance(choices, list) or not choices:
                raise _bad(name, "choices must be a non-empty list.")
            if len({repr(c) for c in choices}) != len(choices):
                raise _bad(name, "choices repeat.")
            for c in choices:
                if not (c is None or isinstance(c, bool | int | float | str)):
                    raise _bad(name, "choices must be numbers, strings, booleans or null.")
                _field_check(field, name, c, "choice")
            clean[name] = {"type": kind, "choices": list(choices)}
            continue
        if kind == "int" and not isinstance(field, serializers.IntegerField):
            raise _bad(name, "is not a whole-number parameter; use float or categorical.")
        if kind == "float" and not isinstance(
            field, serializers.FloatField | serializers.DecimalField | serializers.IntegerField
        ):
            raise _bad(name, "is not a number parameter; use categorical.")
        low, high = _number(spec, "low", name, kind), _number(spec, "high", name, kind)
        if low > high:
            raise _bad(name, f"low {low} is above high {high}.")
        step = spec.get("step", 1 if kind == "int" else None)
        if step is not None:
            step = _number({"step": step}, "step", name, kind)
            if step <= 0:
                raise _bad(name, "step must be positive.")
        log = bool(spec.get("log", False))
        if log and (low <= 0 or (step not in (None, 1) and kind == "float")):
            raise _bad(name, "a log scale needs low > 0 and no step.")
        for bound, what in ((low, "low"), (high, "high")):
            _field_check(field, name, str(bound) if kind == "float" else bound, what)
        entry = {"type": kind, "low": low, "high": high, "step": step, "log": log}
        if kind == "float" and isinstance(field, serializers.DecimalField) and step is None:
            raise _bad(name, "a decimal parameter needs a step (its values are exact).")
        clean[name] = entry
    result = Space(strategy=strategy, params=clean, fixed=fixed)
    _feasible_somewhere(result, seed)
    return result


def _feasible_somewhere(space: Space, seed: int) -> None:
    """At least one combination passes the strategy's own rules: the grid's corners
    and middles, then random draws. Otherwise the first refusal is the message."""
    rng = random.Random(seed)
    axes = {}
    for name, spec in space.params.items():
        vals = space.values(name)
        if vals is None:
            vals = [spec["low"], (spec["low"] + spec["high"]) / 2, spec["high"]]
        axes[name] = vals
    corner_axes = [sorted({0, len(v) // 2, len(v) - 1}) for v in axes.values()]
    candidates = [
        {n: axes[n][i] for n, i in zip(axes, pick, strict=True)}
        for pick in itertools.islice(itertools.product(*corner_axes), 500)
    ]
    candidates += [{n: rng.choice(v) for n, v in axes.items()} for _ in range(200)]
    first_error = None
    for combo in candidates:
        try:
            strategy_params_check(space.strategy, {**space.fixed, **combo})
            return
        except ValidationError as exc:
            first_error = first_error or exc
    raise ValidationError(
        f"No combination of the parameter space passes {space.strategy}'s rules; for "
        f"example: {first_error.message if first_error else 'none'}",
        extra={"fields": {"space": ["No valid combination."]}},
    )
