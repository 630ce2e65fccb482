"""Plain structs and errors of the domain: no I/O here."""
