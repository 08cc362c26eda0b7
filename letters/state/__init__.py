"""State: the `StateStore` protocol, its SQLite implementation, and the run lock."""
