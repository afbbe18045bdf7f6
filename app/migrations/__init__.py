"""Alembic migrations of the cunxiang schema."""
