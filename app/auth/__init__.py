"""Who is calling and what they may do: principals, permissions, bearer tokens, area scoping.

User accounts, logins and API keys are :mod:`app.users`; terminals' tokens are the speakers'.
Each resolves its own kind of token; :mod:`app.wiring` tells :mod:`app.auth.tokens` which.
"""
