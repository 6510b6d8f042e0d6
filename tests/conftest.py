"""Shared test fixtures: real photos from installed packages and ../shared/fixtures."""

from __future__ import annotations

import atexit
import io
import importlib.util
import os
import shutil
import tempfile
from pathlib import Path

import cv2
import numpy as np
import pytest

# No test downloads a model: models fetched on first use (face_mesh, iris) are fetched by .ci/run
# before the tests, and the tests that need them skip where they are absent.
os.environ.setdefault("PLAYALTER__MODELS__AUTO_FETCH", "false")
# Keys, jobs, secrets and fetched models default to the per-user folder: the tests get their own, never
# the real user's (models fetched by .ci/run are found through $PLAYALTER_MODELS_DIR or ./models).
os.environ["PLAYALTER_DATA_HOME"] = tempfile.mkdtemp(prefix="playalter-tests-")
atexit.register(shutil.rmtree, os.environ["PLAYALTER_DATA_HOME"], ignore_errors=True)

from playalter.pipelines.engine import face_mesh

REPO_ROOT = Path(__file__).resolve().parents[1]
SHARED_FIXTURES = REPO_ROOT.parent / "shared" / "fixtures"

requires_face_mesh = pytest.mark.skipif(
    not face_mesh.is_available(),
    reason="the MediaPipe face_mesh / iris models are absent (playalter models fetch face_mesh iris)")


def _face_mesh_available() -> bool:
    from playalter.pipelines.engine import face_mesh

    return face_mesh.is_available()


requires_face_mesh = pytest.mark.skipif(not _face_mesh_available(),
                                        reason="MediaPipe face mesh / iris models are absent "
                                               "(playalter models fetch face_mesh iris)")


def read_rgb(path: Path) -> np.ndarray:
    """uint8 [H,W,3] RGB."""
    bgr = cv2.imread(str(path), cv2.IMREAD_COLOR)
    assert bgr is not None, f"cannot read {path}"
    return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)


def encoded(image, fmt: str, **options) -> bytes:
    """A PIL image saved in memory in the format ``fmt`` ("PNG", "JPEG"...) with PIL's save ``options``."""
    buffer = io.BytesIO()
    image.save(buffer, format=fmt, **options)
    return buffer.getvalue()


def _package_dir(name: str) -> Path | None:
    spec = importlib.util.find_spec(name)
    if spec is None or spec.origin is None:
        return None
    return Path(spec.origin).parent


@pytest.fixture(scope="session")
def t1_path() -> Path:
    """insightface's group photo: six people at a table."""
    package = _package_dir("insightface")
    if package is None:
        pytest.skip("insightface is not installed (pip install --no-deps insightface)")
    return package / "data" / "images" / "t1.jpg"


@pytest.fixture(scope="session")
def t1_image(t1_path) -> np.ndarray:
    return read_rgb(t1_path)


@pytest.fixture(scope="module")
def t1_faces(t1_image):
    """t1's six faces numbered left to right, detected once per test module."""
    from playalter.pipelines.engine.detection import detect_faces

    return detect_faces(t1_image, order="left_to_right")


@pytest.fixture(scope="module")
def postgres():
    """A throwaway Postgres cluster for one test module (tests/scale_servers.py); skipped without postgres."""
    from scale_servers import PostgresCluster, require_postgres

    cluster = PostgresCluster(require_postgres())
    yield cluster
    cluster.destroy()


@pytest.fixture(scope="session")
def astronaut_image() -> np.ndarray:
    skimage_data = pytest.importorskip("skimage.data")
    return np.ascontiguousarray(skimage_data.astronaut())


@pytest.fixture(scope="session")
def shared_fixtures() -> Path:
    if not SHARED_FIXTURES.is_dir():
        pytest.skip(f"{SHARED_FIXTURES} is absent")
    return SHARED_FIXTURES


def shared_face_photos() -> list[Path]:
    """The photos of ../shared/fixtures/faces (empty list when absent); for parametrize."""
    folder = SHARED_FIXTURES / "faces"
    if not folder.is_dir():
        return []
    return sorted(path for path in folder.iterdir() if path.suffix.lower() in (".jpg", ".png"))


def _face_mesh_available() -> bool:
    from playalter.pipelines.engine import face_mesh

    return face_mesh.is_available()


requires_face_mesh = pytest.mark.skipif(not _face_mesh_available(),
                                        reason="the MediaPipe face mesh / iris models are absent (playalter models fetch)")
