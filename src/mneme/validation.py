"""Config validation, declared once per field.

A config dataclass states each field's valid values in the field's metadata and inherits
``validate()`` from ``Validated``::

    @dataclass(frozen=True)
    class NTMConfig(Validated):
        memory_size: int = field(default=128, metadata=at_least(1))
        controller: Literal["lstm", "feedforward"] = field(default="lstm", metadata=one_of())
        clip_controller: float | None = field(default=20.0, metadata=greater_than(0.0))

        def check(self) -> None:  # optional: rules that involve several fields
            ordered(self, "memory_size", "word_size")

``validate()`` checks the declared fields in order (recursing into fields that hold dataclasses),
then runs ``check()``. A bad value raises ``ConfigError``, both a ``ValueError`` and a
``UserError`` (the CLI prints one line and exits 2), naming the class and the field:
``NTMConfig.memory_size must be >= 1 (got 0)``. A field annotated ``X | None`` accepts None; a
field of a plain type (``int``, ``float``, ``bool``, ``str``, a ``Literal``, a tuple of them) must
hold one, so a ``config.json`` with ``"epochs": "ten"`` is named, not obeyed; ``one_of()``
without arguments reads its choices from the field's ``Literal`` annotation.
"""

from __future__ import annotations

import dataclasses
import functools
import types
import typing
from collections.abc import Callable, Mapping
from typing import Any, Literal

from mneme.errors import ConfigError

__all__ = ["ConfigError", "Rule", "Validated", "at_least", "each", "greater_than", "in_range",
           "invalid", "one_of", "ordered", "satisfies", "validate_config"]

_KEY = "mneme.validation"


@dataclasses.dataclass(frozen=True)
class Rule:
    """A field's constraint: ``test(value)`` holds for valid values, ``text`` names them (``>= 1``).

    ``test`` None: ``one_of()`` whose choices come from the annotation. ``each``: every element
    of a sequence is tested instead of the value."""

    text: str
    test: Callable[[Any], bool] | None
    each: bool = False


def _number(x: float) -> str:
    return f"{x:g}" if isinstance(x, float) else str(x)


def at_least(low: float) -> Mapping[str, Rule]:
    """Field metadata: the value is ``>= low``."""
    return {_KEY: Rule(f">= {_number(low)}", lambda v: v >= low)}


def greater_than(low: float) -> Mapping[str, Rule]:
    """Field metadata: the value is ``> low``."""
    return {_KEY: Rule(f"> {_number(low)}", lambda v: v > low)}


def in_range(low: float, high: float, *,
             closed: Literal["both", "left", "right", "neither"] = "both") -> Mapping[str, Rule]:
    """Field metadata: the value lies between ``low`` and ``high``; ``closed`` says which ends
    belong to the range (``"left"``: ``[low, high)``)."""
    if closed not in ("both", "left", "right", "neither"):
        raise ValueError(f"closed must be both, left, right or neither (got {closed!r})")
    left, right = closed in ("both", "left"), closed in ("both", "right")
    text = f"in {'[' if left else '('}{_number(low)}, {_number(high)}{']' if right else ')'}"
    return {_KEY: Rule(text, lambda v: (low <= v if left else low < v)
                       and (v <= high if right else v < high))}


def one_of(*choices: Any) -> Mapping[str, Rule]:
    """Field metadata: the value is one of ``choices``; none given: the ``Literal`` annotation's."""
    return {_KEY: _one_of(choices) if choices else Rule("", None)}


def satisfies(text: str, test: Callable[[Any], bool]) -> Mapping[str, Rule]:
    """Field metadata: ``test(value)`` holds; ``text`` names the valid values."""
    return {_KEY: Rule(text, test)}


def each(metadata: Mapping[str, Rule]) -> Mapping[str, Rule]:
    """Field metadata: every element of the (sequence) value passes ``metadata``'s rule."""
    return {_KEY: dataclasses.replace(metadata[_KEY], each=True)}


def _one_of(choices: tuple[Any, ...]) -> Rule:
    return Rule(f"one of {', '.join(map(repr, choices))}", lambda v: v in choices)


def invalid(config: Any, name: str, requirement: str, *, got: str | None = None) -> ConfigError:
    """The error for ``config.<name>``: ``"{Class}.{name} {requirement} (got {got})"``;
    ``got`` defaults to the field's value (repr)."""
    got = repr(getattr(config, name)) if got is None else got
    return ConfigError(f"{type(config).__name__}.{name} {requirement} (got {got})")


def ordered(config: Any, low: str, high: str) -> None:
    """Cross-field rule: ``config.<high> >= config.<low>``; skipped while either is None."""
    lo, hi = getattr(config, low), getattr(config, high)
    if lo is not None and hi is not None and hi < lo:
        raise invalid(config, high, f"must be >= {low} = {lo}")


@functools.cache
def _hints(cls: type) -> dict[str, Any]:
    try:
        return typing.get_type_hints(cls)
    except (NameError, TypeError):  # an annotation that cannot be resolved: no type checks
        return {}


def _wrong_type(hint: Any, value: Any) -> str | None:
    """What a value of type ``hint`` must be when ``value`` is not one (``"an integer"``), else
    None. Only plain types are checked: bool, int, float, str, Literal and tuples of them."""
    if hint is bool:
        return None if isinstance(value, bool) else "true or false"
    if hint is int:
        return None if hasattr(type(value), "__index__") else "an integer"
    if hint is float:
        ok = isinstance(value, int | float) and not isinstance(value, bool)
        return None if ok else "a number"
    if hint is str:
        return None if isinstance(value, str) else "a string"
    if typing.get_origin(hint) is Literal:
        choices = typing.get_args(hint)
        return None if value in choices else f"one of {', '.join(map(repr, choices))}"
    if typing.get_origin(hint) is tuple:
        if not isinstance(value, tuple):
            return "a list"
        args = typing.get_args(hint)
        if len(args) == 2 and args[1] is Ellipsis:
            wrong = next((w for v in value if (w := _wrong_type(args[0], v))), None)
            return f"a list of {wrong.removeprefix('a ').removeprefix('an ')}s" if wrong else None
    return None


def _without_none(hint: Any) -> tuple[Any, bool]:
    """(X, True) for X | None; (hint, True) for X | Y | None; else (hint, False)."""
    if typing.get_origin(hint) in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(hint) if a is not type(None)]
        if len(args) < len(typing.get_args(hint)):
            return (args[0] if len(args) == 1 else hint), True
    return hint, False


def _passes(rule: Rule, value: Any) -> bool:
    try:
        return bool(rule.test(value))  # type: ignore[misc]
    except TypeError:  # e.g. a string compared with a number
        return False


def validate_config(config: Any, *, name: str | None = None) -> None:
    """Check every declared field of the dataclass ``config``; recurse into dataclass fields
    (through their ``validate()`` when they have one, so their own cross-field rules run too).

    Raises:
        ConfigError: ``"{name}.{field} must be ... (got ...)"``; ``name`` defaults to the class
            name.
    """
    cls: type = type(config)
    label = name or cls.__name__
    for f in dataclasses.fields(config):
        value = getattr(config, f.name)
        rule = f.metadata.get(_KEY)
        hint, optional = _without_none(_hints(cls).get(f.name, Any))
        if value is None and optional:
            continue
        wrong = None if value is None and hint is Any else _wrong_type(hint, value)
        if wrong is not None:
            raise ConfigError(f"{label}.{f.name} must be {wrong} (got {value!r})")
        if rule is not None:
            if rule.test is None:
                if typing.get_origin(hint) is not Literal:
                    raise TypeError(f"{label}.{f.name}: one_of() needs choices or a Literal type")
                rule = _one_of(typing.get_args(hint))
            where = f"{label}.{f.name} must"
            for item in value if rule.each else (value,):
                if not _passes(rule, item):
                    raise ConfigError(f"{where} {'all ' if rule.each else ''}be {rule.text} "
                                      f"(got {item!r})")
        if dataclasses.is_dataclass(value) and not isinstance(value, type):
            nested = getattr(value, "validate", None)
            if callable(nested):
                nested()
            else:
                validate_config(value)


class Validated:
    """Mixin of config dataclasses: ``validate()`` runs the declared field checks, then
    ``check()``, which a config overrides for rules across fields."""

    def validate(self) -> None:
        """Raise ``ConfigError`` naming the first invalid field."""
        validate_config(self)
        self.check()

    def check(self) -> None:
        """Cross-field rules (e.g. ``max_length >= min_length``); none by default."""
