"""Associative memory and fast weights: Hopfield networks, modern Hopfield layers, fast weights."""
