"""Playlists: announcements, media and silences in order, with chimes and gaps; M3U8."""
