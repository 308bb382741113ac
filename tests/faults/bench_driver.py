"""``mneme bench`` on a tiny suite of three copy cells, for the fault tests (a subprocess).

    python tests/faults/bench_driver.py EPOCHS [mneme bench options ...]

Each cell trains a tanh RNN with 8 units on copy of 3 vectors of 3 bits, ``EPOCHS`` epochs of 10
steps (about 15 ms an epoch on one core), evaluated on 16 sequences after every epoch.
"""

from __future__ import annotations

import dataclasses
import sys


def tiny_suite(epochs: int):  # -> Suite
    from mneme.bench.cells import Cell, Suite
    from mneme.config import TrainConfig
    from mneme.models.build import model_entry
    from mneme.tasks.algorithmic import CopyConfig

    task = CopyConfig(width=3, min_length=3, max_length=3, test_lengths=(3,),
                      generalisation_size=4, valid_size=16, test_size=16)
    model = model_entry("rnn", "copy").config(hidden_size=8)
    train = TrainConfig(epochs=epochs, epoch_steps=10, batch_size=4, optimizer="adam", lr=1e-2,
                        eval_batch_size=16, progress=False, tensorboard=False)
    cells = [Cell(f"rnn-copy-{i}", "rnn", "copy", task, "rnn", model,
                  dataclasses.replace(train, seed=i)) for i in range(3)]
    return Suite("faults", "three tiny copy cells", lambda _: cells, report="faults")


def main(argv: list[str]) -> int:
    from mneme.bench import suites
    from mneme.cli import main as mneme

    suites.SUITES["faults"] = tiny_suite(int(argv[0]))
    return mneme(["bench", "--suite", "faults", *argv[1:]])


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
