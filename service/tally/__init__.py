"""Tally: records metered usage exactly once and answers usage totals."""

__version__ = "2.0.0"
