"""Model downloads: resumable HTTP(S) transfer, sha256/size check, zip unpacking into place.

A download writes ``<target>.part`` and only renames it to ``<target>`` once its size
and sha256 match the registry, so a model file on disk is either complete and
verified or absent. An interrupted download resumes from the ``.part`` file with an
HTTP Range request (a server that ignores Range simply sends the whole file again).
"""

from __future__ import annotations

import logging
import os
import re
import shutil
import urllib.error
import urllib.request
import zipfile
from pathlib import Path
from typing import Callable

from .errors import ModelCorruptError, ModelDownloadError
from .models import Download, ModelFile, ModelSpec, get_spec, models_roots, sha256_of, verify

logger = logging.getLogger(__name__)

ProgressCallback = Callable[[int, int | None], None]  # (bytes on disk, total bytes or None)

_CHUNK = 1 << 20
_USER_AGENT = "playalter-model-fetch"


def _partial_path(target: Path) -> Path:
    return target.with_name(target.name + ".part")


def _open(url: str, offset: int, timeout: float):
    request = urllib.request.Request(url, headers={"User-Agent": _USER_AGENT})
    if offset:
        request.add_header("Range", f"bytes={offset}-")
    return urllib.request.urlopen(request, timeout=timeout)  # noqa: S310 (http/https only, checked)


def _resume_offset(response, offset: int) -> int:
    """Where the response body starts: ``offset`` for a matching 206, 0 when the server sent it all."""
    if offset and response.status == 206:
        match = re.match(r"bytes (\d+)-", response.headers.get("Content-Range", ""))
        if match and int(match.group(1)) == offset:
            return offset
        raise ModelDownloadError(f"the server answered the resume request with an unexpected range "
                                 f"({response.headers.get('Content-Range')!r}); delete the .part file and retry")
    return 0


def download_file(url: str, target: Path, *, sha256: str | None, size: int | None,
                  progress: ProgressCallback | None = None, timeout: float = 60.0) -> Path:
    """Download ``url`` to ``target`` (resuming ``target.part``), verify it, then move it into place."""
    if not url.startswith(("http://", "https://")):
        raise ModelDownloadError(f"only http(s) downloads are supported, not {url!r}")
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = _partial_path(target)
    offset = partial.stat().st_size if partial.is_file() else 0
    if size is not None and offset > size:
        partial.unlink()
        offset = 0
    if size is None or offset < size:
        offset = _transfer(url, partial, offset, size, progress, timeout)
    elif progress is not None:
        progress(offset, size)
    _verify_partial(partial, url, sha256, size)
    os.replace(partial, target)
    logger.info("downloaded %s (%d bytes) to %s", url, target.stat().st_size, target)
    return target


def _transfer(url: str, partial: Path, offset: int, size: int | None,
              progress: ProgressCallback | None, timeout: float) -> int:
    try:
        response = _open(url, offset, timeout)
    except urllib.error.HTTPError as error:
        if error.code == 416 and offset:  # nothing left to send: the .part may already be complete
            return offset
        raise ModelDownloadError(f"downloading {url} failed: HTTP {error.code} {error.reason}") from None
    except (urllib.error.URLError, OSError) as error:
        raise ModelDownloadError(f"cannot reach {url}: {getattr(error, 'reason', error)}") from None
    with response:
        offset = _resume_offset(response, offset)
        if offset:
            logger.info("resuming %s at byte %d", url, offset)
        length = response.headers.get("Content-Length")
        total = size if size is not None else (offset + int(length) if length else None)
        done = offset
        try:
            with open(partial, "ab" if offset else "wb") as handle:
                for chunk in iter(lambda: response.read(_CHUNK), b""):
                    handle.write(chunk)
                    done += len(chunk)
                    if progress is not None:
                        progress(done, total)
        except OSError as error:
            raise ModelDownloadError(
                f"the download of {url} stopped at byte {done} ({error}); run the same command again to resume"
            ) from None
    return done


def _verify_partial(partial: Path, url: str, sha256: str | None, size: int | None) -> None:
    actual_size = partial.stat().st_size
    if size is not None and actual_size != size:
        if actual_size < size:
            raise ModelDownloadError(
                f"the download of {url} ended early ({actual_size} of {size} bytes); "
                "run the same command again to resume"
            )
        partial.unlink()
        raise ModelCorruptError(f"{url} sent {actual_size} bytes, expected {size}: not installed")
    if sha256 is not None:
        actual = sha256_of(partial)
        if actual != sha256:
            partial.unlink()
            raise ModelCorruptError(
                f"the file downloaded from {url} has sha256 {actual}, expected {sha256}: not installed "
                "(the source serves a different file)"
            )


def _install_from_zip(archive: Path, files: tuple[ModelFile, ...], folder_root: Path) -> list[Path]:
    """Extract the registry's files (found by base name anywhere in the zip) into their places."""
    wanted = {Path(model_file.path).name: model_file for model_file in files}
    installed: list[Path] = []
    with zipfile.ZipFile(archive) as bundle:
        members = {Path(info.filename).name: info for info in bundle.infolist() if not info.is_dir()}
        absent = sorted(set(wanted) - set(members))
        if absent:
            raise ModelCorruptError(f"{archive.name} lacks {', '.join(absent)}: not installed")
        for name, model_file in wanted.items():
            target = folder_root / model_file.path
            target.parent.mkdir(parents=True, exist_ok=True)
            partial = _partial_path(target)
            with bundle.open(members[name]) as source, open(partial, "wb") as sink:
                shutil.copyfileobj(source, sink, _CHUNK)
            try:
                verify(model_file, partial)
            except ModelCorruptError:
                partial.unlink()
                raise
            os.replace(partial, target)
            installed.append(target)
    return installed


def default_root() -> Path:
    """Where ``playalter models fetch`` installs by default: the first standalone models root."""
    return models_roots()[0]


def fetch(name: str, root: Path | None = None, *, url: str | None = None,
          progress: ProgressCallback | None = None) -> list[Path]:
    """Download model ``name`` into ``root`` (default: ``default_root()``) and verify it.

    Returns the installed paths. Files already present and intact are kept.
    """
    spec = get_spec(name)
    _check_fetchable(spec, url)
    root = Path(root) if root is not None else default_root()
    folder_root = root / spec.files[0].folder
    targets = [folder_root / model_file.path for model_file in spec.files]
    if all(target.is_file() for target in targets):
        try:
            for model_file, target in zip(spec.files, targets):
                verify(model_file, target)
            logger.info("%s is already installed in %s", name, folder_root)
            return targets
        except ModelCorruptError as error:
            logger.warning("%s; downloading it again", error)
    source = spec.download
    if url:
        first = spec.files[0]
        source = (Download(url, source.sha256, source.size, source.is_zip) if source
                  else Download(url, first.sha256, first.size))
    if not source.is_zip:
        return [download_file(source.url, targets[0], sha256=source.sha256, size=source.size, progress=progress)]
    archive = folder_root / ".downloads" / f"{spec.name}.zip"
    download_file(source.url, archive, sha256=source.sha256, size=source.size, progress=progress)
    installed = _install_from_zip(archive, spec.files, folder_root)
    archive.unlink()
    return installed


def _check_fetchable(spec: ModelSpec, url: str | None) -> None:
    if spec.embedded:
        raise ModelDownloadError(f"'{spec.name}' needs no download: it is {spec.how_to_obtain}")
    if spec.licence_gated:
        raise ModelDownloadError(
            f"'{spec.name}' is licence-gated ({spec.licence}); playalter does not download it for you.\n"
            f"How to obtain it: {spec.how_to_obtain}"
        )
    if spec.download is None and url is None:
        raise ModelDownloadError(
            f"'{spec.name}' has no download source.\nHow to obtain it: {spec.how_to_obtain}"
        )
