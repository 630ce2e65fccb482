"""What every HTTP route shares: authentication and guards, problem details, strict input, OpenAPI helpers, query
parameters, page cursors, the rate limit and the middleware chain."""
