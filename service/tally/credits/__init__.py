"""Credits: grants of a feature on top of a tenant's plan allowance, and their live balances."""
