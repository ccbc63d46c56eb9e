"""The ldap3 adapter: the only package that imports ldap3."""
