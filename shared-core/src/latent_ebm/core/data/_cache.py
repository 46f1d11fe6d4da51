"""The local cache: ``$LATENT_EBM_DATA_DIR/<dataset>/<file>``, verified, filled on demand."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from ._download import DOWNLOAD_ERRORS, extract_member, gzip_to, temp_path
from ._download import download as _download_url
from ._spec import DatasetSpec, RemoteFile, get_spec, split_member
from ._verify import (
    ENV_DATA_DIR,
    ChecksumError,
    DatasetUnavailableError,
    is_gzip,
    verify_file,
)

__all__ = ["FileStatus", "cache_path", "data_dir", "get_file", "is_available", "verify_dataset"]

ENV_OFFLINE = "LATENT_EBM_OFFLINE"
_DEFAULT_DIR = "~/.cache/latent-ebm"


def data_dir() -> Path:
    """``$LATENT_EBM_DATA_DIR``, or ``~/.cache/latent-ebm`` when it is unset or empty."""
    return Path(os.environ.get(ENV_DATA_DIR) or _DEFAULT_DIR).expanduser()


def artifact_dir(*parts: str) -> Path:
    """Where derived files (trained feature extractors, tokenized shards, ...) are cached.

    ``$LATENT_EBM_ARTIFACT_DIR``, or ``~/.cache/latent-ebm-artifacts``: kept apart from the data
    cache, which may be a shared, read-only copy of the original files. The folder is created.
    """
    root = Path(os.environ.get("LATENT_EBM_ARTIFACT_DIR") or "~/.cache/latent-ebm-artifacts")
    path = root.expanduser().joinpath(*parts)
    path.mkdir(parents=True, exist_ok=True)
    return path


def cache_path(dataset: str, filename: str | None = None) -> Path:
    """Where ``dataset`` (or one of its files) lives in the cache; nothing is checked on disk."""
    spec = get_spec(dataset)
    if filename is None:
        return data_dir() / spec.name
    return data_dir() / spec.name / spec.file(filename).name


def _offline() -> bool:
    return os.environ.get(ENV_OFFLINE, "").strip().lower() in {"1", "true", "yes", "on"}


def _unavailable(spec: DatasetSpec, rf: RemoteFile, path: Path, reasons: list[str]) -> str:
    if rf.url:
        source = rf.url
    else:
        source = "no public download URL" + (f"; {rf.note}" if rf.note else "")
    lines = [
        f"dataset file {spec.name}/{rf.name} is not in the data cache {path.parent} "
        f"(source: {source}).",
        *(f"  - {r}" for r in reasons),
        f"Fix: put the file at {path}, or set the environment variable {ENV_DATA_DIR} "
        f"to a folder that holds {spec.name}/{rf.name}.",
    ]
    return "\n".join(lines)


def _install(rf: RemoteFile, tmp: Path, dest: Path, source: str) -> None:
    """Verify the fetched ``tmp`` (gzipping it first if ``dest`` wants .gz) and move it to ``dest``."""
    if rf.name.endswith(".gz") and not is_gzip(tmp):
        with temp_path(dest.parent, rf.name) as gz:
            gzip_to(tmp, gz)
            verify_file(gz, rf, source=source)
            os.replace(gz, dest)
        return
    verify_file(tmp, rf, source=source)
    os.replace(tmp, dest)


def _fetch(spec: DatasetSpec, rf: RemoteFile, url: str, dest: Path, progress: bool) -> None:
    folder = dest.parent
    archive_url, member = split_member(url)
    with temp_path(folder, rf.name) as raw:
        _download_url(archive_url, raw, progress=progress)
        if member is None:
            _install(rf, raw, dest, source=url)
            return
        # One archive download fills every missing file of the dataset that it holds.
        for other in spec.files:
            other_member = member if other is rf else _member_of(other, archive_url)
            target = data_dir() / spec.name / other.name
            if other is not rf and (other_member is None or target.exists()):
                continue
            target.parent.mkdir(parents=True, exist_ok=True)
            with temp_path(target.parent, other.name) as tmp:
                try:
                    extract_member(raw, other_member, tmp, label=archive_url)
                    _install(other, tmp, target, source=archive_url)
                except DOWNLOAD_ERRORS:
                    if other is rf:
                        raise


def _member_of(rf: RemoteFile, archive_url: str) -> str | None:
    """The member that ``rf`` takes from ``archive_url``, if any of its sources is that archive."""
    return next((m for a, m in map(split_member, rf.urls) if a == archive_url and m), None)


def get_file(dataset: str, filename: str, *, download: bool = True, progress: bool = True) -> Path:
    """Path of a verified copy of ``dataset/filename`` in the cache.

    A missing file is downloaded (with a progress bar) to a temp file beside its target,
    checked against the registered sha256, then renamed into place atomically. Raises
    :class:`DatasetUnavailableError` naming the file, its URL and ``LATENT_EBM_DATA_DIR``
    when it is missing and cannot be fetched (``download=False``, ``LATENT_EBM_OFFLINE=1``,
    no network, bad bytes), and :class:`ChecksumError` when the cached copy is corrupt.
    """
    spec = get_spec(dataset)
    rf = spec.file(filename)
    path = data_dir() / spec.name / rf.name
    if path.is_file():
        return verify_file(path, rf)
    if not download:
        raise DatasetUnavailableError(_unavailable(spec, rf, path, ["download=False was given"]))
    if _offline():
        raise DatasetUnavailableError(_unavailable(spec, rf, path, [f"{ENV_OFFLINE} is set"]))
    if not rf.urls:
        raise DatasetUnavailableError(_unavailable(spec, rf, path, []))
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise DatasetUnavailableError(
            _unavailable(spec, rf, path, [f"cannot create folder: {err}"])
        ) from err
    reasons: list[str] = []
    for url in rf.urls:
        try:
            _fetch(spec, rf, url, path, progress)
            return path
        except DOWNLOAD_ERRORS as err:
            reasons.append(f"{url}: {err}")
    raise DatasetUnavailableError(_unavailable(spec, rf, path, reasons))


def is_available(dataset: str, filename: str | None = None) -> bool:
    """Whether the file (or every file of the dataset) is in the cache and verifies.

    Never downloads; for tests that skip with a reason when the data is absent.
    """
    spec = get_spec(dataset)
    files = spec.files if filename is None else (spec.file(filename),)
    try:
        for rf in files:
            get_file(spec.name, rf.name, download=False)
    except DatasetUnavailableError:
        return False
    return True


@dataclass(frozen=True)
class FileStatus:
    """The state of one cached file: ``ok``, ``missing`` or ``corrupt`` (``detail`` says why)."""

    dataset: str
    name: str
    path: Path
    status: Literal["ok", "missing", "corrupt"]
    detail: str = ""


def verify_dataset(
    dataset: str, *, download: bool = False, progress: bool = True
) -> list[FileStatus]:
    """Check every file of ``dataset``; with ``download=True`` fetch the missing ones first."""
    spec = get_spec(dataset)
    out = []
    for rf in spec.files:
        path = data_dir() / spec.name / rf.name
        try:
            get_file(spec.name, rf.name, download=download, progress=progress)
            out.append(FileStatus(spec.name, rf.name, path, "ok"))
        except ChecksumError as err:
            out.append(FileStatus(spec.name, rf.name, path, "corrupt", str(err)))
        except DatasetUnavailableError as err:
            out.append(FileStatus(spec.name, rf.name, path, "missing", str(err)))
    return out
