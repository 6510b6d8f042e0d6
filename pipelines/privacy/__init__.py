"""Adaptive privacy masks, strength levels and the privacy self-audit."""
