"""Recording usage and answering usage totals."""
