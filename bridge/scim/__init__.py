"""The SCIM protocol, pure: no I/O, no web framework, no LDAP."""
