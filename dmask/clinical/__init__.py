"""Clinical: what a clinician reads about a recording, from its signals alone.

recording.py puts a recording's signals on the source's frame grid; blinks.py
and oscillation.py find its blinks and any nystagmus; summary.py is every
figure of its summary as one typed record (ClinicalSummary), and report.py
writes `dmask report`'s folder. The PDF and the SR (dmask.export) read the
same record. Needs the `report` extra (matplotlib and SciPy) to write.
"""
