"""Where audio files live: a content-addressed store on local disk or in an S3-compatible bucket.

No database and no part of the domain: :mod:`app.media` records what is stored, and renders
(in worker processes) write through the same stores (:func:`app.storage.backend.open_store`).
"""
