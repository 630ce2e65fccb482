"""Billing periods: closing them (by hand or once their grace has passed) and listing them with their totals."""
