"""Dataset registry and cache: checksums, offline errors, atomic downloads over loopback HTTP."""

import gzip
import hashlib
import http.server
import os
import shutil
import threading
import zipfile
from pathlib import Path

import pytest

from latent_ebm.core import data
from latent_ebm.core.data import (
    ChecksumError,
    DatasetSpec,
    DatasetUnavailableError,
    RemoteFile,
    _spec,
    archive_member,
    get_file,
    is_available,
    register,
    registry,
    verify_dataset,
)
from latent_ebm.core.data.__main__ import main as data_main

REFUSED = "http://127.0.0.1:9/nothing-listens-here.txt"  # discard port: connection refused


def _shared_data_dir() -> Path | None:
    """The real shared datasets: $LATENT_EBM_DATA_DIR, else ../shared/data beside the repo."""
    env = os.environ.get("LATENT_EBM_DATA_DIR")
    cand = Path(env) if env else Path(__file__).resolve().parents[3] / "shared" / "data"
    return cand if (cand / "MANIFEST.md").is_file() else None


SHARED = _shared_data_dir()
needs_shared = pytest.mark.skipif(
    SHARED is None, reason="shared data folder not found (set LATENT_EBM_DATA_DIR)"
)


def sha(b: bytes) -> str:
    return hashlib.sha256(b).hexdigest()


@pytest.fixture
def cache(tmp_path, monkeypatch):
    """An empty cache and a private registry copy, so tests register freely."""
    root = tmp_path / "cache"
    root.mkdir()
    monkeypatch.setenv("LATENT_EBM_DATA_DIR", str(root))
    monkeypatch.delenv("LATENT_EBM_OFFLINE", raising=False)
    monkeypatch.setattr(_spec, "_REGISTRY", dict(_spec._REGISTRY))
    return root


class _Server:
    """A loopback HTTP server over a folder; ``truncate`` names files sent short."""

    def __init__(self, folder: Path):
        self.requests: list[str] = []
        self.truncate: set[str] = set()
        outer = self

        class Handler(http.server.SimpleHTTPRequestHandler):
            def __init__(self, *a, **kw):
                super().__init__(*a, directory=str(folder), **kw)

            def log_message(self, *a):
                pass

            def do_GET(self):
                outer.requests.append(self.path)
                name = self.path.lstrip("/")
                if name in outer.truncate:
                    body = (folder / name).read_bytes()
                    self.send_response(200)
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body[: len(body) // 2])
                    self.wfile.flush()
                    self.close_connection = True
                    return
                super().do_GET()

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def server(tmp_path):
    folder = tmp_path / "www"
    folder.mkdir()
    srv = _Server(folder)
    srv.folder = folder
    yield srv
    srv.close()


def _leftovers(folder: Path) -> list[str]:
    return [p.name for p in folder.rglob("*.part")] if folder.exists() else []


# --- the real shared datasets --------------------------------------------------------------


@needs_shared
def test_every_file_in_shared_data_is_registered_and_verifies(monkeypatch):
    monkeypatch.setenv("LATENT_EBM_DATA_DIR", str(SHARED))
    reg = registry()
    folders = sorted(p.name for p in SHARED.iterdir() if p.is_dir())
    assert folders, "shared data folder is empty"
    assert set(folders) <= set(reg), f"unregistered datasets: {set(folders) - set(reg)}"
    checked = 0
    for name in folders:
        on_disk = sorted(p.relative_to(SHARED / name).as_posix() for p in (SHARED / name).rglob("*") if p.is_file())
        assert on_disk == sorted(f.name for f in reg[name].files), name
        for st in verify_dataset(name):
            assert st.status == "ok", st.detail  # the sha256 typed in the catalog are right
            checked += 1
    assert checked >= 70


@needs_shared
def test_recompressed_copies_verify_by_content_hash(monkeypatch):
    """MNIST and LIMO maps were gzipped for the shared folder; the originals must pass too."""
    monkeypatch.setenv("LATENT_EBM_DATA_DIR", str(SHARED))
    for dataset, name in [
        ("mnist", "t10k-labels-idx1-ubyte.gz"),
        ("docking-esr1-acaa1-limo", "1err.e.map.gz"),
    ]:
        rf = data.get_spec(dataset).file(name)
        raw = gzip.decompress((SHARED / dataset / name).read_bytes())
        assert sha(raw) == rf.content_sha256
        assert rf.sha256 != rf.content_sha256


@needs_shared
def test_corrupted_copy_of_real_file_names_file_and_both_hashes(cache):
    (cache / "tinyshakespeare").mkdir()
    dest = cache / "tinyshakespeare" / "input.txt"
    shutil.copyfile(SHARED / "tinyshakespeare" / "input.txt", dest)
    assert get_file("tinyshakespeare", "input.txt") == dest
    buf = bytearray(dest.read_bytes())
    buf[1000] ^= 0x01
    dest.write_bytes(bytes(buf))
    with pytest.raises(ChecksumError) as info:
        get_file("tinyshakespeare", "input.txt")
    msg = str(info.value)
    expected = data.get_spec("tinyshakespeare").file("input.txt").sha256
    assert "input.txt" in msg and expected in msg and sha(bytes(buf)) in msg
    assert info.value.expected == expected and info.value.actual == sha(bytes(buf))
    assert not is_available("tinyshakespeare")


# --- checksums -------------------------------------------------------------------------------


def test_content_hash_accepts_any_gzip_of_the_same_content(cache, tmp_path):
    content = b"IDX payload " * 1000
    stored = gzip.compress(content, compresslevel=9, mtime=0)
    other = gzip.compress(content, compresslevel=1, mtime=12345)  # upstream: different bytes
    assert stored != other
    rf = RemoteFile("x.gz", None, sha(stored), sha(content))
    for i, blob in enumerate([stored, other, content]):
        p = tmp_path / f"copy{i}.gz"
        p.write_bytes(blob)
        assert data._verify.verify_file(p, rf) == p
    bad = tmp_path / "bad.gz"
    bad.write_bytes(gzip.compress(content + b"!"))
    with pytest.raises(
        ChecksumError, match=r"content sha256 [0-9a-f]{64} \(expected " + sha(content)
    ):
        data._verify.verify_file(bad, rf)
    # without content_sha256 only the exact bytes pass
    with pytest.raises(ChecksumError, match="x.gz"):
        data._verify.verify_file(tmp_path / "copy1.gz", RemoteFile("x.gz", None, sha(stored)))


def test_corrupted_cached_file_raises_and_is_not_replaced(cache, server):
    good = b"hello world\n" * 100
    (server.folder / "f.txt").write_bytes(good)
    register(DatasetSpec("toy", (RemoteFile("f.txt", f"{server.url}/f.txt", sha(good)),)))
    path = get_file("toy", "f.txt", progress=False)
    path.write_bytes(good[:-1] + b"?")
    with pytest.raises(
        ChecksumError, match=f"f.txt.*{sha(good[:-1] + b'?')}.*expected {sha(good)}"
    ):
        get_file("toy", "f.txt")
    assert path.read_bytes().endswith(b"?")  # user data is never silently deleted
    assert server.requests == ["/f.txt"]
    assert [s.status for s in verify_dataset("toy")] == ["corrupt"]


# --- offline and failure errors ------------------------------------------------------------


def test_offline_error_names_file_url_and_variable(cache):
    register(DatasetSpec("toy", (RemoteFile("a.txt", REFUSED, sha(b"a")),)))
    with pytest.raises(DatasetUnavailableError) as info:
        get_file("toy", "a.txt", progress=False)
    msg = str(info.value)
    assert "toy/a.txt" in msg and REFUSED in msg and "LATENT_EBM_DATA_DIR" in msg
    assert str(cache / "toy" / "a.txt") in msg
    assert not is_available("toy", "a.txt")
    assert _leftovers(cache) == []


@pytest.mark.parametrize("how", ["download=False", "LATENT_EBM_OFFLINE"])
def test_real_entry_unavailable_without_network(cache, monkeypatch, how):
    def no_network(*a, **kw):
        raise AssertionError("must not touch the network")

    monkeypatch.setattr(data._cache, "_download_url", no_network)
    kw = {}
    if how == "download=False":
        kw["download"] = False
    else:
        monkeypatch.setenv("LATENT_EBM_OFFLINE", "1")
    rf = data.get_spec("mnist").file("train-images-idx3-ubyte.gz")
    with pytest.raises(DatasetUnavailableError) as info:
        get_file("mnist", rf.name, **kw)
    msg = str(info.value)
    assert rf.name in msg and rf.url in msg and "LATENT_EBM_DATA_DIR" in msg and how in msg


def test_file_without_public_url_says_where_it_came_from(cache):
    with pytest.raises(DatasetUnavailableError, match="no public download URL.*gpf files"):
        get_file("docking-esr1-acaa1-limo", "boxes.json")


def test_truncated_download_leaves_no_file(cache, server):
    body = os.urandom(200_000)
    (server.folder / "big.bin").write_bytes(body)
    server.truncate.add("big.bin")
    register(DatasetSpec("toy", (RemoteFile("big.bin", f"{server.url}/big.bin", sha(body)),)))
    with pytest.raises(DatasetUnavailableError, match="big.bin"):
        get_file("toy", "big.bin", progress=False)
    assert not (cache / "toy" / "big.bin").exists()
    assert _leftovers(cache) == []


def test_download_with_wrong_bytes_is_discarded(cache, server):
    (server.folder / "f.txt").write_bytes(b"tampered")
    register(DatasetSpec("toy", (RemoteFile("f.txt", f"{server.url}/f.txt", sha(b"original")),)))
    with pytest.raises(DatasetUnavailableError) as info:
        get_file("toy", "f.txt", progress=False)
    msg = str(info.value)
    assert "checksum mismatch" in msg and sha(b"tampered") in msg and sha(b"original") in msg
    assert not (cache / "toy" / "f.txt").exists() and _leftovers(cache) == []


# --- successful downloads ------------------------------------------------------------------


def test_files_in_sub_folders_download_into_them(cache, server):
    """Nested names (AFHQ's ref/cat/...) land in sub-folders, fetched alone or from one archive."""
    (server.folder / "a.jpg").write_bytes(b"cat")
    with zipfile.ZipFile(server.folder / "pack.zip", "w") as z:
        z.writestr("x/dog.jpg", b"dog")
        z.writestr("x/wild.jpg", b"wild")
    pack = f"{server.url}/pack.zip"
    register(DatasetSpec("toy", (
        RemoteFile("ref/cat/a.jpg", f"{server.url}/a.jpg", sha(b"cat")),
        RemoteFile("ref/dog/b.jpg", archive_member(pack, "x/dog.jpg"), sha(b"dog")),
        RemoteFile("src/wild/c.jpg", archive_member(pack, "x/wild.jpg"), sha(b"wild")),
    )))
    assert get_file("toy", "ref/cat/a.jpg", progress=False).read_bytes() == b"cat"
    assert get_file("toy", "ref/dog/b.jpg", progress=False) == cache / "toy" / "ref" / "dog" / "b.jpg"
    assert (cache / "toy" / "src" / "wild" / "c.jpg").read_bytes() == b"wild"  # same archive, one fetch
    assert server.requests.count("/pack.zip") == 1 and _leftovers(cache) == []


def test_http_download_is_verified_atomic_and_shows_progress(cache, server, capsys, monkeypatch):
    body = os.urandom(300_000)
    (server.folder / "blob.bin").write_bytes(body)
    register(DatasetSpec("toy", (RemoteFile("blob.bin", f"{server.url}/blob.bin", sha(body)),)))
    seen = []
    real_replace = os.replace

    def spy_replace(src, dst):
        seen.append((Path(src), Path(dst), Path(src).read_bytes() == body))
        return real_replace(src, dst)

    monkeypatch.setattr(data._cache.os, "replace", spy_replace)
    assert not is_available("toy")
    path = get_file("toy", "blob.bin")
    assert path == cache / "toy" / "blob.bin" and path.read_bytes() == body
    # written to a temp file in the same folder, complete before the rename
    [(src, dst, complete)] = seen
    assert src.parent == dst.parent == path.parent and src.name.endswith(".part") and complete
    assert _leftovers(cache) == []
    assert "downloading blob.bin" in capsys.readouterr().err
    assert is_available("toy") and is_available("toy", "blob.bin")
    get_file("toy", "blob.bin")
    assert server.requests == ["/blob.bin"]  # a verified file is not downloaded again


def test_file_url_and_mirror_fallback(cache, tmp_path):
    src = tmp_path / "local.txt"
    src.write_bytes(b"from disk\n")
    register(
        DatasetSpec(
            "toy", (RemoteFile("t.txt", REFUSED, sha(b"from disk\n"), mirrors=(src.as_uri(),)),)
        )
    )
    assert get_file("toy", "t.txt", progress=False).read_bytes() == b"from disk\n"


def test_archive_members_gzipped_on_arrival_in_one_download(cache, server):
    """A zip (like a wheel) holds raw files; the cache wants .gz copies verified by content."""
    a, b = b"first member\n" * 500, b"second member\n" * 300
    with zipfile.ZipFile(server.folder / "pkg.whl", "w") as zf:
        zf.writestr("pkg/data/a.txt", a)
        zf.writestr("pkg/data/b.txt", b)
    whl = f"{server.url}/pkg.whl"
    files = (
        RemoteFile(
            "a.txt.gz", REFUSED, "0" * 64, sha(a), mirrors=(archive_member(whl, "pkg/data/a.txt"),)
        ),
        RemoteFile(
            "b.txt.gz", REFUSED, "0" * 64, sha(b), mirrors=(archive_member(whl, "pkg/data/b.txt"),)
        ),
    )
    register(DatasetSpec("toy", files))
    pa = get_file("toy", "a.txt.gz", progress=False)
    assert gzip.decompress(pa.read_bytes()) == a
    pb = cache / "toy" / "b.txt.gz"
    assert pb.is_file() and gzip.decompress(pb.read_bytes()) == b  # sibling filled too
    assert get_file("toy", "b.txt.gz") == pb
    assert server.requests == ["/pkg.whl"]
    assert _leftovers(cache) == []


def test_missing_archive_member_is_reported(cache, server):
    with zipfile.ZipFile(server.folder / "pkg.zip", "w") as zf:
        zf.writestr("other.txt", b"x")
    url = archive_member(f"{server.url}/pkg.zip", "wanted.txt")
    register(DatasetSpec("toy", (RemoteFile("wanted.txt", url, sha(b"y")),)))
    with pytest.raises(DatasetUnavailableError, match="has no member 'wanted.txt'"):
        get_file("toy", "wanted.txt", progress=False)


# --- registry and command line -------------------------------------------------------------


def test_registry_rejects_bad_input_and_lists_valid_names(cache):
    with pytest.raises(ValueError, match="dataset='nope'.*'mnist'"):
        get_file("nope", "x")
    with pytest.raises(ValueError, match="filename='x'.*train-images-idx3-ubyte.gz"):
        get_file("mnist", "x")
    with pytest.raises(ValueError, match="sha256='abc'"):
        RemoteFile("f", None, "abc")
    for bad in ("a/../b", "a//b", ".hidden", "a\\b", ""):
        with pytest.raises(ValueError, match="relative path"):
            RemoteFile(bad, None, "0" * 64)
    assert RemoteFile("ref/cat/a.jpg", None, "0" * 64).name == "ref/cat/a.jpg"  # sub-folders kept
    spec = DatasetSpec("toy", (RemoteFile("f", None, "0" * 64),))
    assert register(spec) is spec and register(spec) is spec  # idempotent
    with pytest.raises(ValueError, match="already registered"):
        register(DatasetSpec("toy", (RemoteFile("g", None, "0" * 64),)))


def test_every_builtin_dataset_has_sources_and_citation():
    for name, spec in registry().items():
        assert spec.citation, name
        for rf in spec.files:
            assert rf.urls or rf.note, f"{name}/{rf.name} has no source"
            for url in rf.urls:
                assert url.startswith(("https://", "http://")), url
                assert "raw.githubusercontent.com" not in url or len(url.split("/")[5]) == 40, url


def test_command_line_list_path_verify(cache, capsys):
    good = b"payload"
    register(DatasetSpec("toy", (RemoteFile("p.bin", None, sha(good)),)))
    assert data_main(["verify", "toy"]) == 0
    assert "missing  toy/p.bin" in capsys.readouterr().out
    (cache / "toy").mkdir()
    (cache / "toy" / "p.bin").write_bytes(good)
    assert data_main(["verify", "toy"]) == 0
    assert "ok       toy/p.bin" in capsys.readouterr().out
    (cache / "toy" / "p.bin").write_bytes(b"other")
    assert data_main(["verify", "toy"]) == 1
    assert "corrupt  toy/p.bin" in capsys.readouterr().out
    assert data_main(["path", "toy", "p.bin"]) == 0
    assert capsys.readouterr().out.strip() == str(cache / "toy" / "p.bin")
    assert data_main(["list"]) == 0
    out = capsys.readouterr().out
    assert "mnist" in out and "toy" in out and str(cache) in out
    with pytest.raises(SystemExit):
        data_main(["path", "nope"])


def test_artifact_dir_is_apart_from_the_data_cache(tmp_path, monkeypatch):
    from latent_ebm.core.data import artifact_dir, data_dir

    monkeypatch.setenv("LATENT_EBM_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("LATENT_EBM_ARTIFACT_DIR", str(tmp_path / "artifacts"))
    path = artifact_dir("cdrl", "fid")
    assert path == tmp_path / "artifacts" / "cdrl" / "fid" and path.is_dir()
    assert data_dir() not in path.parents


def test_epoch_shuffle_is_a_permutation_fixed_by_seed_and_epoch():
    from latent_ebm.core.data import EpochShuffle

    a, b = EpochShuffle(50, seed=3), EpochShuffle(50, seed=3)
    first = list(a)
    assert sorted(first) == list(range(50)) and first == list(b)
    a.set_epoch(1)
    assert list(a) != first
    b.set_epoch(1)
    assert list(a) == list(b)


def test_idx_images_are_padded_digits_in_the_unit_range_with_their_labels(monkeypatch, tmp_path):
    """The core's IDX loader: 28x28 digits centred in 32x32 with -1 around them, values in
    [-1, 1] (byte 0 -> -1, 255 -> 1), labels aligned, and bad arguments named."""
    import numpy as np

    from latent_ebm.core.data import images

    rng = np.random.default_rng(0)
    pixels = rng.integers(0, 256, (3, 28, 28), dtype=np.uint8)
    pixels[0, 0, 0], pixels[0, 0, 1] = 0, 255

    def fake_get_file(dataset, name):
        path = tmp_path / name
        header = (b"\x00\x00\x08\x03" + (3).to_bytes(4, "big") + (28).to_bytes(4, "big") * 2 if "images" in name
                  else b"\x00\x00\x08\x01" + (3).to_bytes(4, "big"))
        body = pixels.tobytes() if "images" in name else bytes([7, 1, 9])
        with gzip.open(path, "wb") as fh:
            fh.write(header + body)
        return path

    monkeypatch.setattr(images, "get_file", fake_get_file)
    x, y = images.load_idx_images("fashion-mnist", "test")
    assert x.shape == (3, 1, 32, 32) and y.tolist() == [7, 1, 9]
    assert (x[:, :, :2] == -1).all() and (x[:, :, -2:] == -1).all() and (x[..., :2] == -1).all()
    assert x[0, 0, 2, 2] == -1 and x[0, 0, 2, 3] == 1
    np.testing.assert_allclose(x[:, 0, 2:30, 2:30].numpy(), pixels / 127.5 - 1, atol=1e-6)
    with pytest.raises(ValueError, match="dataset"):
        images.load_idx_images("cifar10")
    with pytest.raises(ValueError, match="split"):
        images.load_idx_images("mnist", "val")


def test_cifar10_is_in_the_core_catalog():
    spec = data.get_spec("cifar10")
    assert spec.files[0].name == "cifar-10-python.tar.gz" and len(spec.files[0].sha256) == 64
