"""The face engine: detection, landmarks, dense mesh, pose, identity and the per-face report."""
