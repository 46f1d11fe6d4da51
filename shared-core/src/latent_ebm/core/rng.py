"""Named Philox streams and per-example seeds: the suite's reproducible randomness.

Noise keyed by example (``init_noise="example"``) comes from the Philox stream of
:func:`example_seed` (seed, stream, example index): it does not depend on how a batch is split
across ranks. ``stream`` is a small int naming *what* is drawn (posterior chain starts, a
diffusion level, ...). Two draws must never share a stream id by accident, so every id is
registered here under a dotted name, once: :func:`register_stream` refuses an id or a name
already taken by another, and :func:`streams` lists them all.
"""

from __future__ import annotations

from .checks import check_int, require

__all__ = ["SEED_HIGH", "example_seed", "register_stream", "splitmix64", "streams"]

SEED_HIGH = (1 << 63) - 1  # seeds are drawn in [0, SEED_HIGH)
_MASK64 = (1 << 64) - 1
_STREAMS: dict[str, int] = {}


def splitmix64(x: int) -> int:
    """A 64-bit mixing function (Steele, Lea, Flood 2014): distinct keys -> decorrelated seeds."""
    x = (x + 0x9E3779B97F4A7C15) & _MASK64
    x = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) & _MASK64
    x = ((x ^ (x >> 27)) * 0x94D049BB133111EB) & _MASK64
    return x ^ (x >> 31)


def example_seed(seed: int, stream: int, index: int) -> int:
    """The Philox seed of example ``index`` in ``stream`` (a registered stream id)."""
    return splitmix64(splitmix64(splitmix64(seed & _MASK64) ^ stream) ^ (index & _MASK64)) & SEED_HIGH


def register_stream(name: str, stream_id: int) -> int:
    """Register ``stream_id`` under ``name`` (``"<package>.<what>"``) and return it.

    Registering the same pair again is a no-op (modules may be imported twice); an id or a name
    already registered with another partner raises ``ValueError`` naming both.
    """
    require("name", name, isinstance(name, str) and "." in name, "it must be a dotted name such as 'cdrl.level'")
    check_int("stream_id", stream_id, low=0, high=_MASK64)
    if _STREAMS.get(name, stream_id) != stream_id:
        raise ValueError(f"stream name {name!r} is already registered with id {_STREAMS[name]:#x}")
    for other, sid in _STREAMS.items():
        if sid == stream_id and other != name:
            raise ValueError(f"stream id {stream_id:#x} for {name!r} is already registered as {other!r}")
    _STREAMS[name] = stream_id
    return stream_id


def streams() -> dict[str, int]:
    """Every registered stream: name -> id."""
    return dict(sorted(_STREAMS.items(), key=lambda kv: kv[1]))
