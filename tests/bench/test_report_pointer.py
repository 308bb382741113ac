"""The pointer suite and its report: cells, ours beside the paper, drawings of examples."""

from __future__ import annotations

import dataclasses

from mneme.bench.report import write_reports
from mneme.bench.report_pointer import pointer_section
from mneme.bench.runner import run_cell
from mneme.bench.suites import POINTER_PLAN, get_suite
from mneme.tasks.sorting import ConvexHullConfig, TSPConfig


def test_pointer_suite_cells_follow_the_plan():
    cells = get_suite("pointer").build(None)
    assert len(cells) == len(POINTER_PLAN)
    assert {c.task_name for c in cells} == {"sort", "convex-hull", "tsp"}
    for cell, (task, n, n_max, size, epochs) in zip(cells, POINTER_PLAN, strict=True):
        assert (cell.task_name, cell.task.n, cell.task.n_max) == (task, n, n_max)
        assert cell.task.train_size == size and cell.train.epochs == epochs
        assert cell.model_name == "ptr-net" and cell.train.batch_size == 128
        cell.task.validate()


def test_table_puts_the_paper_beside_ours():
    cells = {c.key: c for c in get_suite("pointer").build(None)}
    hull = cells["ptr-net-convex-hull-n5"]
    tsp = cells["ptr-net-tsp-n5"]
    finished = [
        (hull, {"test": {"error": 0.1, "area_coverage": 0.995, "failure": 0.002},
                "seconds": 10.0}),
        (tsp, {"test": {"error": 0.3, "tour_length": 2.15, "optimal_length": 2.12,
                        "length_ratio": 1.014}, "seconds": 5.0}),
    ]
    text, table = pointer_section(finished, None, plots=False)  # type: ignore[arg-type]
    assert "| convex-hull | 5 | accuracy % | 90.0 | 92.0 |" in table
    assert "| convex-hull | 5 | area % | 99.5 | 99.6 |" in table
    assert "| tsp | 5 | tour length | 2.150 | 2.12 |" in table
    assert "| tsp | 5 | optimal length | 2.120 |" in table
    assert "Vinyals et al. 2015" in text


def test_tiny_cell_trains_and_is_drawn(tmp_path):
    cell = get_suite("pointer").build(None)[0]
    tiny_task = ConvexHullConfig(n=5, train_size=256, valid_size=32, test_size=32)
    cell = dataclasses.replace(
        cell, task=tiny_task, model=dataclasses.replace(cell.model, hidden_size=8),
        train=dataclasses.replace(cell.train, epochs=1, tensorboard=False))
    key, summary, problem = run_cell(cell, str(tmp_path))
    assert problem is None and summary is not None
    table = write_reports(get_suite("pointer"), [(cell, summary)], tmp_path, seconds=1.0)
    assert "| convex-hull | 5 | accuracy % |" in table
    assert (tmp_path / "plots" / f"pointer-{key}.png").is_file()
    results = (tmp_path / "results.md").read_text()
    assert "## Pointer networks" in results and f"plots/pointer-{key}.png" in results


def test_tsp_cells_stay_within_the_exact_solver():
    for task, n, n_max, _, _ in POINTER_PLAN:
        if task == "tsp":
            TSPConfig(n=n, n_max=n_max).validate()
