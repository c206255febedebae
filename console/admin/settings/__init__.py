"""Runtime settings from the catalogue, and the connection tests."""
