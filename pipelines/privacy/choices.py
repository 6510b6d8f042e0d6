"""Option values shared by the privacy engine and the node widgets; importing this module is free."""

MASK_TYPES = ("blur", "pixelate", "noise", "solid", "synthetic")
COVERAGES = ("face", "face_margin", "head")
MAX_LEVELS = 16
