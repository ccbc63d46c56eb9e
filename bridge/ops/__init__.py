"""What an operator runs: each ``scim-ldap-bridge`` command's implementation, beside the tool it runs.

``bridge.cli`` parses the command line and imports the module of the command given, only then (so that
``token new`` loads neither ldap3 nor falcon). Nothing here imports ``bridge.cli``.

- :mod:`~bridge.ops.exits`: the exit codes, and :class:`~bridge.ops.exits.Stop`;
- :mod:`~bridge.ops.check`: the configuration as a command loads it (its problems printed), ``check-config``
  (``--probe``) and ``dump-config``;
- :mod:`~bridge.ops.serve`: ``serve``, one process or a parent of workers (:mod:`~bridge.ops.workers`), run
  as a systemd service (:mod:`~bridge.ops.systemd`: notify, watchdog, graceful stop and reload);
- :mod:`~bridge.ops.tokens`: ``token new``, ``token client new``, ``token secret new``, ``token key new``;
- :mod:`~bridge.ops.init`: ``init``, a working configuration from the directory itself;
- :mod:`~bridge.ops.preview`: ``preview``, one SCIM request over a dry-run directory;
- :mod:`~bridge.ops.selftest`: ``selftest``, Entra's recorded flows replayed in a sandbox OU;
- :mod:`~bridge.ops.sweep` and :mod:`~bridge.ops.breaker`: ``sweep`` (delete users disabled long ago)
  and ``breaker status|release``;
- :mod:`~bridge.ops.report`: ``report``, provisioning activity from the audit log;
- :mod:`~bridge.ops.demo`: ``demo``, the bridge against a throwaway directory.
"""
