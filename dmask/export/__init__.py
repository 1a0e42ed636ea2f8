"""Masked recordings into the hospital archive (`dmask export dicom`, `dmask record --pacs`).

A masked MP4 and its signals become DICOM instances of one study
(`package.py`): the video as Video Photographic Image Storage (`video.py`),
the clinical summary as Encapsulated PDF (`document.py`) and its key
measurements as a TID 1500 structured report (`report_sr.py`), each carrying
the PS3.15 de-identification attributes (`identity.py`). They are written to
a spool (`spool.py`) and delivered from it by C-STORE or STOW-RS (`pacs.py`),
so a PACS that is down loses nothing. Only rendered frames and signals are
ever read here: the input must be a file dmask itself wrote.
"""
