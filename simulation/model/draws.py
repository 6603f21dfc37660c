"""Counter-based random draws: patient ``i``'s ``k``-th draw of stream ``s`` is a pure function.

The scalar engines step one patient at a time; the vector engine (issue 14) steps thousands
of patients at once. Both must draw the same numbers for a patient, whatever its batch,
group or worker, so a draw cannot depend on a generator's history. Here draw ``k`` of
stream ``s`` of patient ``i`` under ``seed`` is a pure function of ``(seed, i, s, k)``:

* the bits come from Philox4x64-10 (Salmon et al., SC'11; the counter-based generator numpy
  ships as :class:`numpy.random.Philox`), keyed by ``(seed_key(seed), i << 32 | s)``; draw
  ``k`` takes words ``2(k % 2)`` and ``2(k % 2) + 1`` of the block at counter ``k // 2 + 1``,
  which is where a fresh ``numpy.random.Philox`` with that key puts its words ``2k, 2k + 1``;
* :class:`PatientStream` (one patient, one stream: the scalar engines) reads the words from
  numpy's own Philox, in order; :func:`philox4x64` (any arrays of patients, streams and
  draw numbers: the vector engine) computes the same blocks in numpy ``uint64`` arithmetic;
* words become numbers by one set of numpy transforms used by both sides (:func:`uniform_of`,
  :func:`normal_of`, :func:`exponential_of`): a uniform is ``(w >> 11) / 2**53`` (numpy's own
  conversion), a normal is Box-Muller on two uniforms (numpy's ziggurat rejects a variable
  number of words, so its ``k``-th normal is not a function of ``k``), an exponential is
  ``-log1p(-u)``. ``math.log`` and numpy's vectorised ``log`` differ in the last bit on
  some inputs (measured: 0.35% of uniforms on an AVX-512 machine), so the scalar side uses the
  numpy transforms too, on contiguous arrays, and the two sides agree bit for bit on the
  same machine.

Streams: a patient's root stream is 0; :meth:`PatientStream.spawn` numbers child ``j`` of
stream ``s`` as ``child_stream(s, j) = 256 s + j + 1`` (the cohort's attribute and model
streams are 1 and 2; the model's streams 513 to 532), so the vector engine can name any
stream without spawning.
"""

from __future__ import annotations

import functools
import math
from typing import TypeAlias, overload

import numpy as np
from numpy.typing import ArrayLike, NDArray

__all__ = [
    "PatientStream",
    "Randomness",
    "child_stream",
    "exponential_of",
    "exponentials",
    "normal_of",
    "normals",
    "philox4x64",
    "run_words",
    "seed_key",
    "stream_key",
    "uniform_of",
    "uniforms",
    "words",
]

_U64 = np.uint64
_MASK32 = _U64(0xFFFFFFFF)
_SHIFT32 = _U64(32)
_SHIFT11 = _U64(11)
# Philox4x64 multipliers and Weyl key increments (Random123; numpy's philox.h).
_M0 = 0xD2E7470EE14C6C93
_M1 = 0xCA5A826395121157
_W0 = 0x9E3779B97F4A7C15
_W1 = 0xBB67AE8584CAA73B
_MASK64 = (1 << 64) - 1
_ROUNDS = 10
_TWO_PI = 2.0 * math.pi
_TWO_POW_53 = 2.0**-53
_MAX_PATIENT = 1 << 32
_MAX_STREAM = 1 << 32
_SLICE = 16384


@functools.lru_cache(maxsize=64)
def seed_key(seed: int) -> int:
    """The 64-bit Philox key word of a run's ``seed`` (any whole number >= 0).

    ``SeedSequence(seed)`` hashes seeds of any size, so nearby seeds give unrelated keys.
    """
    if seed < 0:
        raise ValueError(f"seed: found {seed}, expected a whole number >= 0")
    return int(np.random.SeedSequence(seed).generate_state(1, np.uint64)[0])


def stream_key(patient: int, stream: int) -> int:
    """The second Philox key word: ``patient << 32 | stream`` (each below ``2**32``)."""
    if not 0 <= patient < _MAX_PATIENT:
        raise ValueError(f"patient index: found {patient}, expected 0 to {_MAX_PATIENT - 1}")
    if not 0 <= stream < _MAX_STREAM:
        raise ValueError(f"stream: found {stream}, expected 0 to {_MAX_STREAM - 1}")
    return patient << 32 | stream


def child_stream(stream: int, j: int) -> int:
    """Stream number of child ``j`` (0 to 254) of ``stream``: ``256 * stream + j + 1``."""
    if not 0 <= j < 255:
        raise ValueError(f"child stream: found {j}, expected 0 to 254")
    child = 256 * stream + j + 1
    if child >= _MAX_STREAM:
        raise ValueError(f"stream {stream} is nested too deep to spawn (child {child})")
    return child


def _mulhilo(a: NDArray[np.uint64], m: int) -> tuple[NDArray[np.uint64], NDArray[np.uint64]]:
    """High and low 64-bit words of ``a * m`` (the 128-bit product), in 32-bit limbs."""
    m_lo, m_hi = _U64(m & 0xFFFFFFFF), _U64(m >> 32)
    a_lo = a & _MASK32
    a_hi = a >> _SHIFT32
    lh = a_lo * m_hi
    hl = a_hi * m_lo
    mid = ((a_lo * m_lo) >> _SHIFT32) + (lh & _MASK32) + (hl & _MASK32)
    hi = a_hi * m_hi + (lh >> _SHIFT32) + (hl >> _SHIFT32) + (mid >> _SHIFT32)
    return hi, a * _U64(m)


def philox4x64(
    counter: ArrayLike, key0: int, key1: ArrayLike
) -> tuple[NDArray[np.uint64], NDArray[np.uint64], NDArray[np.uint64], NDArray[np.uint64]]:
    """Philox4x64-10 blocks for counters ``(counter, 0, 0, 0)`` under keys ``(key0, key1)``.

    ``counter`` and ``key1`` broadcast; the four output words equal numpy's Philox. Large
    arrays go in slices of ``_SLICE`` (the temporaries stay in cache: 1.6x faster at 10^5).
    """
    c, k = np.broadcast_arrays(
        np.asarray(counter, dtype=np.uint64), np.asarray(key1, dtype=np.uint64)
    )
    shape = c.shape  # worked on flat (numpy scalars would warn on wrapping products)
    c, k = c.reshape(-1), k.reshape(-1)
    if c.size <= _SLICE:
        out = _philox_flat(c, key0, k)
    else:
        parts = [
            _philox_flat(c[i : i + _SLICE], key0, k[i : i + _SLICE])
            for i in range(0, c.size, _SLICE)
        ]
        w0, w1, w2, w3 = zip(*parts, strict=True)
        out = (np.concatenate(w0), np.concatenate(w1), np.concatenate(w2), np.concatenate(w3))
    return (
        out[0].reshape(shape),
        out[1].reshape(shape),
        out[2].reshape(shape),
        out[3].reshape(shape),
    )


def _philox_flat(
    counter: NDArray[np.uint64], key0: int, key1: NDArray[np.uint64]
) -> tuple[NDArray[np.uint64], NDArray[np.uint64], NDArray[np.uint64], NDArray[np.uint64]]:
    c0 = counter.copy()
    c1 = np.zeros_like(c0)
    c2 = np.zeros_like(c0)
    c3 = np.zeros_like(c0)
    k1 = key1.copy()
    k0 = key0
    for r in range(_ROUNDS):
        hi0, lo0 = _mulhilo(c0, _M0)
        hi1, lo1 = _mulhilo(c2, _M1)
        c0, c1, c2, c3 = hi1 ^ c1 ^ _U64(k0), lo1, hi0 ^ c3 ^ k1, lo0
        if r + 1 < _ROUNDS:
            k0 = (k0 + _W0) & _MASK64
            k1 += _U64(_W1)
    return c0, c1, c2, c3


def words(
    seed: int, patient: ArrayLike, stream: ArrayLike, k: ArrayLike
) -> tuple[NDArray[np.uint64], NDArray[np.uint64]]:
    """The two 64-bit words of draw ``k`` of ``stream`` of ``patient`` (arrays broadcast)."""
    kk = np.asarray(k, dtype=np.uint64)
    key1 = _key1(patient, stream)
    b0, b1, b2, b3 = philox4x64((kk >> _U64(1)) + _U64(1), seed_key(seed), key1)
    odd = (kk & _U64(1)).astype(bool)
    return np.where(odd, b2, b0), np.where(odd, b3, b1)


def _key1(patient: ArrayLike, stream: ArrayLike) -> NDArray[np.uint64]:
    p = np.asarray(patient, dtype=np.uint64)
    s = np.asarray(stream, dtype=np.uint64)
    if p.size and int(p.max()) >= _MAX_PATIENT:
        raise ValueError(f"patient index: found {int(p.max())}, expected below {_MAX_PATIENT}")
    if s.size and int(s.max()) >= _MAX_STREAM:
        raise ValueError(f"stream: found {int(s.max())}, expected below {_MAX_STREAM}")
    return (p << _SHIFT32) | s


def run_words(
    seed: int, patient: ArrayLike, stream: ArrayLike, start: ArrayLike, count: int
) -> tuple[NDArray[np.uint64], NDArray[np.uint64]]:
    """The words of draws ``start`` to ``start + count - 1`` of each patient, shape
    ``(patients, count)``: the same words as :func:`words`, with each Philox block (two
    draws) computed once, half the work of asking for the draws one by one."""
    key1 = _key1(patient, stream).reshape(-1)
    first = np.asarray(start, dtype=np.uint64).reshape(-1)
    n = np.broadcast_shapes(key1.shape, first.shape)[0]
    key1, first = np.broadcast_to(key1, (n,)), np.broadcast_to(first, (n,))
    odd = (first & _U64(1)).astype(np.intp)  # 1: the first draw is a block's second half
    # Blocks spanned: count / 2 rounded up from an even start, one more from an odd one.
    blocks = count // 2 + 1 if odd.any() else (count + 1) // 2
    counters = (first >> _U64(1))[:, None] + np.arange(1, blocks + 1, dtype=np.uint64)
    b0, b1, b2, b3 = philox4x64(counters, seed_key(seed), key1[:, None])
    # Each block holds two draws: (b0, b1) then (b2, b3); lay them out in draw order.
    w0 = np.stack([b0, b2], axis=2).reshape(n, 2 * blocks)
    w1 = np.stack([b1, b3], axis=2).reshape(n, 2 * blocks)
    if not odd.any():
        return w0[:, :count], w1[:, :count]
    at = odd[:, None] + np.arange(count)
    return np.take_along_axis(w0, at, axis=1), np.take_along_axis(w1, at, axis=1)


def uniform_of(w: NDArray[np.uint64]) -> NDArray[np.float64]:
    """Uniforms on [0, 1) from words: the top 53 bits over ``2**53`` (exact)."""
    return (w >> _SHIFT11).astype(np.float64) * _TWO_POW_53


def normal_of(w0: NDArray[np.uint64], w1: NDArray[np.uint64]) -> NDArray[np.float64]:
    """Standard normals from two words (Box-Muller, cosine branch; ``1 - u`` is in (0, 1])."""
    radius = np.sqrt(-2.0 * np.log(1.0 - uniform_of(w0)))
    return np.ascontiguousarray(radius * np.cos(_TWO_PI * uniform_of(w1)))


def exponential_of(w: NDArray[np.uint64]) -> NDArray[np.float64]:
    """Exp(1) draws from words: ``-log1p(-u)``."""
    return -np.log1p(-uniform_of(w))


def uniforms(seed: int, patient: ArrayLike, stream: ArrayLike, k: ArrayLike) -> NDArray[np.float64]:
    """Draw ``k`` of ``stream`` of ``patient`` as a uniform on [0, 1) (arrays broadcast)."""
    return uniform_of(words(seed, patient, stream, k)[0])


def normals(seed: int, patient: ArrayLike, stream: ArrayLike, k: ArrayLike) -> NDArray[np.float64]:
    """Draw ``k`` of ``stream`` of ``patient`` as a standard normal (arrays broadcast)."""
    return normal_of(*words(seed, patient, stream, k))


def exponentials(
    seed: int, patient: ArrayLike, stream: ArrayLike, k: ArrayLike
) -> NDArray[np.float64]:
    """Draw ``k`` of ``stream`` of ``patient`` as an Exp(1) variate (arrays broadcast)."""
    return exponential_of(words(seed, patient, stream, k)[0])


class PatientStream:
    """One patient's stream of draws, read in order (the scalar engines' generator).

    Has the ``numpy.random.Generator`` methods the patient model uses; every call, of any
    kind, takes one draw number per value, so draw ``k`` is the same number whatever was
    asked before it (see the module docstring).

    Attributes:
        seed: the run's seed.
        patient: the patient's index in the cohort (0-based).
        stream: the stream number (0: the patient's root stream).
        drawn: draws taken so far (the next draw's number ``k``).
    """

    __slots__ = ("_bits", "drawn", "patient", "seed", "stream")

    def __init__(self, seed: int, patient: int, stream: int = 0) -> None:
        stream_key(patient, stream)  # checks the ranges
        self.seed = seed
        self.patient = patient
        self.stream = stream
        self.drawn = 0
        self._bits: np.random.Philox | None = None

    def __repr__(self) -> str:
        return (
            f"PatientStream(seed={self.seed}, patient={self.patient}, stream={self.stream}, "
            f"drawn={self.drawn})"
        )

    def _words(self, n: int) -> tuple[NDArray[np.uint64], NDArray[np.uint64]]:
        if self._bits is None:
            key = np.array(
                [seed_key(self.seed), stream_key(self.patient, self.stream)], dtype=np.uint64
            )
            self._bits = np.random.Philox(key=key)
        raw: NDArray[np.uint64] = self._bits.random_raw(2 * n)
        self.drawn += n
        return raw[0::2], raw[1::2]

    def spawn(self, n_children: int) -> list[PatientStream]:
        """``n_children`` independent streams of the same patient (see :func:`child_stream`)."""
        return [
            PatientStream(self.seed, self.patient, child_stream(self.stream, j))
            for j in range(n_children)
        ]

    @overload
    def random(self, size: None = None) -> float: ...
    @overload
    def random(self, size: int) -> NDArray[np.float64]: ...
    def random(self, size: int | None = None) -> float | NDArray[np.float64]:
        """Uniform(s) on [0, 1)."""
        out = uniform_of(self._words(1 if size is None else size)[0])
        return float(out[0]) if size is None else out

    @overload
    def standard_normal(self, size: None = None) -> float: ...
    @overload
    def standard_normal(self, size: int) -> NDArray[np.float64]: ...
    def standard_normal(self, size: int | None = None) -> float | NDArray[np.float64]:
        """Standard normal(s)."""
        out = normal_of(*self._words(1 if size is None else size))
        return float(out[0]) if size is None else out

    @overload
    def standard_exponential(self, size: None = None) -> float: ...
    @overload
    def standard_exponential(self, size: int) -> NDArray[np.float64]: ...
    def standard_exponential(self, size: int | None = None) -> float | NDArray[np.float64]:
        """Exp(1) variate(s)."""
        out = exponential_of(self._words(1 if size is None else size)[0])
        return float(out[0]) if size is None else out

    def uniform(self, low: float = 0.0, high: float = 1.0) -> float:
        """One uniform on [low, high)."""
        return low + (high - low) * self.random()

    def normal(self, loc: float = 0.0, scale: float = 1.0) -> float:
        """One normal with mean ``loc`` and standard deviation ``scale``."""
        return loc + scale * self.standard_normal()


#: What the patient model draws from: a :class:`PatientStream` in the cohort engines, or a
#: ``numpy.random.Generator`` (single patients, tests, the trainer).
Randomness: TypeAlias = np.random.Generator | PatientStream
