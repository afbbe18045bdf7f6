"""A site's schedule file (``cunxiang apply``, ``demo``, ``export``): every part at once.

It creates or updates areas, day types, announcements, playlists, schedules, users, crews and
speakers through each part's own service, so it sits above all of them, beside the command
line that runs it.
"""
