"""scim-ldap-bridge: provision SCIM 2.0 clients (Microsoft Entra ID first) into OpenLDAP and AD."""

__version__ = "0.1.0"
