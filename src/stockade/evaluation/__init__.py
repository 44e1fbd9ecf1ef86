"""Held-out evaluation of model versions: metrics that suit Chinese, loss/perplexity, side-by-side reports."""
