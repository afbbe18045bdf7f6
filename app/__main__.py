"""``python -m app``: the same as the ``cunxiang`` command."""

from app.cli import main

main()
