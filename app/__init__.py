"""cunxiang (村响): village emergency-broadcast scheduling service."""

__version__ = "0.1.0"
