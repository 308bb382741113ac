"""Counting languages and memorisation: next-symbol prediction on an unsegmented stream.

Joulin & Mikolov 2015, "Inferring Algorithmic Patterns with Stack-Augmented Recurrent Nets"
(arXiv 1503.01007), section 4.1, and the authors' released code (facebookarchive/Stack-RNN,
``task.h``, ``train_toy.cpp``). Symbols are letters, ``a`` = 0, ``b`` = 1, ...; a model reads a
stream of strings one symbol at a time and predicts the next symbol at every step::

    anbn       a^n b^n                 aaabbb aabb ...
    anbncn     a^n b^n c^n             (V = 3)
    anbncndn   a^n b^n c^n d^n         (V = 4)
    anb2n      a^n b^2n                aabbbb
    anbmcnm    a^i b^m c^(i+m), i, m >= 1; its n is i + m (the code draws the total n, then m)
    memorisation  X a X^R: X of n symbols drawn from {b, c}, the separator a, X reversed (V = 3;
                  the code's task 4 with 3 characters)

**Predictable symbols** (what scoring counts; the code's ``iseval`` rule). Nothing in the first
block is predictable: the string's n is unknown until it ends. For ``a^n b^n...`` and ``a^n
b^2n`` the first ``b`` is not predictable either (it ends the unknown run of a's), every symbol
after it is; for ``a^i b^m c^(i+m)`` neither a's nor b's are, and the first ``c`` is not (it ends
the unknown run of b's), the other ``c`` s are; for memorisation X and the separator are not,
the whole of X^R is. The first symbol of the *next* string is predictable for the counting
languages (it is always ``a``, and only a counter knows the string has ended) and counts towards
the string that ends there; for memorisation it is random, so it does not count. A string
counts as correct only when every predictable symbol is the arg max prediction.

**Score** (Table 2, "percent of n solved"): test strings for ``test_count`` consecutive values of
n from ``test_min``, by default the language's smallest (1; 2 for ``anbmcnm``, whose i and m are
>= 1): n = 1..60, so scores are multiples of 100/60 as the paper's are (the code tests n =
2..59, 58 values, which the paper's numbers do not fit; n = 1 is below the training range). One
string per n for the deterministic languages, every split m = 1..n-1 for ``anbmcnm``,
``strings_per_n`` random X for memorisation; n is solved when all its strings are correct.
Stored as the fraction of n *not* solved (``unsolved``, lower is better, as the loop and the
reports read metrics) and ``solved`` = 1 - unsolved in the paper's unit; ``symbol_error`` is the
fraction of predictable symbols wrong, ``nll`` the mean cross-entropy (nats) of every next
symbol (the selection metric: the code keeps the model of lowest validation entropy),
``wrong_n{k}`` the fraction of the strings with n = k that are wrong.

**Training** (the code's ``train_toy``): strings with n uniform in ``[min_n, current max]``, the
training range ``min_n``..``max_n`` = 2..19 ("n < 20"); the curriculum starts the maximum at
``min_n`` and raises it by one every ``curriculum_every`` epochs (the code: ``nmax = min(e + 3,
nmaxmax)`` and ``n < nmax``), a training hook (``CountingCurriculum``, from ``training_hooks``)
that resumes exactly. Ours differs: an example is whole strings concatenated until it holds
``train_length`` symbols (the code's BPTT length, 50), from a fresh state with the last letter as
the first input (the code's initial ``cur``), batched and padded; the code streams strings
through one network with online updates and empties the stacks every 1000 strings. Evaluation
strings also start from a fresh state (the code's test stream runs on across strings).

Legend: B batch, T time steps, V symbols.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, Literal

import torch
import torch.nn.functional as F

from mneme.errors import ConfigError, UserError
from mneme.registry import register_task
from mneme.types import Batch, ModelOutput, TaskInfo
from mneme.validation import Validated, at_least, one_of, ordered

__all__ = ["LANGUAGES", "CountingConfig", "CountingCurriculum", "CountingTask", "draw_string",
           "string_of"]

SOURCE = "Joulin & Mikolov 2015, arXiv 1503.01007, section 4.1; facebookarchive/Stack-RNN"

Language = Literal["anbn", "anbncn", "anbncndn", "anb2n", "anbmcnm", "memorisation"]


@dataclass(frozen=True)
class LanguageSpec:
    """V symbols, the smallest n, whether the next string's first symbol is predictable, and
    the name Table 2 gives the language."""

    symbols: int
    smallest: int
    next_predictable: bool
    label: str


LANGUAGES: dict[str, LanguageSpec] = {
    "anbn": LanguageSpec(2, 1, True, "a^n b^n"),
    "anbncn": LanguageSpec(3, 1, True, "a^n b^n c^n"),
    "anbncndn": LanguageSpec(4, 1, True, "a^n b^n c^n d^n"),
    "anb2n": LanguageSpec(2, 1, True, "a^n b^2n"),
    "anbmcnm": LanguageSpec(3, 2, True, "a^n b^m c^(n+m)"),
    "memorisation": LanguageSpec(3, 1, False, "memorisation"),
}
"""Per language: its spec (``label`` is Table 2's column name)."""


def string_of(language: str, n: int, part: int | tuple[int, ...] = ()
              ) -> tuple[list[int], list[bool]]:
    """One string and which of its symbols are predictable (the next string's first symbol
    aside: ``LANGUAGES[language].next_predictable``).

    Args:
        language: a key of ``LANGUAGES``.
        n: the string's n (``anbmcnm``: i + m; memorisation: the length of X).
        part: ``anbmcnm``: m, the number of b's (1..n-1); memorisation: X, n symbols in {1, 2}.

    Raises:
        UserError: an unknown language, or n or ``part`` out of range.
    """
    if language not in LANGUAGES:
        raise UserError(f"counting: unknown language {language!r}; choose {', '.join(LANGUAGES)}")
    if n < LANGUAGES[language].smallest:
        raise UserError(f"counting: {language} needs n >= {LANGUAGES[language].smallest}, got {n}")
    if language == "anbmcnm":
        m = int(part) if isinstance(part, int) else 0
        if not 1 <= m < n:
            raise UserError(f"counting: anbmcnm needs 1 <= m < n, got m={m}, n={n}")
        tokens = [0] * (n - m) + [1] * m + [2] * n
        return tokens, [False] * (n + 1) + [True] * (n - 1)
    if language == "memorisation":
        x = list(part) if isinstance(part, tuple) else []
        if len(x) != n or any(s not in (1, 2) for s in x):
            raise UserError(f"counting: memorisation needs X of {n} symbols in {{1, 2}}, got {x}")
        return [*x, 0, *reversed(x)], [False] * (n + 1) + [True] * n
    blocks = [n] * LANGUAGES[language].symbols if language != "anb2n" else [n, 2 * n]
    tokens = [s for s, size in enumerate(blocks) for _ in range(size)]
    return tokens, [False] * (n + 1) + [True] * (len(tokens) - n - 1)


def draw_string(language: str, n: int, generator: torch.Generator
                ) -> tuple[list[int], list[bool]]:
    """``string_of`` with the random part drawn from ``generator`` (m uniform in 1..n-1 for
    ``anbmcnm``, X uniform for memorisation)."""
    if language == "anbmcnm":
        return string_of(language, n, int(torch.randint(1, n, (1,), generator=generator)))
    if language == "memorisation":
        x = torch.randint(1, 3, (n,), generator=generator).tolist()
        return string_of(language, n, tuple(x))
    return string_of(language, n)


@dataclass(frozen=True)
class CountingConfig(Validated):
    """Counting-language settings (defaults: the paper's).

    Attributes:
        language: which language (module docstring).
        min_n: the smallest training n (the code: 2).
        max_n: the largest training n (the paper: n < 20); also the validation range.
        curriculum: raise the largest training n from ``min_n`` during training.
        curriculum_every: epochs per step of the curriculum (the code: 1).
        train_length: symbols per training example at least (whole strings; the code's BPTT 50).
        test_min: the smallest test n (None: the language's smallest, 1; 2 for ``anbmcnm``; the
            code tests from 2, as it trains).
        test_count: values of n in the test set, from ``test_min`` (the paper: 60).
        strings_per_n: memorisation: random strings per n in validation and test.
        split_seed: seeds the random validation and test strings.
    """

    language: Language = field(default="anbn", metadata=one_of())
    min_n: int = field(default=2, metadata=at_least(1))
    max_n: int = field(default=19, metadata=at_least(1))
    curriculum: bool = True
    curriculum_every: int = field(default=1, metadata=at_least(1))
    train_length: int = field(default=50, metadata=at_least(1))
    test_min: int | None = field(default=None, metadata=at_least(1))
    test_count: int = field(default=60, metadata=at_least(1))
    strings_per_n: int = field(default=10, metadata=at_least(1))
    split_seed: int = 1503

    def check(self) -> None:
        ordered(self, "min_n", "max_n")
        smallest = LANGUAGES[self.language].smallest
        for name in ("min_n", "test_min"):
            value = getattr(self, name)
            if value is not None and value < smallest:
                raise ConfigError(f"CountingConfig.{name} must be >= {smallest} for "
                                  f"{self.language} (got {value})")


@dataclass
class CountingCurriculum:
    """The paper's curriculum as a training hook: the largest training n is ``min_n`` in the
    first epoch and grows by one every ``every`` epochs up to ``max_n``. Its state is the
    current maximum, set on the task (``CountingTask.current_max``) at start and on resume."""

    task: CountingTask
    every: int = 1
    current: int = 0

    def at_epoch(self, epoch: int) -> int:
        """The largest training n of (0-based) ``epoch``."""
        c = self.task.config
        return min(c.max_n, c.min_n + epoch // self.every)

    def _set(self, value: int) -> None:
        self.current = self.task.current_max = value

    def start(self, trainer: Any) -> None:
        self._set(self.at_epoch(0))

    def on_epoch_end(self, trainer: Any, valid: dict[str, float] | None) -> None:
        self._set(self.at_epoch(int(trainer.epoch)))

    def state_dict(self) -> dict[str, Any]:
        return {"current": self.current}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self._set(int(state["current"]))


def _pad(rows: list[tuple[list[int], list[int], list[bool]]], meta: dict[str, Any]) -> Batch:
    """Rows of (inputs, targets, predictable) as a padded ``Batch``: inputs and targets ``(B, T)``
    long, ``mask`` ``(B, T)`` the real steps, ``meta["predictable"]`` ``(B, T)`` bool."""
    b, t = len(rows), max(len(r[0]) for r in rows)
    inputs = torch.zeros(b, t, dtype=torch.long)
    targets = torch.zeros(b, t, dtype=torch.long)
    mask = torch.zeros(b, t)
    predictable = torch.zeros(b, t, dtype=torch.bool)
    for i, (x, y, p) in enumerate(rows):
        inputs[i, :len(x)] = torch.tensor(x)
        targets[i, :len(y)] = torch.tensor(y)
        mask[i, :len(y)] = 1.0
        predictable[i, :len(p)] = torch.tensor(p)
    return Batch(inputs, targets, mask, {**meta, "predictable": predictable})


@register_task("counting", config=CountingConfig, family="counting",
               summary="next-symbol prediction on a^n b^n, a^n b^n c^n, ... and memorisation",
               source=SOURCE)
class CountingTask:
    """A counting language (or memorisation) as a ``GeneratedTask``: every example is whole
    strings of the stream, scored by "percent of n solved" on n = 1..60.

    Raises:
        UserError: a bad config field, an unknown split or a batch size < 1.
    """

    name = "counting"

    def __init__(self, config: CountingConfig) -> None:
        config.validate()
        self.config = config
        self.spec = LANGUAGES[config.language]
        v = self.spec.symbols
        self.info = TaskInfo(
            kind="generated", inputs="tokens", input_size=v, outputs="classes", output_size=v,
            readout="every_step", metric="unsolved", unit="% of test n not solved",
            selection_metric="nll", solved_below=0.0, percent=True, family="counting",
            source=SOURCE)
        self.current_max = config.max_n if not config.curriculum else config.min_n
        self._cache: dict[str, list[tuple[int, list[int], list[bool]]]] = {}

    def training_hooks(self) -> list[CountingCurriculum]:
        """The curriculum hook the loop installs (none without ``curriculum``)."""
        if not self.config.curriculum:
            return []
        return [CountingCurriculum(self, self.config.curriculum_every)]

    # -- data -------------------------------------------------------------------------------
    def _row(self, strings: list[tuple[list[int], list[bool]]], close: bool
             ) -> tuple[list[int], list[int], list[bool]]:
        """Strings as one example: inputs start with the last letter, targets are the strings
        (plus the next string's first symbol, ``a``, when ``close`` and it is predictable)."""
        targets: list[int] = []
        predictable: list[bool] = []
        for k, (tokens, flags) in enumerate(strings):
            first = k > 0 and self.spec.next_predictable
            targets += tokens
            predictable += [first, *flags[1:]]
        if close and self.spec.next_predictable:
            targets.append(0)
            predictable.append(True)
        inputs = [self.spec.symbols - 1, *targets[:-1]]
        return inputs, targets, predictable

    def sample(self, batch_size: int, generator: torch.Generator) -> Batch:
        """``batch_size`` examples of whole strings, n uniform in ``[min_n, current_max]``."""
        c, rows = self.config, []
        for _ in range(batch_size):
            strings, length = [], 0
            while length < c.train_length:
                n = int(torch.randint(c.min_n, self.current_max + 1, (1,), generator=generator))
                strings.append(draw_string(c.language, n, generator))
                length += len(strings[-1][0])
            rows.append(self._row(strings, close=False))
        return _pad(rows, {})

    def _strings(self, split: str) -> list[tuple[int, list[int], list[bool]]]:
        """(n, tokens, predictable) of every string of ``split``, by n."""
        if split not in self._cache:
            c, language = self.config, self.config.language
            if split == "valid":
                ns = range(c.min_n, c.max_n + 1)
            elif split == "test":
                lo = self.spec.smallest if c.test_min is None else c.test_min
                ns = range(lo, lo + c.test_count)
            else:
                raise UserError(f"counting: unknown split {split!r}; choose test, valid")
            seed = (c.split_seed * 1_000_003 + zlib.crc32(f"{language}/{split}".encode())) % 2**63
            generator = torch.Generator().manual_seed(seed)
            out = []
            for n in ns:
                if language == "anbmcnm":
                    out += [(n, *string_of(language, n, m)) for m in range(1, n)]
                elif language == "memorisation":
                    out += [(n, *draw_string(language, n, generator))
                            for _ in range(c.strings_per_n)]
                else:
                    out.append((n, *string_of(language, n)))
            self._cache[split] = out
        return self._cache[split]

    def eval_batches(self, split: str, batch_size: int) -> Iterator[Batch]:
        """Fixed batches of ``"valid"`` (n in the training range) or ``"test"`` (``test_count``
        values of n from ``test_min``): one string per row from a fresh state,
        ``meta["n"]`` the rows' n."""
        strings = self._strings(split)
        if batch_size < 1:
            raise UserError(f"counting: batch_size must be >= 1, got {batch_size}")
        for first in range(0, len(strings), batch_size):
            chunk = strings[first:first + batch_size]
            rows = [self._row([(tokens, flags)], close=True) for _, tokens, flags in chunk]
            yield _pad(rows, {"n": [n for n, _, _ in chunk]})

    # -- loss and metrics -------------------------------------------------------------------
    def loss(self, output: ModelOutput, batch: Batch) -> torch.Tensor:
        """Mean cross-entropy (nats) of every next symbol, predictable or not (the paper trains
        on the whole stream), plus the model's aux loss."""
        assert batch.mask is not None
        nll = F.cross_entropy(output.logits.transpose(1, 2), batch.targets, reduction="none")
        loss = (nll * batch.mask).sum() / batch.mask.sum()
        return loss if output.aux_loss is None else loss + output.aux_loss

    def metrics(self, output: ModelOutput, batch: Batch) -> dict[str, float]:
        """Sums: ``count`` strings, ``n_nll`` nats over ``n_targets`` symbols, ``n_wrong_symbols``
        of ``n_symbols`` predictable symbols, per n ``wrong_n{k}`` wrong strings of ``n_n{k}``
        (``finalize_metrics`` turns them into ``nll``, ``symbol_error``, ``unsolved``)."""
        assert batch.mask is not None
        logits = output.logits.detach()
        targets = batch.targets.to(logits.device)
        mask = batch.mask.to(logits.device)
        predictable = batch.meta["predictable"].to(logits.device)
        nll = F.cross_entropy(logits.transpose(1, 2), targets, reduction="none") * mask
        wrong = (logits.argmax(-1) != targets) & predictable
        out = {"count": float(batch.size), "n_nll": float(nll.sum()),
               "n_targets": float(mask.sum()), "n_symbols": float(predictable.sum()),
               "n_wrong_symbols": float(wrong.sum())}
        for n, bad in zip(batch.meta.get("n", ()), wrong.any(1).tolist(), strict=False):
            out[f"wrong_n{n}"] = out.get(f"wrong_n{n}", 0.0) + float(bad)
            out[f"n_n{n}"] = out.get(f"n_n{n}", 0.0) + 1.0
        return out

    def finalize_metrics(self, metrics: dict[str, float]) -> dict[str, float]:
        """Adds ``nll``, ``symbol_error``, and (evaluation splits) ``unsolved`` and ``solved``:
        the fractions of n with a wrong string and without."""
        out = dict(metrics)
        out["nll"] = metrics.get("n_nll", 0.0) / max(metrics.get("n_targets", 0.0), 1.0)
        out["symbol_error"] = (metrics.get("n_wrong_symbols", 0.0)
                               / max(metrics.get("n_symbols", 0.0), 1.0))
        per_n = [v for k, v in metrics.items() if k.startswith("wrong_n")]
        if per_n:
            out["unsolved"] = sum(v > 0 for v in per_n) / len(per_n)
            out["solved"] = 1.0 - out["unsolved"]
        return out
