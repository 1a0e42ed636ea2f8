"""`dmask view`: the telemedicine live view, a small HTTPS service a clinician opens in a browser.

It subscribes to the daemon like the recorder (`relay.py`) and relays what
is published, and nothing else: the masked frames as they arrive (the
daemon's JPEG bytes, unchanged, as an MJPEG stream), the signals and the
status (Server-Sent Events), which the page (`static/`) draws. Every request
but the login form needs a session (`auth.py`: hashed passwords made with
`dmask view add-user`, expiring sessions, locked-out failed logins, CSRF
tokens); every response carries a strict content security policy
(`app.py`). It never sees the camera, and never writes a frame anywhere.
"""
