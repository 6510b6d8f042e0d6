"""Free space under the folders the service writes, kept above ``storage.min_free_mb``.

New work (a job, a staged upload) is refused once the free space of any of these folders' filesystems is below
the reserve, so that what is already admitted can still record its outcome, its audit row and its log lines; the
health check reports the same test (``/ready`` 503, ``/health`` degraded). The refusal is an ``OSError`` with
``ENOSPC``: the service answers it as any full disk, 507 ``insufficient_storage`` (``faults.py``).
"""

from __future__ import annotations

import errno
import shutil
from pathlib import Path
from typing import Iterable

from ..faults import DISK, OUTAGES

MEGABYTE = 1 << 20
SPACE_BACK_MB = 1.0  # a full-disk outage has ended once this much is free, even with no reserve (min_free_mb 0)


class BelowReserve(OSError):
    """Free space is below ``storage.min_free_mb``: the disk is full as far as new work is concerned."""

    def __init__(self, free_mb: float, min_free_mb: float):
        super().__init__(errno.ENOSPC, f"{free_mb:.1f} MB free, below the reserve of {min_free_mb:g} MB "
                                       "(storage.min_free_mb)")


class DiskSpace:
    """``DiskSpace(folders, min_free_mb)``: the reserve to keep free on the filesystems of ``folders``."""

    def __init__(self, folders: Iterable[str | Path], min_free_mb: float):
        self.folders = sorted({Path(folder) for folder in folders})
        self.min_free_mb = float(min_free_mb)

    def free_mb(self) -> float:
        """The free space of the fullest filesystem among the folders (those that exist), in MB."""
        free = [shutil.disk_usage(folder).free for folder in self.folders if folder.exists()]
        return min(free, default=float("inf")) / MEGABYTE

    def require(self) -> None:
        """Raise ``BelowReserve`` when the free space is below the reserve; else end a full-disk outage."""
        free_mb = self.free_mb()
        if free_mb < self.min_free_mb:
            raise BelowReserve(free_mb, self.min_free_mb)
        if free_mb >= max(self.min_free_mb, SPACE_BACK_MB):
            OUTAGES.recovered(DISK)
