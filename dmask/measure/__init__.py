"""Measure: frames to mask parameters. Detection, face mesh and iris (tracking.py, inference.py and its runtimes),
whether each eye is seen (occlusion.py), full-resolution refinement (refine.py), the fit and the identity policy
(fit.py, action_units.py) onto the population's face (avatar.py), and the clinical units and criteria they are published in (clinical.py)."""
