"""Attention: scoring functions, soft/hard/key-value/multi-head attention, pointer networks."""
