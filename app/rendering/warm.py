"""Imported by the render processes' fork server: loads the phrasebook once for all of them."""

from app.rendering.phrasebook import phrasebook
from app.rendering.polyphones import rules

phrasebook()
rules()
