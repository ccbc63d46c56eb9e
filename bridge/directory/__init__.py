"""The storage port (base.py) and its adapters."""
