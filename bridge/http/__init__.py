"""The only package that imports falcon."""
