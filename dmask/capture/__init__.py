"""Capture: where frames come from. Photo and video files (media.py), the daemon's live sources (sources.py), what
of a source setting may be shown (redaction.py), and the newest-frame hand-over that keeps capture from waiting
(slot.py)."""
