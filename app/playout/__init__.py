"""Play orders, the priority rule (pure), terminal protocol, playlog."""
