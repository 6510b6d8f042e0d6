"""Face swap (InSwapper and the classical landmark warp), blending and the compatibility check."""
