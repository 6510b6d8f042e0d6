"""Face restoration (GFPGAN 1.4, CodeFormer, GPEN-BFR 512 / 1024, RestoreFormer++) as ONNX models.

``contracts.py`` says what each model expects (crop size, template, value range, inputs), ``network.py``
runs one model on an aligned crop, ``faces.py`` aligns every chosen face, restores it and pastes it back
inside the face's outline with a strength. It lives beside the swap because it pastes with the swap's
face outline and feathering, and because a swap can restore the faces it rendered.
"""
