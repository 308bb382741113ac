"""Where a model writes on priority sort (the NTM paper's Figure 17): the per-head line fit and
the figure."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from mneme import registry
from mneme.models.build import build_model, composed_config
from mneme.viz.priority_sort import (
    FOCUSED,
    GapErrors,
    ReadFit,
    WriteFit,
    drawn_head,
    errors_by_gap,
    plot_priority_sort,
    read_order_fits,
    write_location_fits,
)

N = 32


def _one_hot(locations: torch.Tensor) -> torch.Tensor:
    """``(B, n, N)`` weightings putting all weight on ``locations`` ``(B, n)`` (mod N)."""
    return torch.nn.functional.one_hot(locations.long() % N, N).double()


def test_writes_placed_by_priority_fit_a_line_exactly() -> None:
    priorities = torch.tensor([[-1.0, -0.5, 0.0, 0.5, 1.0], [0.25, -0.75, 0.75, -0.25, 0.0]])
    placed = _one_hot(8 * priorities + 12)  # slots 4..20, slope 8
    constant = _one_hot(torch.full_like(priorities, 3))
    shuffled = _one_hot(torch.tensor([[9, 2, 17, 5, 11], [3, 14, 6, 19, 1]]))
    fits = write_location_fits(priorities, torch.stack([placed, constant, shuffled], 2))
    assert [f.head for f in fits] == [0, 1, 2]
    # cut at the first never-written slot (0): locations are the slots themselves
    assert fits[0].slope == pytest.approx(8.0) and fits[0].intercept == pytest.approx(12.0)
    assert fits[0].r2 == pytest.approx(1.0) and fits[0].focus == pytest.approx(1.0)
    assert (fits[0].robust_slope, fits[0].robust_intercept, fits[0].within) == pytest.approx(
        (8.0, 12.0, 1.0))
    assert fits[1].slope == pytest.approx(0.0, abs=1e-9) and fits[1].r2 == 0.0  # no spread
    # hand-computed: the least-squares line through (p, slot) of the shuffled head explains
    # 1 - SS_res / SS_tot of the slots' variance
    x, y = priorities.flatten().double(), torch.tensor([9, 2, 17, 5, 11, 3, 14, 6, 19, 1.0],
                                                      dtype=torch.float64)
    slope = float(((x - x.mean()) * (y - y.mean())).sum() / ((x - x.mean()) ** 2).sum())
    r2 = slope ** 2 * float(((x - x.mean()) ** 2).sum()) / float(((y - y.mean()) ** 2).sum())
    assert fits[2].slope == pytest.approx(slope) and fits[2].r2 == pytest.approx(r2)


def test_a_band_across_slot_0_is_cut_open_at_the_least_written_slot() -> None:
    """The NTM's shifts wrap around: writes at slots 28..35 mod 32 are one band, not two."""
    priorities = torch.linspace(-1, 1, 9).unsqueeze(0)
    fits = write_location_fits(priorities, _one_hot(28 + 4 * (priorities + 1)))
    assert fits[0].r2 == pytest.approx(1.0) and fits[0].slope == pytest.approx(4.0)
    # slots 28..31 and 0..4 written: the cut is the first unwritten slot, 5, and slot 28 is
    # location 23 on the cut memory (at priority -1), so the line crosses 0 at 23 + 4
    assert fits[0].cut == 5 and fits[0].intercept == pytest.approx(27.0)


def test_the_mask_fits_only_the_chosen_writes_and_soft_weightings_use_their_mean() -> None:
    priorities = torch.tensor([[-1.0, 0.0, 1.0, -0.9]])
    slots = torch.tensor([[2.0, 6.0, 10.0, 25.0]])  # the last write is dumped far away
    weights = _one_hot(slots)
    weights[0, 1] = 0.0
    weights[0, 1, 5] = weights[0, 1, 7] = 0.5  # mean location 6
    everything, = write_location_fits(priorities, weights)
    chosen, = write_location_fits(priorities, weights, torch.tensor([[True, True, True, False]]))
    assert chosen.r2 == pytest.approx(1.0) and chosen.slope == pytest.approx(4.0)
    assert everything.r2 < 0.5
    # hand-computed Theil-Sen: pairwise slopes -21.1, -7.9, 4, 4, 4, 230 -> 4; intercepts
    # 6, 6, 6, 28.6 -> 6; the dumped write is the one off the line
    assert (everything.robust_slope, everything.robust_intercept) == pytest.approx((4.0, 6.0))
    assert everything.within == 0.75
    assert chosen.focus == pytest.approx((1 + 0.5 + 1) / 3)


def test_the_figure_draws_the_best_placing_head_not_a_diffuse_one() -> None:
    def fit(head: int, r2: float, focus: float) -> WriteFit:
        return WriteFit(head, 1.0, 0.0, r2, 0, focus, 1.0, 0.0, 1.0)

    diffuse, placing, better = fit(0, 0.9, FOCUSED / 2), fit(1, 0.4, 0.7), fit(2, 0.6, FOCUSED)
    assert drawn_head([diffuse, placing, better]) == better
    assert drawn_head([diffuse, placing]) == placing
    assert drawn_head([diffuse, fit(1, 0.2, 0.01)]) == diffuse  # none places: the best R^2


def test_reads_are_scored_against_the_sorted_order_whoever_sorts() -> None:
    """Inputs written in order to slots 5-8; priorities rank them 1, 3, 0, 2 (slots 6, 8, 5, 7).
    Head 0 reads the sorted slots; head 1 reads in input order; head 2 reads the sorted slots a
    step early (its read vector reaches the next step's output); head 3 gets 2 of 4 right.
    Slot 0, read at the delimiter, was written by no input."""
    priorities = torch.tensor([[0.1, 0.9, -0.5, 0.3]])
    writes = _one_hot(torch.tensor([[5, 6, 7, 8]]))  # (1, 4, N): one write head
    sorted_slots, in_order = [6, 8, 5, 7], [5, 6, 7, 8]
    reads = torch.stack([_one_hot(torch.tensor([[0, *sorted_slots]])),  # delimiter, 4 outputs
                         _one_hot(torch.tensor([[0, *in_order]])),
                         _one_hot(torch.tensor([[*sorted_slots, 0]])),
                         _one_hot(torch.tensor([[0, 6, 8, 7, 5]]))], 2)
    fits = read_order_fits(priorities, writes, reads)
    # head 1 a step early: slots 0, 5, 6, 7 against 6, 8, 5, 7, the last one right
    assert fits == [ReadFit(0, 0, 1.0, 1.0, 0), ReadFit(1, 1, 0.25, 1.0, 0),
                    ReadFit(2, 1, 1.0, 1.0, 0), ReadFit(3, 0, 0.5, 1.0, 0)]
    # the writer is the write head that stored what a head reads: a second head writing the
    # same vectors more weakly to slots 5-8 and strongly to 20-23
    two = torch.stack([0.4 * writes + 0.6 * _one_hot(torch.tensor([[20, 21, 22, 23]])),
                       writes], 2)
    assert [f.writer for f in read_order_fits(priorities, two, reads)] == [1, 1, 1, 1]
    assert read_order_fits(priorities, two, reads)[0].fetched == 1.0
    # a slot belongs to its strongest write: input 0 also writes weakly to slot 6
    weak = writes.clone()
    weak[0, 0, 6] = 0.3
    assert read_order_fits(priorities, weak, reads)[0].fetched == 1.0
    # an unwritten slot holds no vector, not input 0's: input 0 ranks first here (slot 5)
    first = torch.tensor([[0.9, 0.1, -0.5, 0.3]])  # ranks 0, 3, 1, 2: slots 5, 8, 6, 7
    unwritten = _one_hot(torch.tensor([[5, 0, 8, 6, 7]])).unsqueeze(2)
    assert read_order_fits(first, writes, unwritten)[0].fetched == 0.75
    soft = reads.clone()
    soft[..., 0, :] = 0.5 * soft[..., 0, :] + 0.5 / N
    assert read_order_fits(priorities, writes, soft)[0].focus == pytest.approx(0.5 + 0.5 / N)
    with pytest.raises(ValueError, match="read_weightings"):
        read_order_fits(priorities, writes, reads[:, :, :, :5])
    with pytest.raises(ValueError, match="M <= n"):
        read_order_fits(priorities, writes, torch.cat([reads, reads], 1))


def test_errors_are_binned_by_the_gap_to_the_nearest_other_priority() -> None:
    """Priorities 0.9, 0.5, 0.503, -0.2: output order 0.9, 0.503, 0.5 (the top 3), whose
    nearest others are 0.4, 0.003 and 0.003 away; 1, 3 and 4 wrong bits."""
    priorities = torch.tensor([[0.9, 0.5, 0.503, -0.2]])
    wrong = torch.tensor([[1.0, 3.0, 4.0]])
    rows = errors_by_gap(priorities, wrong, edges=(0.0, 0.005, 0.5, 2.0))
    assert [(r.low, r.high, r.vectors) for r in rows] == [(0.0, 0.005, 2), (0.005, 0.5, 1),
                                                          (0.5, 2.0, 0)]
    assert rows[0].wrong_bits == pytest.approx(3.5) and rows[0].share == pytest.approx(7 / 8)
    assert rows[1] == GapErrors(0.005, 0.5, 1, 1.0, 1 / 8)
    assert rows[2] == GapErrors(0.5, 2.0, 0, 0.0, 0.0)
    assert all(r.share == 0.0 for r in errors_by_gap(priorities, torch.zeros(1, 3)))
    with pytest.raises(ValueError, match="M <= n"):
        errors_by_gap(priorities, torch.zeros(1, 5))


def test_bad_shapes_are_refused() -> None:
    with pytest.raises(ValueError, match="must be"):
        write_location_fits(torch.zeros(2, 5), torch.zeros(2, 4, 1, N))
    with pytest.raises(ValueError, match="two writes"):
        write_location_fits(torch.zeros(1, 1), torch.ones(1, 1, 1, N))


def test_the_figure_and_fits_of_an_ntm_and_nothing_for_an_lstm(tmp_path: Path) -> None:
    from mneme.tasks.algorithmic import PrioritySortConfig, PrioritySortTask

    task = PrioritySortTask(PrioritySortConfig(num_inputs=6, num_outputs=4, valid_size=4,
                                               test_size=8))
    torch.manual_seed(0)
    ntm = build_model("ntm", composed_config(registry.core_entry("ntm"))(
        memory_size=16, word_size=4, controller_size=8, write_heads=2), task).eval()
    paths = plot_priority_sort(task, ntm, tmp_path / "writes.png", sequences=8, title="ntm")
    assert [p.name for p in paths] == ["writes.png", "writes.json"]
    assert (tmp_path / "writes.svg").is_file()
    stored = json.loads(paths[1].read_text())
    assert stored["sequences"] == 8 and len(stored["fits"]) == len(stored["fits_output"]) == 2
    assert all(0.0 <= f["r2"] <= 1.0 for f in stored["fits"])
    assert len(stored["reads"]) == 1 and 0.0 <= stored["reads"][0]["fetched"] <= 1.0
    # the drawn write head is the one that stored what the read head fetches
    assert stored["reads"][0]["writer"] == 1
    assert stored["drawn"] == {"write_head": 1, "read_head": 0}
    # over the whole test set: every one of its 8 x 4 output vectors in one bin
    assert sum(g["vectors"] for g in stored["errors_by_gap"]) == 8 * 4
    from mneme.viz.ntm import plot_algorithmic_run  # what ``mneme plot`` draws for the task

    drawn = plot_algorithmic_run(task, ntm, tmp_path / "plots", examples=1, title="ntm")
    assert [p.name for p in drawn] == ["sequence-0.png", "priority-sort-writes.png",
                                       "priority-sort-writes.json"]
    lstm = build_model("lstm", composed_config(registry.core_entry("lstm"))(hidden_size=8),
                       task).eval()
    assert plot_priority_sort(task, lstm, tmp_path / "lstm.png", sequences=8) == []
