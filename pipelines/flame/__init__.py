"""FLAME (and generic linear morphable model) loading, fitting and facial measurements."""
