"""Metric definitions of the downstream protocols (pure functions, numpy/torch in, floats out)."""
