"""/Users over HTTP (falcon.testing) against the in-memory directory, one module per feature."""
