"""Which of MediaPipe's 468 face-mesh points is which: the one home of the mesh's index facts.

The fit, the renderer, the tracker, the iris crop and the avatar builder all
pick mesh points by number. Stated in several places, a number can drift in
one of them (an eye crop cut from other corners than the fit measures from),
so each is stated here once and everything that is a point of a contour
below is taken from that contour.
"""

from __future__ import annotations

import numpy as np

# Lid contours in the iris model's order: outer corner, lower lid (7, outer to
# inner), inner corner, upper lid (7, outer to inner).
RIGHT_LIDS = np.array([33, 7, 163, 144, 145, 153, 154, 155, 133, 246, 161, 160, 159, 158, 157, 173])
LEFT_LIDS = np.array([263, 249, 390, 373, 374, 380, 381, 382, 362, 466, 388, 387, 386, 385, 384, 398])
# Positions within a lid contour: the arrays above and the iris model's
# output (EyeObservation.lids) share this order.
OUTER_CORNER, INNER_CORNER = 0, 8
LOWER = slice(1, 8)
UPPER = slice(9, 16)
UPPER_MIDDLE = slice(11, 14)
LOWER_MIDDLE = slice(3, 6)
RIGHT_EYE_OUTER, RIGHT_EYE_INNER = RIGHT_LIDS[[OUTER_CORNER, INNER_CORNER]]
LEFT_EYE_OUTER, LEFT_EYE_INNER = LEFT_LIDS[[OUTER_CORNER, INNER_CORNER]]

# The ring of lid skin just outside each margin: first the points matching the
# margin's lower lid (1-7), then its upper lid (9-15), same order.
RIGHT_LID_RING = np.array([25, 110, 24, 23, 22, 26, 112, 247, 30, 29, 27, 28, 56, 190])
LEFT_LID_RING = np.array([255, 339, 254, 253, 252, 256, 341, 467, 260, 259, 257, 258, 286, 414])
RING_LOWER = slice(0, 7)
RING_UPPER = slice(7, 14)

# Lip contours, each from the right mouth corner over the upper lip and back
# along the lower one (20 points).
LIPS_OUTER = np.array([61, 185, 40, 39, 37, 0, 267, 269, 270, 409, 291, 375, 321, 405, 314, 17, 84, 181, 91, 146])
LIPS_INNER = np.array([78, 191, 80, 81, 82, 13, 312, 311, 310, 415, 308, 324, 318, 402, 317, 14, 87, 178, 88, 95])
RIGHT_MOUTH_CORNER, LEFT_MOUTH_CORNER = LIPS_OUTER[[0, 10]]
# The inner lips' three middle points, upper and lower: the mouth's opening is measured between them.
UPPER_LIP_MIDDLE, LOWER_LIP_MIDDLE = LIPS_INNER[4:7], LIPS_INNER[14:17]

RIGHT_BROW = np.array([70, 63, 105, 66, 107, 46, 53, 52, 65, 55])
LEFT_BROW = np.array([300, 293, 334, 296, 336, 276, 283, 282, 295, 285])
NOSE_TIP = 1
SUBNASALE = 2
# Mid-cheek points (the subject's right, then left).
CHEEKS = np.array([205, 425])
