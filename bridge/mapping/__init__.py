"""The YAML attribute-map engine, pure."""
