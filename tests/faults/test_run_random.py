"""The randomised fault suite (``pytest -m slow -s tests/faults/test_run_random.py``): a run killed
by SIGKILL 50 times at random moments, and checkpoints cut or flipped at random points. Each test
prints its figures for docs/reliability.md.
"""

from __future__ import annotations

import os
import random
import shutil
import signal
import threading
import time
from pathlib import Path

import pytest

from mneme.cli import main

from .run_helpers import TINY, assert_same_run, copy_run, damage, in_child, interrupted

LONGER = [*TINY, "--train.epochs", "5", "--train.epoch-steps", "12"]
"""60 steps in 5 epochs: about a second of training, with 5 records and 11 checkpoint saves."""


def _train(out: Path, *argv: str) -> int:
    return main(["train", *LONGER, "--out", str(out), *argv])


@pytest.mark.slow
def test_fifty_random_kills_lose_nothing(tmp_path: Path) -> None:
    reference = tmp_path / "reference"
    assert _train(reference) == 0
    start = time.perf_counter()
    assert in_child(lambda: _train(tmp_path / "timing")) == 0
    duration = time.perf_counter() - start
    rng = random.Random(15)
    kills = finished = rounds = 0
    run = tmp_path / "round-0"
    while kills < 50:
        delay = rng.uniform(0.0, duration)

        def attempt(run: Path = run, delay: float = delay) -> int:
            threading.Timer(delay, os.kill, (os.getpid(), signal.SIGKILL)).start()
            if (run / "config.json").exists():
                return main(["train", "--resume", str(run)])
            return _train(run)

        code = in_child(attempt)
        if code == -signal.SIGKILL:
            kills += 1
            continue
        assert code == 0, code
        # Finished (the last attempt outran its kill): it must equal the uninterrupted run.
        assert_same_run(run, reference)
        finished += 1
        rounds += 1
        run = tmp_path / f"round-{rounds}"
    if (run / "config.json").exists():  # the last round, killed 50th time: finish it
        assert in_child(lambda: main(["train", "--resume", str(run)])) == 0
    else:
        assert in_child(lambda: _train(run)) == 0
    assert_same_run(run, reference)
    print(f"\nrandom kills: {kills} SIGKILLs in {rounds + 1} runs, all {rounds + 1} resumed "
          f"bit-identical to the uninterrupted run (run length {duration:.2f} s)")


@pytest.mark.slow
@pytest.mark.parametrize("how", ["truncate", "flip"])
def test_sixty_damaged_checkpoints_are_named_or_survived(tmp_path: Path, how: str,
                                                         capsys) -> None:
    reference, cut = tmp_path / "reference", tmp_path / "cut"
    assert _train(reference) == 0
    interrupted(cut, at_step=30, argv=["train", *LONGER, "--out", str(cut)])
    rng = random.Random(how)
    named = survived = 0
    for trial in range(60):
        run = copy_run(cut, tmp_path / f"run{trial}")
        names = ["last.pt"] if trial % 2 else ["last.pt", "prev.pt"]
        for name in names:
            damage(run / "checkpoints" / name, how, rng)
        capsys.readouterr()
        code = main(["train", "--resume", str(run)])
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and "Traceback" not in err[0]
        if code == 0:  # last.pt damaged alone: resumed from prev.pt, with a warning
            assert len(names) == 1 and "warning" in err[0]
            assert_same_run(run, reference)
            survived += 1
        else:
            assert code == 2 and "last.pt: corrupt checkpoint" in err[0]
            named += 1
        shutil.rmtree(run)
    with capsys.disabled():
        print(f"\n{how}: 60 damaged checkpoints, {survived} resumed from prev.pt "
              f"bit-identical, {named} refused in one line naming last.pt, 0 loaded silently")
