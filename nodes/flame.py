"""FLAME Fit, Face Measurements and Measurement Sheet: the FLAME_FIT / MEASUREMENTS node family.

Nodes only convert tensors and call ``pipelines.flame``; everything heavy is imported on first use.
"""

from __future__ import annotations

from .compat import Progress, check_interrupted, folder

CATEGORY = "PLAYALTER/flame"
MESH_FORMATS = ("none", "obj", "ply", "obj+ply", "glb")


class PlayAlterFLAMEFit:
    DESCRIPTION = (
        "Fit the FLAME 3D head model to every detected face (68 or 106 landmarks work best; 5 keypoints give "
        "a rough fit). Outputs FLAME_FIT (parameters, mesh in metres, projected mesh, residuals), a preview "
        "with the fitted wireframe (green), fitted landmarks (red) and detected landmarks (blue), and JSON. "
        "Needs FLAME (generic_model.pkl or flame2023*.pkl) in models/flame/; see https://flame.is.tue.mpg.de/."
    )
    CATEGORY = CATEGORY
    FUNCTION = "fit"
    RETURN_TYPES = ("FLAME_FIT", "IMAGE", "STRING")
    RETURN_NAMES = ("flame_fit", "preview", "fit_json")

    @classmethod
    def INPUT_TYPES(cls):
        return {
            "required": {
                "image": ("IMAGE",),
                "faces": ("FACES",),
                "shape_components": ("INT", {"default": 100, "min": 1, "max": 300,
                                             "tooltip": "FLAME identity components to fit"}),
                "expression_components": ("INT", {"default": 50, "min": 0, "max": 100,
                                                  "tooltip": "FLAME expression components to fit"}),
                "focal_35mm": ("FLOAT", {"default": 50.0, "min": 8.0, "max": 600.0, "step": 1.0,
                                         "tooltip": "35 mm-equivalent focal length of the photo (EXIF "
                                                    "FocalLengthIn35mmFilm); 50 when unknown"}),
            },
            "optional": {
                "same_person": ("BOOLEAN", {"default": False,
                                            "tooltip": "every face in the batch is one person: fit one shared shape"}),
                "export_mesh": (list(MESH_FORMATS), {"default": "none",
                                                     "tooltip": "write each fitted mesh to the output folder"}),
                "include_mesh_in_json": ("BOOLEAN", {"default": False}),
            },
        }

    def fit(self, image, faces, shape_components, expression_components, focal_35mm, same_person=False,
            export_mesh="none", include_mesh_in_json=False):
        from ..pipelines.flame.api import fit_batch, flame_linear_model
        from ..pipelines.flame.fitting import FitOptions
        from ..pipelines.engine.mesh_io import draw_fit, write_mesh
        from ..pipelines.flame.result import fits_to_json
        from ..pipelines.flame.schemes import to_ibug68
        from .tensors import image_batch_to_numpy, numpy_to_image_batch

        frames = image_batch_to_numpy(image)
        model = flame_linear_model()
        options = FitOptions(n_shape=shape_components, n_expression=expression_components)
        progress = Progress(sum(len(image_faces) for image_faces in faces))
        fits = fit_batch([(frame.shape[1], frame.shape[0]) for frame in frames], faces, model, options,
                         focal_35mm=focal_35mm, fuse_person=same_person, on_face=progress.update)
        previews = []
        for index, (frame, image_fits, image_faces) in enumerate(zip(frames, fits, faces)):
            check_interrupted()
            preview = frame
            for number, (fit, face) in enumerate(zip(image_fits, image_faces)):
                preview = draw_fit(preview, fit.vertices_2d, fit.vertices, fit.triangles, fit.landmarks_2d,
                                   to_ibug68(face)[0])
                for suffix in _suffixes(export_mesh):
                    path = folder("output") / "flame" / f"flame_fit_{index:03d}_{number:02d}.{suffix}"
                    write_mesh(path, fit.vertices, fit.triangles)
            previews.append(preview)
        return fits, numpy_to_image_batch(previews), fits_to_json(fits, include_mesh_in_json)


def _check_same_batch(faces, frames) -> None:
    """FACES must describe the IMAGE batch image by image."""
    from ..pipelines.core.errors import InvalidParameterError

    if len(faces) != len(frames):
        raise InvalidParameterError(f"FACES describe {len(faces)} images but the IMAGE batch has {len(frames)}: "
                                    "connect the images the faces were found in")


def _suffixes(export_mesh: str) -> list[str]:
    return [] if export_mesh == "none" else export_mesh.split("+")


class PlayAlterFaceMeasurements:
    DESCRIPTION = (
        "Facial measurements in millimetres. With a FLAME fit: Farkas-style distances on the neutralised "
        "3D head with uncertainties and z-scores against adult norms. Without one: connect FACES; faces with "
        "dense landmarks are measured in 3D on the MediaPipe mesh scaled by the iris diameter (each value "
        "says whether it is valid and why not); faces without them get a landmark-only estimate scaled by "
        "an assumed 63 mm interpupillary distance, clearly labelled. scale replaces the iris with a reference "
        "you know: 'card' (an ID-1 bank card held flat beside the face, found in the connected image), or JSON "
        "{\"ipd_mm\": 63.5}, {\"mm_per_px\": 0.21}, {\"segment\": [[x0, y0], [x1, y1]], \"length_mm\": 85.6}. "
        "export_mesh writes the dense face meshes (mm) when no FLAME fit is connected. fuse: the batch's "
        "images are one person (photos or video frames); the largest face of each is measured and each "
        "measurement fused into one robust value with its spread and frame count, invalid frames left out "
        "of what they invalidate; images of different people are refused (docs/measurements.md, fusion)."
    )
    CATEGORY = CATEGORY
    FUNCTION = "measure"
    RETURN_TYPES = ("MEASUREMENTS", "STRING")
    RETURN_NAMES = ("measurements", "measurements_json")

    @classmethod
    def INPUT_TYPES(cls):
        return {
            "required": {},
            "optional": {
                "flame_fit": ("FLAME_FIT",),
                "faces": ("FACES", {"tooltip": "used when no FLAME fit is connected (dense mesh, else "
                                               "landmark-only estimate)"}),
                "export_mesh": (list(MESH_FORMATS), {"default": "none",
                                                     "tooltip": "without a FLAME fit: write each face's dense "
                                                                "mesh (mm) to the output folder"}),
                "image": ("IMAGE", {"tooltip": "the photos the faces were found in: needed for scale 'card'"}),
                "scale": ("STRING", {"default": "iris",
                                     "tooltip": "dense mesh only: iris, card, or JSON {\"ipd_mm\": 63.5} / "
                                                "{\"mm_per_px\": 0.21} / {\"segment\": [[x0, y0], [x1, y1]], "
                                                "\"length_mm\": 85.6}"}),
                "fuse": ("BOOLEAN", {"default": False,
                                     "tooltip": "dense mesh only: the images are one person; fuse their "
                                                "measurements into one (scale iris, card or ipd_mm)"}),
            },
        }

    def measure(self, flame_fit=None, faces=None, export_mesh="none", image=None, scale="iris", fuse=False):
        from ..pipelines.core.errors import InvalidParameterError
        from ..pipelines.engine.face_mesh_export import export_face_mesh
        from ..pipelines.engine.scale_reference import parse_scale
        from ..pipelines.flame.measurements import measure_fit, measure_landmarks, measurements_to_json
        from .tensors import image_batch_to_numpy

        if flame_fit is None and faces is None:
            raise InvalidParameterError("connect a FLAME fit, or FACES for landmark-only estimates")
        scale = parse_scale(scale)
        frames = image_batch_to_numpy(image) if image is not None else None
        if faces is not None and frames is not None:
            _check_same_batch(faces, frames)
        if fuse:
            if flame_fit is not None:
                raise InvalidParameterError("fuse works on the dense-mesh measurements: disconnect the FLAME fit")
            results = [_fused(faces, frames, scale)]
            return results, measurements_to_json(results)
        results = []
        if flame_fit is not None:
            if faces is not None and len(faces) != len(flame_fit):
                raise InvalidParameterError(f"FACES describe {len(faces)} images but the FLAME fit "
                                            f"{len(flame_fit)}: connect the faces the FLAME fit was made from")
            sexes = [[face.sex for face in image_faces] for image_faces in faces] if faces is not None else None
            for image_index, image_fits in enumerate(flame_fit):
                for face_index, fit in enumerate(image_fits):
                    sex = sexes[image_index][face_index] if sexes is not None else None
                    results.append({"image": image_index, "face": face_index, **measure_fit(fit, sex)})
        else:
            for image_index, image_faces in enumerate(faces):
                frame = frames[image_index] if frames is not None else None
                for face_index, face in enumerate(image_faces):
                    results.append({"image": image_index, "face": face_index,
                                    **measure_landmarks(face, scale, frame)})
                    if face.mesh is not None:
                        for suffix in _suffixes(export_mesh):
                            name = f"face_mesh_{image_index:03d}_{face_index:02d}.{suffix}"
                            export_face_mesh(face, folder("output") / "face_mesh" / name)
        return results, measurements_to_json(results)


def _fused(faces, frames, scale) -> dict:
    """The fused measurement entry of a batch of one person's images (the largest face of each), placed
    on the reference image's largest face."""
    from ..pipelines.core.errors import InvalidParameterError, NoFaceError
    from ..pipelines.engine.measurement_fusion import Frame, fuse_frames

    if faces is None or frames is None:
        raise InvalidParameterError("fuse needs FACES and the image batch they were found in")
    missing = [index for index, image_faces in enumerate(faces) if not image_faces]
    if missing:
        raise NoFaceError(f"image {missing[0]} of the batch has no face: every image to fuse must show the person")
    names = [f"image {index}" for index in range(len(faces))]
    fused = fuse_frames([Frame(frames[index], image_faces[0], names[index])
                         for index, image_faces in enumerate(faces)], scale)
    return {"image": names.index(fused["fusion"]["reference_frame"]), "face": 0, **fused}


class PlayAlterMeasurementSheet:
    DESCRIPTION = (
        "The measurement sheet: each photo with every measured distance drawn as a numbered calliper (valid "
        "ones green, flagged ones orange) and the scale reference (irises, card or segment) in blue, a frontal and "
        "a profile view of each face's mesh with the same callipers, and a panel listing each value with its "
        "uncertainty, or why it is flagged. Dense-mesh measurements only."
    )
    CATEGORY = CATEGORY
    FUNCTION = "draw"
    RETURN_TYPES = ("IMAGE",)
    RETURN_NAMES = ("sheet",)

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"image": ("IMAGE",), "faces": ("FACES",), "measurements": ("MEASUREMENTS",)}}

    def draw(self, image, faces, measurements):
        import numpy as np

        from ..pipelines.engine.measurement_sheet import draw_measurement_sheet
        from .tensors import image_batch_to_numpy, numpy_to_image_batch

        frames = image_batch_to_numpy(image)
        _check_same_batch(faces, frames)
        by_face = {(entry["image"], entry["face"]): entry for entry in measurements}
        sheets = [draw_measurement_sheet(frame, image_faces, [by_face.get((index, number))
                                                              for number in range(len(image_faces))])
                  for index, (frame, image_faces) in enumerate(zip(frames, faces))]
        height, width = max(sheet.shape[0] for sheet in sheets), max(sheet.shape[1] for sheet in sheets)
        padded = []  # one batch needs one size: white below and to the right
        for sheet in sheets:
            canvas = np.full((height, width, 3), 255, np.uint8)
            canvas[:sheet.shape[0], :sheet.shape[1]] = sheet
            padded.append(canvas)
        return (numpy_to_image_batch(padded),)


NODE_CLASS_MAPPINGS = {
    "PlayAlterFLAMEFit": PlayAlterFLAMEFit,
    "PlayAlterFaceMeasurements": PlayAlterFaceMeasurements,
    "PlayAlterMeasurementSheet": PlayAlterMeasurementSheet,
}
NODE_DISPLAY_NAME_MAPPINGS = {
    "PlayAlterFLAMEFit": "FLAME Fit (PLAYALTER)",
    "PlayAlterFaceMeasurements": "Face Measurements (PLAYALTER)",
    "PlayAlterMeasurementSheet": "Measurement Sheet (PLAYALTER)",
}
