"""mneme.validation: declared field checks, cross-field rules and the configs that use them."""

from __future__ import annotations

import dataclasses
import importlib
import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import pytest

import mneme
from mneme.errors import ConfigError, UserError
from mneme.validation import (
    Rule,
    Validated,
    at_least,
    each,
    greater_than,
    in_range,
    invalid,
    one_of,
    ordered,
    validate_config,
)


def _exact(message: str) -> str:
    return "^" + re.escape(message) + "$"


# -- the helpers at their boundaries ------------------------------------------------------------
@dataclass(frozen=True)
class Probe(Validated):
    """One field per helper; every default is valid."""

    count: int = field(default=1, metadata=at_least(1))
    rate: float = field(default=0.5, metadata=greater_than(0.0))
    both: float = field(default=0.0, metadata=in_range(0.0, 1.0))
    left: float = field(default=0.0, metadata=in_range(0.0, 1.0, closed="left"))
    right: float = field(default=1.0, metadata=in_range(0.0, 1.0, closed="right"))
    neither: float = field(default=0.5, metadata=in_range(0.0, 1.0, closed="neither"))
    kind: str = field(default="a", metadata=one_of("a", "b"))
    mode: Literal["soft", "hard"] = field(default="soft", metadata=one_of())
    maybe_mode: Literal["x", "y"] | None = field(default=None, metadata=one_of())
    size: int | None = field(default=None, metadata=at_least(1))
    lengths: tuple[int, ...] = field(default=(), metadata=each(at_least(2)))
    free: float = -1.0


@pytest.mark.parametrize(("name", "good", "bad", "message"), [
    ("count", 1, 0, "must be >= 1 (got 0)"),
    ("count", 7, -3, "must be >= 1 (got -3)"),
    ("rate", 1e-9, 0.0, "must be > 0 (got 0.0)"),
    ("rate", 2.0, -1.0, "must be > 0 (got -1.0)"),
    ("rate", 2.0, math.nan, "must be > 0 (got nan)"),
    ("both", 0.0, -0.1, "must be in [0, 1] (got -0.1)"),
    ("both", 1.0, 1.1, "must be in [0, 1] (got 1.1)"),
    ("left", 0.0, 1.0, "must be in [0, 1) (got 1.0)"),
    ("left", 0.999, -1e-9, "must be in [0, 1) (got -1e-09)"),
    ("right", 1.0, 0.0, "must be in (0, 1] (got 0.0)"),
    ("right", 1e-9, 1.5, "must be in (0, 1] (got 1.5)"),
    ("neither", 1e-9, 0.0, "must be in (0, 1) (got 0.0)"),
    ("neither", 0.999, 1.0, "must be in (0, 1) (got 1.0)"),
    ("kind", "b", "c", "must be one of 'a', 'b' (got 'c')"),
    ("mode", "hard", "sparse", "must be one of 'soft', 'hard' (got 'sparse')"),
    ("maybe_mode", "y", "z", "must be one of 'x', 'y' (got 'z')"),
    ("size", 1, 0, "must be >= 1 (got 0)"),
    ("lengths", (2, 9), (3, 1, 0), "must all be >= 2 (got 1)"),
])
def test_each_helper_accepts_and_rejects_at_its_boundary(name, good, bad, message) -> None:
    Probe(**{name: good}).validate()
    with pytest.raises(ConfigError, match=_exact(f"Probe.{name} {message}")):
        Probe(**{name: bad}).validate()


def test_in_range_refuses_an_unknown_closed() -> None:
    with pytest.raises(ValueError, match="closed"):
        in_range(0, 1, closed="open")  # type: ignore[arg-type]


def test_defaults_and_undeclared_fields_pass() -> None:
    Probe().validate()
    Probe(free=-1e9).validate()
    assert validate_config(Probe()) is None


def test_one_of_reads_the_choices_from_the_literal_annotation() -> None:
    with pytest.raises(ConfigError, match=r"'soft', 'hard'"):
        Probe(mode="gru").validate()  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match=r"'x', 'y'"):
        Probe(maybe_mode="w").validate()  # type: ignore[arg-type]

    @dataclass(frozen=True)
    class NoLiteral(Validated):
        name: str = field(default="a", metadata=one_of())

    with pytest.raises(TypeError, match="Literal"):
        NoLiteral().validate()


def test_none_passes_only_where_the_annotation_allows_it() -> None:
    Probe(size=None, maybe_mode=None).validate()
    with pytest.raises(ConfigError, match=_exact("Probe.rate must be a number (got None)")):
        Probe(rate=None).validate()  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match=_exact("Probe.count must be an integer (got None)")):
        Probe(count=None).validate()  # type: ignore[arg-type]


def test_int_fields_must_hold_integers() -> None:
    with pytest.raises(ConfigError, match=_exact("Probe.count must be an integer (got 2.5)")):
        Probe(count=2.5).validate()  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match=_exact("Probe.size must be an integer (got '3')")):
        Probe(size="3").validate()  # type: ignore[arg-type]
    Probe(rate=3).validate()  # an int is a fine float


def test_a_value_of_the_wrong_type_is_named_before_any_comparison() -> None:
    with pytest.raises(ConfigError, match=_exact("Probe.rate must be a number (got 'fast')")):
        Probe(rate="fast").validate()  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match=_exact("Probe.rate must be a number (got True)")):
        Probe(rate=True).validate()  # type: ignore[arg-type]


def test_plain_fields_without_rules_are_type_checked() -> None:
    @dataclass(frozen=True)
    class Plain(Validated):
        name: str = "a"
        flag: bool = False
        sizes: tuple[int, ...] = (1, 2)

    Plain().validate()
    for field_value, message in [
        ({"name": 3}, "Plain.name must be a string (got 3)"),
        ({"flag": "yes"}, "Plain.flag must be true or false (got 'yes')"),
        ({"sizes": (1, "2")}, "Plain.sizes must be a list of integers (got (1, '2'))"),
        ({"sizes": 3}, "Plain.sizes must be a list (got 3)"),
    ]:
        with pytest.raises(ConfigError, match=_exact(message)):
            Plain(**field_value).validate()  # type: ignore[arg-type]


def test_the_error_is_a_user_error_and_a_value_error_naming_class_field_and_value() -> None:
    with pytest.raises(ConfigError) as info:
        Probe(count=0).validate()
    error = info.value
    assert isinstance(error, UserError) and isinstance(error, ValueError)
    assert str(error) == "Probe.count must be >= 1 (got 0)"
    assert issubclass(ConfigError, mneme.errors.MnemeError)


def test_name_overrides_the_class_name_in_messages() -> None:
    with pytest.raises(ConfigError, match=_exact("model.count must be >= 1 (got 0)")):
        validate_config(Probe(count=0), name="model")


def test_fields_are_checked_in_declaration_order() -> None:
    with pytest.raises(ConfigError, match=r"^Probe\.count "):
        Probe(count=0, rate=0.0).validate()


def test_rule_metadata_is_a_plain_mapping_holding_a_rule() -> None:
    rules = [v for f in dataclasses.fields(Probe) for v in f.metadata.values()]
    assert len(rules) == 11 and all(isinstance(r, Rule) for r in rules)
    assert each(at_least(2)) != at_least(2)


# -- cross-field rules and nesting --------------------------------------------------------------
@dataclass(frozen=True)
class Span(Validated):
    low: int = field(default=1, metadata=at_least(1))
    high: int | None = 3
    calls: list[str] = field(default_factory=list, compare=False)

    def check(self) -> None:
        self.calls.append("check")
        ordered(self, "low", "high")


@dataclass(frozen=True)
class Plain:
    """A dataclass without ``validate()``: its declared fields are still checked when nested."""

    width: int = field(default=4, metadata=at_least(1))


@dataclass(frozen=True)
class Outer(Validated):
    span: Span = field(default_factory=Span)
    plain: Plain = field(default_factory=Plain)
    depth: int = field(default=1, metadata=at_least(0))


def test_check_runs_after_the_declared_fields() -> None:
    span = Span(low=2, high=2)
    span.validate()
    assert span.calls == ["check"]
    with pytest.raises(ConfigError, match=_exact("Span.high must be >= low = 2 (got 1)")):
        Span(low=2, high=1).validate()
    bad = Span(low=0, high=-5)
    with pytest.raises(ConfigError, match=_exact("Span.low must be >= 1 (got 0)")):
        bad.validate()
    assert bad.calls == []  # the field check failed first
    Span(high=None).validate()  # ordered skips None


def test_validate_config_alone_skips_check() -> None:
    validate_config(Span(low=5, high=1))


def test_nested_dataclasses_are_validated_with_their_own_rules() -> None:
    Outer().validate()
    with pytest.raises(ConfigError, match=_exact("Span.low must be >= 1 (got 0)")):
        Outer(span=Span(low=0)).validate()
    with pytest.raises(ConfigError, match=_exact("Span.high must be >= low = 4 (got 2)")):
        Outer(span=Span(low=4, high=2)).validate()
    with pytest.raises(ConfigError, match=_exact("Plain.width must be >= 1 (got 0)")):
        Outer(plain=Plain(width=0)).validate()
    with pytest.raises(ConfigError, match=_exact("Outer.depth must be >= 0 (got -1)")):
        Outer(depth=-1).validate()


def test_invalid_formats_cross_field_errors() -> None:
    error = invalid(Span(low=3), "low", "must be odd")
    assert isinstance(error, ConfigError) and str(error) == "Span.low must be odd (got 3)"
    error = invalid(Span(), "high", "needs x", got="1 and 2")
    assert str(error) == "Span.high needs x (got 1 and 2)"


def test_run_config_validates_its_parts() -> None:
    from mneme.config import TrainConfig
    from mneme.memory.memn2n import MemN2NConfig
    from mneme.tasks.babi import BabiConfig
    from mneme.train.run import RunConfig

    good = RunConfig("babi", BabiConfig(), "memn2n", MemN2NConfig(), TrainConfig())
    good.validate()
    for part, message in [
        ({"task": BabiConfig(memory_size=0)}, "BabiConfig.memory_size must be >= 1 (got 0)"),
        ({"model": MemN2NConfig(hops=0)}, "MemN2NConfig.hops must be >= 1 (got 0)"),
        ({"train": TrainConfig(lr=0.0)}, "TrainConfig.lr must be in (0, 1000] (got 0.0)"),
        ({"task": BabiConfig(tasks=(1,))}, "BabiConfig.tasks picks the joint-training subset; "
                                           "set joint=True (got (1,))"),
    ]:
        with pytest.raises(ConfigError, match=_exact(message)):
            dataclasses.replace(good, **part).validate()


# -- every declared config in the package -------------------------------------------------------
def _declared_configs() -> list[type]:
    """Every dataclass defined in mneme with at least one declared field rule."""
    root = Path(mneme.__file__).parent
    found = []
    for path in sorted(root.rglob("*.py")):
        parts = path.relative_to(root.parent).with_suffix("").parts
        if parts[-1] == "__main__":  # importing it runs the CLI
            continue
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        module = importlib.import_module(name)
        for value in vars(module).values():
            if (isinstance(value, type) and dataclasses.is_dataclass(value)
                    and value.__module__ == name
                    and any(isinstance(v, Rule) for f in dataclasses.fields(value)
                            for v in f.metadata.values())):
                found.append(value)
    # The composed model configs (a core's config plus embedding_dim and head_size) are made on
    # demand, so the module scan sees only those made so far: make every one.
    from mneme import registry
    from mneme.models.sequence import composed_config

    registry.load()
    found += [composed_config(core) for core in registry.CORES.values()]
    return list(dict.fromkeys(found))


DECLARED = _declared_configs()

CORE_CONFIGS = {"RNNCoreConfig", "IRNNCoreConfig", "LSTMCoreConfig", "GRUCoreConfig",
                "FastWeightsConfig", "DeltaRuleConfig", "AssociativeLSTMConfig",
                "HopfieldCoreConfig", "SelfAttentionConfig", "NTMConfig"}


def test_the_walk_finds_the_configs() -> None:
    names = {cls.__name__ for cls in DECLARED}
    assert len(DECLARED) >= 40  # 24 before the cores were converted, + 9 of them, + 10 composed
    assert {"TrainConfig", "NTMConfig", "BabiConfig", "GenerateOptions", "TSPConfig"} <= names
    assert names >= CORE_CONFIGS
    assert {name.removesuffix("Config") + "ModelConfig" for name in CORE_CONFIGS} <= names


# -- the cores' configs ------------------------------------------------------------------------
def _core_config(name: str) -> type:
    return next(cls for cls in DECLARED if cls.__name__ == name)


@pytest.mark.parametrize(("name", "changes", "message"), [
    ("RNNCoreConfig", {"hidden_size": 0}, "hidden_size must be >= 1 (got 0)"),
    ("RNNCoreConfig", {"num_layers": 0}, "num_layers must be >= 1 (got 0)"),
    ("RNNCoreConfig", {"dropout": 1.0}, "dropout must be in [0, 1) (got 1.0)"),
    ("RNNCoreConfig", {"dropout": -0.1}, "dropout must be in [0, 1) (got -0.1)"),
    ("IRNNCoreConfig", {"num_layers": 0}, "num_layers must be >= 1 (got 0)"),
    ("LSTMCoreConfig", {"hidden_size": 2.5}, "hidden_size must be an integer (got 2.5)"),
    ("LSTMCoreConfig", {"variant": "gated"},
     "variant must be one of 'standard', 'peephole', 'coupled', 'no-forget', 'no-output', "
     "'layer-norm' (got 'gated')"),
    ("GRUCoreConfig", {"dropout": 1.5}, "dropout must be in [0, 1) (got 1.5)"),
    ("FastWeightsConfig", {"hidden_size": 0}, "hidden_size must be >= 1 (got 0)"),
    ("FastWeightsConfig", {"decay": 1.01}, "decay must be in [0, 1] (got 1.01)"),
    ("FastWeightsConfig", {"decay": -0.5}, "decay must be in [0, 1] (got -0.5)"),
    ("FastWeightsConfig", {"fast_lr": -0.1}, "fast_lr must be >= 0 (got -0.1)"),
    ("FastWeightsConfig", {"inner_steps": 0}, "inner_steps must be >= 1 (got 0)"),
    ("FastWeightsConfig", {"retrieval": "dense"},
     "retrieval must be one of 'auto', 'matrix', 'attention' (got 'dense')"),
    ("DeltaRuleConfig", {"hidden_size": 0}, "hidden_size must be >= 1 (got 0)"),
    ("AssociativeLSTMConfig", {"hidden_size": 0}, "hidden_size must be >= 2 (got 0)"),
    ("AssociativeLSTMConfig", {"hidden_size": 7}, "hidden_size must be even (got 7)"),
    ("AssociativeLSTMConfig", {"copies": 0}, "copies must be >= 1 (got 0)"),
    ("HopfieldCoreConfig", {"hidden_size": 0}, "hidden_size must be >= 1 (got 0)"),
    ("HopfieldCoreConfig", {"key_size": 0}, "key_size must be >= 1 (got 0)"),
    ("HopfieldCoreConfig", {"beta": 0.0}, "beta must be > 0 (got 0.0)"),
    ("HopfieldCoreConfig", {"update_steps": 0}, "update_steps must be >= 1 (got 0)"),
    ("SelfAttentionConfig", {"num_heads": 5},
     "hidden_size must be divisible by num_heads (got 64 and 5)"),
    ("SelfAttentionConfig", {"ff_size": 0}, "ff_size must be >= 1 (got 0)"),
])
def test_core_configs_reject_what_they_rejected_before(name, changes, message) -> None:
    cls = _core_config(name)
    with pytest.raises(ConfigError, match=_exact(f"{name}.{message}")):
        cls(**changes).validate()


@pytest.mark.parametrize(("name", "changes"), [
    ("RNNCoreConfig", {"hidden_size": 1, "num_layers": 1, "dropout": 0.0}),
    ("RNNCoreConfig", {"dropout": 0.999}),
    ("LSTMCoreConfig", {"variant": "layer-norm"}),
    ("FastWeightsConfig", {"decay": 0.0, "fast_lr": 0.0, "retrieval": "attention"}),
    ("FastWeightsConfig", {"decay": 1.0, "inner_steps": 1}),
    ("AssociativeLSTMConfig", {"hidden_size": 2, "copies": 1}),
    ("HopfieldCoreConfig", {"key_size": 1, "beta": 1e-9}),
    ("HopfieldCoreConfig", {"key_size": None, "beta": None}),
    ("SelfAttentionConfig", {"hidden_size": 5, "num_heads": 5, "ff_size": 1}),
])
def test_core_configs_accept_their_boundaries(name, changes) -> None:
    _core_config(name)(**changes).validate()


def test_composed_configs_check_the_core_fields_and_their_own() -> None:
    lstm = _core_config("LSTMCoreModelConfig")
    lstm(embedding_dim=1, head_size=1).validate()
    for changes, message in [
        ({"embedding_dim": 0}, "embedding_dim must be >= 1 (got 0)"),
        ({"head_size": 0}, "head_size must be >= 1 (got 0)"),
        ({"hidden_size": 0}, "hidden_size must be >= 1 (got 0)"),
        ({"dropout": 1.0}, "dropout must be in [0, 1) (got 1.0)"),
    ]:
        with pytest.raises(ConfigError, match=_exact(f"LSTMCoreModelConfig.{message}")):
            lstm(**changes).validate()
    with pytest.raises(ConfigError, match=_exact("AssociativeLSTMModelConfig.hidden_size must "
                                                 "be even (got 9)")):
        _core_config("AssociativeLSTMModelConfig")(hidden_size=9).validate()
    with pytest.raises(ConfigError, match=r"^SelfAttentionModelConfig\.hidden_size must be "
                                          r"divisible by num_heads"):
        _core_config("SelfAttentionModelConfig")(num_heads=3).validate()


def test_a_plain_plugin_core_config_is_composed_with_checked_fields(monkeypatch) -> None:
    from mneme.models import sequence
    from mneme.models.sequence import composed_config
    from mneme.registry import Entry

    monkeypatch.setitem(vars(sequence), "PlainCoreModelConfig", None)  # removed after the test

    @dataclass(frozen=True)
    class PlainCoreConfig:
        width: int = 4

        def validate(self) -> None:
            if self.width < 1:
                raise ConfigError("PlainCoreConfig.width must be >= 1")

    cls = composed_config(Entry("plain", "core", PlainCoreConfig, lambda c, d: None, "x"))
    cls().validate()
    with pytest.raises(ConfigError, match=_exact("PlainCoreModelConfig.head_size must be >= 1 "
                                                 "(got 0)")):
        cls(head_size=0).validate()
    with pytest.raises(ConfigError, match="width"):
        cls(width=0).validate()


@pytest.mark.parametrize("cls", DECLARED, ids=lambda cls: cls.__qualname__)
def test_every_declared_config_validates_its_defaults(cls: type) -> None:
    assert issubclass(cls, Validated)
    cls().validate()
