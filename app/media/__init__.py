"""Media: the content-addressed audio store and the open /media route."""
