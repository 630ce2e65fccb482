"""Usage alerts: threshold crossings recorded with the usage (an outbox) and delivered as Standard Webhooks."""
