"""Serve: the daemon and what stands around it. Its threads (service.py), the wire (transport.py), its health
(status.py, notify.py), and the recorder (recorder.py, recovery.py)."""
