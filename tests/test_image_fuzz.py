"""Fuzz the one image validator with mutated headers and truncations of real JPEG, PNG, WebP and TIFF files.

Whatever the bytes, ``load_image`` either returns uint8 [H,W,3] within the size limits or raises
ImageValidationError: no other exception, no hang, bounded memory. Derandomized with a small budget,
so every run tries the same examples.
"""

from __future__ import annotations

import tracemalloc
from datetime import timedelta

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st
from PIL import Image

from conftest import encoded

from playalter.pipelines.core.errors import ImageValidationError
from playalter.pipelines.images import load_image

MAX_SIDE = 4096
PEAK_BYTES = 512 * 1024 * 1024


@pytest.fixture(scope="module")
def originals(t1_path) -> list[bytes]:
    skimage_data = pytest.importorskip("skimage.data")
    astronaut = Image.fromarray(skimage_data.astronaut()).resize((160, 160))
    return [t1_path.read_bytes(), encoded(astronaut, "JPEG", progressive=True), encoded(astronaut, "PNG"),
            encoded(astronaut, "WEBP", quality=80), encoded(astronaut, "TIFF", compression="tiff_deflate"),
            encoded(astronaut, "TIFF")]


mutation = st.tuples(st.integers(min_value=0, max_value=1023), st.integers(min_value=0, max_value=255))


def _check(data: bytes) -> None:
    tracemalloc.start()
    try:
        try:
            image = load_image(data)
        except ImageValidationError:
            return
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert image.dtype == np.uint8 and image.ndim == 3 and image.shape[2] == 3
    assert max(image.shape[:2]) <= MAX_SIDE
    assert peak < PEAK_BYTES


@settings(max_examples=120, derandomize=True, deadline=timedelta(seconds=20),
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(which=st.integers(min_value=0, max_value=5), mutations=st.lists(mutation, min_size=1, max_size=6))
def test_mutated_headers_are_refused_or_decoded(originals, which, mutations):
    data = bytearray(originals[which])
    for offset, value in mutations:
        data[offset % len(data)] = value
    _check(bytes(data))


@settings(max_examples=60, derandomize=True, deadline=timedelta(seconds=20),
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(which=st.integers(min_value=0, max_value=5), keep=st.floats(min_value=0.0, max_value=0.999),
       tail=st.sampled_from([b"", b"\xff\xd9", b"IEND\xaeB`\x82", b"\x00" * 16]))
def test_truncations_are_refused(originals, which, keep, tail):
    data = originals[which]
    cut = data[:int(len(data) * keep)] + tail
    with pytest.raises(ImageValidationError):
        load_image(cut)
