"""Tracking: faces followed over frames, shared by the video pipeline and the privacy image batch.

One module per job:
    settings.py   the tracking defaults (free to import)
    tracker.py    face tracks: IoU + constant velocity, smoothing, held and extrapolated faces
    scenes.py     scene-cut detection
    loop.py       TrackingLoop: scene resets, tracker updates and the look-ahead that masks a face before it is found

Tracking knows faces and frames, nothing of privacy effects or video files, so both capabilities can use it.
"""
