"""Dataset specifications and the registry that maps a dataset name to its files."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from urllib.parse import unquote

__all__ = ["DatasetSpec", "RemoteFile", "archive_member", "get_spec", "register", "registry"]

_HEX64 = re.compile(r"[0-9a-f]{64}")
_MEMBER_TAG = "#member="


def archive_member(archive_url: str, member: str) -> str:
    """URL meaning "member ``member`` of the archive at ``archive_url``" (zip, wheel or tar)."""
    return f"{archive_url}{_MEMBER_TAG}{member}"


def split_member(url: str) -> tuple[str, str | None]:
    """``"A#member=M"`` -> ``("A", "M")``; a plain URL -> ``(url, None)``."""
    if _MEMBER_TAG in url:
        archive, member = url.split(_MEMBER_TAG, 1)
        return archive, unquote(member)
    return url, None


def _check_sha(name: str, value: str | None, *, optional: bool = False) -> None:
    if value is None and optional:
        return
    if not isinstance(value, str) or not _HEX64.fullmatch(value):
        raise ValueError(f"{name}={value!r}: expected 64 lower-case hex digits (a sha256)")


@dataclass(frozen=True)
class RemoteFile:
    """One file of a dataset, stored in the cache as ``<data_dir>/<dataset>/<name>``.

    ``name`` may hold sub-folders (``"ref/cat/a.jpg"``), kept as they are in the cache.

    A file verifies if its bytes hash to ``sha256``, or, when ``content_sha256`` is given, if
    its *content* does: the gunzipped stream for a gzip file, the bytes otherwise. The second
    form lets a recompressed cached copy (hashed by ``sha256``) and the original download
    (bytes differ, content equal) both pass.

    ``url`` is where to download it (``None``: no public single-file source; ``note`` says
    where it came from). A URL ending ``#member=<path>`` (see :func:`archive_member`) means that
    member of a zip / wheel / tar archive. ``mirrors`` are tried in order after ``url``. When the
    name ends ``.gz`` and a source serves the uncompressed bytes, they are gzipped on arrival.
    """

    name: str
    url: str | None
    sha256: str
    content_sha256: str | None = None
    mirrors: tuple[str, ...] = ()
    note: str = ""

    def __post_init__(self) -> None:
        parts = (self.name or "").split("/")
        if "\\" in self.name or any(not p or p.startswith(".") for p in parts):
            raise ValueError(
                f"name={self.name!r}: expected a file name or a relative path with '/' "
                "(no empty parts, no part starting with a dot)"
            )
        _check_sha("sha256", self.sha256)
        _check_sha("content_sha256", self.content_sha256, optional=True)
        if isinstance(self.mirrors, str):
            raise ValueError(f"mirrors={self.mirrors!r}: expected a tuple of URLs, not one string")

    @property
    def urls(self) -> tuple[str, ...]:
        """The download sources, in the order they are tried."""
        return ((self.url,) if self.url else ()) + tuple(self.mirrors)


@dataclass(frozen=True)
class DatasetSpec:
    """A named dataset: its files and how to cite it."""

    name: str
    files: tuple[RemoteFile, ...]
    citation: str = ""
    description: str = ""
    _by_name: dict[str, RemoteFile] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]*", self.name or ""):
            raise ValueError(f"name={self.name!r}: expected letters, digits, '.', '_' or '-'")
        files = tuple(self.files)
        if not files or not all(isinstance(f, RemoteFile) for f in files):
            raise ValueError(f"files={self.files!r}: expected a non-empty tuple of RemoteFile")
        by_name = {f.name: f for f in files}
        if len(by_name) != len(files):
            raise ValueError(f"files of dataset {self.name!r}: file names must be unique")
        object.__setattr__(self, "files", files)
        object.__setattr__(self, "_by_name", by_name)

    def file(self, filename: str) -> RemoteFile:
        """The :class:`RemoteFile` called ``filename``; unknown names list the valid ones."""
        try:
            return self._by_name[filename]
        except KeyError:
            raise ValueError(
                f"filename={filename!r} is not a file of dataset {self.name!r}; "
                f"expected one of {sorted(self._by_name)}"
            ) from None


_REGISTRY: dict[str, DatasetSpec] = {}


def register(spec: DatasetSpec, *, overwrite: bool = False) -> DatasetSpec:
    """Add ``spec`` to the registry. Registering an equal spec again is a no-op."""
    if not isinstance(spec, DatasetSpec):
        raise ValueError(f"spec={spec!r}: expected a DatasetSpec")
    old = _REGISTRY.get(spec.name)
    if old is not None and old != spec and not overwrite:
        raise ValueError(
            f"spec.name={spec.name!r} is already registered with other files; "
            "pass overwrite=True to replace it"
        )
    _REGISTRY[spec.name] = spec
    return spec


def registry() -> dict[str, DatasetSpec]:
    """A copy of the registry: dataset name -> :class:`DatasetSpec`."""
    return dict(sorted(_REGISTRY.items()))


def get_spec(dataset: str) -> DatasetSpec:
    """The spec of ``dataset``; an unknown name lists the registered ones."""
    try:
        return _REGISTRY[dataset]
    except KeyError:
        raise ValueError(
            f"dataset={dataset!r} is not registered; expected one of {sorted(_REGISTRY)}"
        ) from None
