"""Training: the loop, checkpoints, distributed data parallel, run directories (layer 5)."""
