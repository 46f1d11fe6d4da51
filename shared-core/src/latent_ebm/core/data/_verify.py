"""sha256 verification of cached and downloaded files, and the errors the cache raises."""

from __future__ import annotations

import gzip
import hashlib
import os
from pathlib import Path

from ._spec import RemoteFile

__all__ = [
    "ChecksumError",
    "DatasetUnavailableError",
    "content_sha256",
    "file_sha256",
    "verify_file",
]

ENV_DATA_DIR = "LATENT_EBM_DATA_DIR"
_CHUNK = 1 << 20
_GZIP_MAGIC = b"\x1f\x8b"


class DatasetUnavailableError(RuntimeError):
    """A registered file is neither in the cache nor downloadable (offline, failed, bad bytes)."""


class ChecksumError(DatasetUnavailableError):
    """A file's bytes (and content) do not hash to the registered sha256."""

    def __init__(self, message: str, *, path: Path, expected: str, actual: str) -> None:
        super().__init__(message)
        self.path, self.expected, self.actual = path, expected, actual


def file_sha256(path: str | os.PathLike) -> str:
    """sha256 of the file's bytes."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(_CHUNK):
            h.update(chunk)
    return h.hexdigest()


def is_gzip(path: str | os.PathLike) -> bool:
    with open(path, "rb") as f:
        return f.read(2) == _GZIP_MAGIC


def content_sha256(path: str | os.PathLike) -> str:
    """sha256 of the decompressed stream of a gzip file, else of its bytes."""
    if not is_gzip(path):
        return file_sha256(path)
    h = hashlib.sha256()
    with gzip.open(path, "rb") as f:
        while chunk := f.read(_CHUNK):
            h.update(chunk)
    return h.hexdigest()


# (path, size, mtime_ns, expected hashes) that verified in this process: hash each file once.
_VERIFIED: set[tuple] = set()


def _stamp(path: Path, spec: RemoteFile) -> tuple:
    st = path.stat()
    return (
        str(path.resolve()),
        st.st_ino,
        st.st_size,
        st.st_mtime_ns,
        st.st_ctime_ns,
        spec.sha256,
        spec.content_sha256,
    )


def verify_file(path: str | os.PathLike, spec: RemoteFile, *, source: str | None = None) -> Path:
    """Check ``path`` against ``spec``'s hashes; return it, or raise :class:`ChecksumError`.

    The error names the file, the expected and the actual hash (and ``source``, the URL it came
    from, for a download).
    """
    path = Path(path)
    stamp = _stamp(path, spec)
    if stamp in _VERIFIED:
        return path
    actual = file_sha256(path)
    if actual == spec.sha256:
        _VERIFIED.add(stamp)
        return path
    detail = f"sha256 {actual} (expected {spec.sha256})"
    if spec.content_sha256 is not None:
        try:
            actual_content = content_sha256(path)
        except (OSError, EOFError, gzip.BadGzipFile) as err:
            actual_content = f"<unreadable gzip: {err}>"
        if actual_content == spec.content_sha256:
            _VERIFIED.add(stamp)
            return path
        detail += f"; content sha256 {actual_content} (expected {spec.content_sha256})"
    where = f" downloaded from {source}" if source else ""
    hint = (
        "the download was discarded"
        if source
        else "delete it to download it again, or replace it with a good copy"
    )
    raise ChecksumError(
        f"checksum mismatch for {spec.name!r} at {path}{where}: {detail}; {hint}",
        path=path,
        expected=spec.sha256,
        actual=actual,
    )
