"""Errors the engine raises on purpose; every entry point turns them into clear messages."""


class PlayalterError(Exception):
    """Base class: the message is meant for the user, as is."""

    code = "playalter_error"


class InvalidParameterError(PlayalterError, ValueError):
    code = "invalid_parameter"


class ImageValidationError(PlayalterError, ValueError):
    code = "invalid_image"


class NoFaceError(PlayalterError):
    code = "no_face"


class ModelMissingError(PlayalterError, FileNotFoundError):
    """A model file a feature needs is absent; the message says where we looked and how to get it."""

    code = "model_missing"

    def __init__(self, model: str, feature: str, searched: list[str], how_to_obtain: str, reason: str = ""):
        self.model = model
        self.feature = feature
        self.searched = list(searched)
        self.how_to_obtain = how_to_obtain
        self.reason = reason  # why it was not fetched automatically, when that was tried
        paths = "\n".join(f"  - {path}" for path in self.searched) or "  (no folder configured)"
        super().__init__(
            f"{feature} needs the model '{model}', which was not found.\n"
            f"Searched:\n{paths}\n"
            + (f"{reason}\n" if reason else "")
            + f"How to obtain it: {how_to_obtain}"
        )


class DependencyMissingError(PlayalterError):
    """A feature needs an optional Python package that is not installed; the message names the pip command."""

    code = "dependency_missing"


class ModelCorruptError(PlayalterError):
    code = "model_corrupt"


class ModelUnknownError(PlayalterError, KeyError):
    code = "model_unknown"

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0])


class ModelDownloadError(PlayalterError):
    """A download failed or was refused; the message says why and what to do instead."""

    code = "model_download_failed"


class ModelSourcesFailedError(ModelDownloadError):
    """Every download source of a model failed; ``failures`` holds one line per source, saying why."""

    def __init__(self, model: str, failures: list[str], how_to_obtain: str):
        self.failures = list(failures)
        super().__init__(
            f"could not fetch '{model}'; every source failed:\n" + "\n".join(self.failures)
            + f"\nHow to obtain it by hand: {how_to_obtain}"
        )


class VideoError(PlayalterError):
    """The video cannot be read or written; the message names the file's problem (codec, damage)."""

    code = "invalid_video"


class VideoCancelledError(PlayalterError):
    """The caller cancelled; nothing was written at the target."""

    code = "cancelled"
