"""Errors for data files as a whole. Problems with single records are `RecordProblem`s, not errors."""

from __future__ import annotations

from stockade.core.errors import StockadeError


class DatasetError(StockadeError):
    """A data file cannot be read as a whole (encoding, broken JSON container, unreadable Parquet)."""


class TooManyProblems(DatasetError):
    """More problem records than the caller allowed (`max_problems`)."""
