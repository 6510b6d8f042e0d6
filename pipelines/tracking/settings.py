"""The tracking defaults the video pipeline and the privacy image batch share (free to import: no numpy)."""

SMOOTHING = 0.5  # the prediction's weight in a matched face: steady masks without lagging behind
KEEP_LOST_FRAMES = 10  # frames a face the detector loses keeps its predicted mask
IOU_MATCH = 0.3  # overlap of a detection with a track's predicted box that continues the track
LOOKAHEAD_FRAMES = 8  # frames a face first found at frame k is also masked before k
SCENE_CUT = 0.5  # histogram correlation of two frames below which a new scene starts (0 = never)
