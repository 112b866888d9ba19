"""OpenTelemetry-style hex ids for millions of spans at once, unique by construction.

Ids are drawn as 64-bit words (cheap to reorder with numpy) and turned into hex text once,
at the end.
"""

from __future__ import annotations

import numpy as np
import polars as pl
import pyarrow as pa


def _mix64(z: np.ndarray) -> np.ndarray:
    # The splitmix64 finaliser: each step is a bijection on uint64, so distinct counters give
    # distinct, random-looking words (no collision check needed) and only 0 maps to 0.
    z = z ^ (z >> np.uint64(30))
    z *= np.uint64(0xBF58476D1CE4E5B9)
    z ^= z >> np.uint64(27)
    z *= np.uint64(0x94D049BB133111EB)
    return z ^ (z >> np.uint64(31))


def unique_words(rng: np.random.Generator, n: int) -> np.ndarray:
    """``n`` distinct, non-zero, random-looking uint64 words.

    Example: ``len(set(unique_words(np.random.default_rng(0), 1000))) == 1000``.
    """
    # A random start far below 2**64: the counters never wrap, so none is 0 and all differ.
    start = np.uint64(rng.integers(1, 2**62))
    return _mix64(start + np.arange(n, dtype=np.uint64))


def to_hex(*words: np.ndarray) -> pl.Series:
    """Hex text of the words side by side: one word gives a 16-digit span id, two a 32-digit
    trace id.

    Example: ``to_hex(np.array([255], dtype=np.uint64)).item() == "00000000000000ff"``.
    """
    raw = np.ascontiguousarray(np.stack([w.astype(">u8") for w in words], axis=1))
    binary = pa.FixedSizeBinaryArray.from_buffers(
        pa.binary(8 * len(words)), raw.shape[0], [None, pa.py_buffer(raw.view(np.uint8))]
    )
    return pl.Series(pl.from_arrow(binary)).bin.encode("hex")
