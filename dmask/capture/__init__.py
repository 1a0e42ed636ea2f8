"""Capture: where frames come from. Photo and video files (media.py) and the daemon's live sources (sources.py)."""
