"""Pictures of runs: learning curves, attention and memory heatmaps."""
