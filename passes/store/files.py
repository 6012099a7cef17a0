"""The SQLite file holds personal data, tokens and PIN hashes: only its owner may read it.

A new data folder is made 0700 and a new database 0600 (SQLite gives its -wal and -shm files
the database's mode). Files left readable by others, by an older version or a copy, are
tightened on start, with a log line saying so.
"""

from __future__ import annotations

import logging
import os
import stat
from pathlib import Path

log = logging.getLogger("passes.store")

FOLDER_MODE = 0o700
FILE_MODE = 0o600
SIDE_FILES = ("", "-wal", "-shm", "-journal")


def private_database(path: Path) -> None:
    """Create the folder and the database file privately if missing; tighten loose files."""
    if not path.parent.exists():
        # Missing parents get the usual mode; the data folder itself is private.
        path.parent.mkdir(mode=FOLDER_MODE, parents=True, exist_ok=True)
    try:
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE))
    except OSError:  # it exists, or SQLite will say why it cannot open it
        pass
    for suffix in SIDE_FILES:
        _tighten(Path(f"{path}{suffix}"))


def _tighten(path: Path) -> None:
    try:
        mode = stat.S_IMODE(path.stat().st_mode)
    except FileNotFoundError:
        return
    if not mode & 0o077:
        return
    try:
        path.chmod(FILE_MODE)
    except OSError as exc:
        log.warning(
            "%s is readable by others (%04o) and could not be made 0600: %s", path, mode, exc
        )
        return
    log.warning("%s was readable by others (%04o); now 0600 (owner only)", path, mode)
