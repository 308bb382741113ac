"""A small synthetic bAbI-format task 1 ("where is X?") written to a temp data directory."""

from __future__ import annotations

import random
from pathlib import Path

PEOPLE = ["mary", "john", "sandra", "daniel"]
PLACES = ["bathroom", "hallway", "garden", "office", "kitchen", "bedroom"]
VERBS = ["moved to", "went to", "journeyed to", "travelled to"]


def story_lines(rng: random.Random, sentences: int) -> list[str]:
    lines, where, n = [], {}, 0
    for _ in range(sentences):
        person, place = rng.choice(PEOPLE), rng.choice(PLACES)
        where[person] = n = n + 1
        lines.append(f"{n} {person.title()} {rng.choice(VERBS)} the {place}.")
        where[person] = (n, place)
        if rng.random() < 0.5:
            asked = rng.choice(sorted(where))
            fact, answer = where[asked]
            n += 1
            lines.append(f"{n} Where is {asked.title()}? \t{answer}\t{fact}")
    if not any("?" in line for line in lines):
        asked = rng.choice(sorted(where))
        fact, answer = where[asked]
        lines.append(f"{n + 1} Where is {asked.title()}? \t{answer}\t{fact}")
    return lines


def write_fake_babi(root: Path, stories: int = 150, seed: int = 0) -> Path:
    """Write ``root/babi/en/qa1_single-supporting-fact_{train,test}.txt``; returns ``root``."""
    rng = random.Random(seed)
    folder = root / "babi" / "en"
    folder.mkdir(parents=True, exist_ok=True)
    for split in ("train", "test"):
        lines: list[str] = []
        for _ in range(stories):
            lines += story_lines(rng, rng.randint(2, 8))
        path = folder / f"qa1_single-supporting-fact_{split}.txt"
        path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return root
