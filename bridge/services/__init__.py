"""The domain: what the bridge does with SCIM users and groups, whatever the directory."""
