"""The face engine: numpy, OpenCV, onnxruntime and torch only.

Nothing in this package imports ComfyUI, aiohttp or ``nodes``; it is usable as
a plain library (``from playalter.pipelines import privacy``).
"""
