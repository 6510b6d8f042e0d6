"""FLAME (and generic linear morphable model) loading, fitting and facial measurements.

loading       safe FLAME .pkl loading (restricted unpickler) and validation -> FlameModel
lbs           FLAME's forward model in numpy (blend shapes, pose correctives, skinning)
landmarks     PLAYALTER's 68 iBUG points and anthropometric points on FLAME topology
model         LinearModel: FLAME or any mean + shape + expression model (the Surrey Face Model)
schemes       detector landmarks (68, 106, 3D-68, 5 keypoints) -> the iBUG-68 set
fitting       Gauss-Newton landmark fitter, one photo or several sharing one shape
result        FlameFit, the FLAME_FIT record
api           fit every face of every image (what nodes and the runner call)
measurements  Farkas-style measurements in mm, and the landmark-only fallback
mesh_io       OBJ / PLY / GLB export and the fit preview drawing
"""
