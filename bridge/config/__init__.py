"""Configuration: frozen dataclasses, loaded from one YAML file and validated once at start.

- :mod:`bridge.config.settings`: the dataclasses, one per section, each key documented in its field;
- :mod:`bridge.config.load`: :func:`load_settings` and :func:`parse_settings` (ConfigError lists every
  problem with its YAML path), :func:`dump_settings`;
- :mod:`bridge.config.checks`: the rules that span keys or look at the machine;
- :mod:`bridge.config.secret`: :class:`Secret` and :func:`read_bind_password`.

The names below are the package's public surface, imported from here across the bridge and its tests.
(The attribute map is read by :func:`bridge.mapping.load.load_maps`.)
"""

from bridge.config.checks import PLACEHOLDER_HASH
from bridge.config.load import ConfigError, dump_settings, load_settings, parse_settings
from bridge.config.secret import Secret, read_bind_password
from bridge.config.settings import (
    AuthConfig,
    DeprovisioningConfig,
    EntraTokensConfig,
    FederationConfig,
    LdapConfig,
    LoggingConfig,
    OAuthClientConfig,
    OAuthConfig,
    SafetyConfig,
    ScimConfig,
    ServerConfig,
    Settings,
)

__all__ = [
    "PLACEHOLDER_HASH",
    "AuthConfig",
    "ConfigError",
    "DeprovisioningConfig",
    "EntraTokensConfig",
    "FederationConfig",
    "LdapConfig",
    "LoggingConfig",
    "OAuthClientConfig",
    "OAuthConfig",
    "SafetyConfig",
    "ScimConfig",
    "Secret",
    "ServerConfig",
    "Settings",
    "dump_settings",
    "load_settings",
    "parse_settings",
    "read_bind_password",
]
