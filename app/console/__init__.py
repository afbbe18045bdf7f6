"""The web console (/console): server-rendered pages for staff, reviewers and repair crews."""
