"""Authentication and authorisation: users, access tokens, API keys, roles and area scoping."""
