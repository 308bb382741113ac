"""The benchmark: named suites of (task, model, config, seeds, budget) cells, a resumable runner,
and reports that print mneme's numbers beside the published ones (``anchors``)."""
