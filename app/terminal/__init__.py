"""The reference terminal: fetches its program, caches media, plays on time, reports back."""
