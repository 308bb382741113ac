"""Decoding strategies for language models and seq2seq: greedy, sampling, beam search."""
