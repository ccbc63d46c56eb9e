"""Throwaway servers for the demo and the tests (a real slapd on loopback)."""
