"""``mneme data babi --from PATH_OR_URL``: install a dataset into the data directory."""

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

    dataset: tyro.conf.Positional[Literal["babi"]]
    """The dataset to install."""
    source: Annotated[str, tyro.conf.arg(name="from")]
    """Archive path or URL."""
    data_dir: str | None = None
    """Dataset root (default: $MNEME_DATA)."""


def run(args: DataArgs) -> int:
    """Install the archive under DATA_DIR/babi."""
    from mneme.tasks.babi_archive import install_babi_archive

    root = default_data_dir(args.data_dir)
    if root is None:
        raise UserError(f"data: pass --data-dir DIR or set ${DATA_ENV} to say where data goes")
    dest = Path(root) / "babi"
    install_babi_archive(args.source, dest)
    print(f"bAbI installed in {dest}")
    return 0


def main(argv: Sequence[str]) -> int:
    """``mneme data ARGV``."""
    return run(parse(DataArgs, argv, "mneme data"))
