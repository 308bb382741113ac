"""``mneme data NAME --from PATH_OR_URL``: install a dataset into the data directory.

    mneme data babi --from tasks_1-20_v1-2.tar.gz
    mneme data ptb --from simple-examples.tgz
    mneme data tinyshakespeare --from input.txt
    mneme data eng-fra --from fra-eng.zip

``--from`` also takes a URL; each installed file is checked against the official release's
digest (``--sha256 HEX`` checks the archive instead, for another release). The installers are
``mneme.tasks.datasets`` and ``mneme.tasks.babi_archive``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Literal

import tyro

from mneme.commands.parsing import DATA_ENV, default_data_dir, parse
from mneme.errors import UserError


@dataclass(frozen=True)
class DataArgs:
    """Install a dataset into the data directory (--data-dir, else $MNEME_DATA)."""

    dataset: tyro.conf.Positional[Literal["babi", "ptb", "tinyshakespeare", "eng-fra"]]
    """The dataset to install."""
    source: Annotated[str, tyro.conf.arg(name="from")]
    """Release path or URL (tasks_1-20_v1-2.tar.gz, simple-examples.tgz, input.txt, fra-eng.zip)."""
    data_dir: str | None = None
    """Dataset root (default: $MNEME_DATA)."""
    sha256: str | None = None
    """SHA-256 of the archive or file, checked instead of the official files' (another release)."""


def run(args: DataArgs) -> int:
    """Install the dataset under DATA_DIR/NAME."""
    from mneme.tasks.datasets import install_dataset

    root = default_data_dir(args.data_dir)
    if root is None:
        raise UserError(f"data: pass --data-dir DIR or set ${DATA_ENV} to say where data goes")
    written = install_dataset(args.dataset, args.source, Path(root), sha256=args.sha256)
    print(f"{args.dataset} installed in {Path(root) / args.dataset} ({len(written)} files)")
    return 0


def main(argv: Sequence[str]) -> int:
    """``mneme data ARGV``."""
    return run(parse(DataArgs, argv, "mneme data"))
