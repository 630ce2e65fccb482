"""Tally: records metered usage exactly once and answers usage totals."""

__version__ = "1.0.0"
