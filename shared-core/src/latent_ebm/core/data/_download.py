"""Streaming download with a progress bar, archive-member extraction, gzip on arrival."""

from __future__ import annotations

import gzip
import http.client
import os
import shutil
import tarfile
import tempfile
import urllib.request
import zipfile
from contextlib import contextmanager
from pathlib import Path

from ._verify import ChecksumError

__all__ = ["DOWNLOAD_ERRORS", "download", "extract_member", "gzip_to", "temp_path"]

# What one failed source raises (URLError and timeouts are OSErrors); the next source is tried.
DOWNLOAD_ERRORS = (
    OSError,
    EOFError,
    http.client.HTTPException,
    zipfile.BadZipFile,
    tarfile.TarError,
    ChecksumError,
)

TIMEOUT_S = 60.0
_CHUNK = 1 << 16
_USER_AGENT = "latent-ebm-data/0.1 (+https://github.com/latent-ebm)"


@contextmanager
def temp_path(folder: Path, name: str):
    """A fresh temp file path in ``folder`` (same filesystem, so ``os.replace`` is atomic);
    removed on exit unless it was moved away."""
    fd, tmp = tempfile.mkstemp(prefix=f".{Path(name).name}.", suffix=".part", dir=folder)
    os.close(fd)
    tmp = Path(tmp)
    tmp.chmod(0o644)  # mkstemp makes 0600; the cache may be shared
    try:
        yield tmp
    finally:
        tmp.unlink(missing_ok=True)


def _progress_bar():
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        DownloadColumn,
        Progress,
        TextColumn,
        TimeRemainingColumn,
        TransferSpeedColumn,
    )

    columns = [TextColumn("{task.description}"), BarColumn(), DownloadColumn()]
    columns += [TransferSpeedColumn(), TimeRemainingColumn()]
    return Progress(*columns, console=Console(stderr=True))


def download(url: str, dest: Path, *, progress: bool = True, timeout: float = TIMEOUT_S) -> int:
    """Stream ``url`` (http(s) or file) into ``dest``; return the byte count.

    Raises ``OSError`` (``urllib.error.URLError`` included) on any failure, and when fewer
    bytes arrive than the server announced.
    """
    req = urllib.request.Request(url, headers={"User-Agent": _USER_AGENT})
    with urllib.request.urlopen(req, timeout=timeout) as resp, open(dest, "wb") as out:
        length = resp.headers.get("Content-Length")
        total = int(length) if length and length.isdigit() else None
        label = f"downloading {url.rsplit('/', 1)[-1]}"
        n = 0
        if progress:
            bar = _progress_bar()
            with bar:
                task = bar.add_task(label, total=total)
                while chunk := resp.read(_CHUNK):
                    out.write(chunk)
                    n += len(chunk)
                    bar.update(task, advance=len(chunk))
        else:
            while chunk := resp.read(_CHUNK):
                out.write(chunk)
                n += len(chunk)
    if total is not None and n != total:
        raise OSError(f"incomplete download from {url}: {n} of {total} bytes")
    return n


def extract_member(archive: Path, member: str, dest: Path, *, label: str | None = None) -> None:
    """Copy ``member`` of a zip/wheel or tar(.gz/.bz2/.xz) ``archive`` into ``dest``.

    ``label`` names the archive in errors (its URL); the local path by default.
    """
    label = label or archive.name
    if zipfile.is_zipfile(archive):
        with zipfile.ZipFile(archive) as zf:
            try:
                src = zf.open(member)
            except KeyError:
                raise OSError(f"archive {label} has no member {member!r}") from None
            with src, open(dest, "wb") as out:
                shutil.copyfileobj(src, out, _CHUNK)
        return
    if tarfile.is_tarfile(archive):
        with tarfile.open(archive) as tf:
            try:
                src = tf.extractfile(member)
            except KeyError:
                src = None
            if src is None:
                raise OSError(f"archive {label} has no regular-file member {member!r}")
            with src, open(dest, "wb") as out:
                shutil.copyfileobj(src, out, _CHUNK)
        return
    raise OSError(f"{label} is neither a zip nor a tar archive")


def gzip_to(src: Path, dest: Path) -> None:
    """gzip ``src`` into ``dest`` deterministically (no name, mtime 0)."""
    with (
        open(src, "rb") as fin,
        open(dest, "wb") as raw,
        gzip.GzipFile(filename="", mode="wb", compresslevel=6, fileobj=raw, mtime=0) as gz,
    ):
        shutil.copyfileobj(fin, gz, _CHUNK)
