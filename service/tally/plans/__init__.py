"""Plans, limits and entitlements: what a tenant may use per period, and how much of it is left."""
