"""Internal memory: recurrent cells and stacks (Elman, IRNN, LSTM variants, GRU)."""
