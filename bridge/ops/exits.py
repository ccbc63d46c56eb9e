"""How a command ends: its exit code, or :class:`Stop` raised once what went wrong is printed.

0 success; 1 an operational error (printed as one line), a failed selftest flow, a previewed request the
bridge would refuse, a sweep stopped by the circuit breaker, or ``breaker status`` finding the breaker
tripped; 2 bad usage or a configuration with problems (each printed on its own line with its YAML path).
"""

from __future__ import annotations

EXIT_OK, EXIT_FAILED, EXIT_CONFIG = 0, 1, 2


class Stop(Exception):
    """Ends a command with an exit code; what went wrong has been printed."""

    def __init__(self, code: int) -> None:
        super().__init__(code)
        self.code = code
