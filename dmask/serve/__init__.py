"""Serve: the daemon and what stands around it. Its threads (service.py), the wire (transport.py), its health
(status.py, notify.py), the recorder (recorder.py, recovery.py), and what of a source setting may be shown
(redaction.py)."""
