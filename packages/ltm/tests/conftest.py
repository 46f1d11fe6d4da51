import pytest


@pytest.fixture(autouse=True)
def _token_cache(tmp_path_factory, monkeypatch):
    """Tokenized shards go to a per-session folder, never to the user's cache."""
    monkeypatch.setenv("LATENT_EBM_TOKEN_CACHE", str(tmp_path_factory.getbasetemp() / "tokens"))
