"""Counter-based draws: the scalar stream and the array functions agree bit for bit, the
array Philox is numpy's, and the numbers look uniform, normal and exponential."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from simulation.model.draws import (
    PatientStream,
    child_stream,
    exponentials,
    normal_of,
    normals,
    philox4x64,
    run_words,
    uniforms,
    words,
)

U64 = st.integers(0, 2**64 - 1)
SEEDS = st.integers(0, 2**70)
PATIENTS = st.integers(0, 2**32 - 1)
STREAMS = st.integers(0, 2**32 - 1)
KINDS = {"random": uniforms, "standard_normal": normals, "standard_exponential": exponentials}


@given(key0=U64, key1=U64, start=st.integers(0, 2**40), n=st.integers(1, 12))
def test_array_philox_is_numpys(key0: int, key1: int, start: int, n: int) -> None:
    """The numpy-arithmetic Philox4x64-10 gives numpy's Philox words for any key and
    counter (numpy bumps its counter before each block)."""
    bits = np.random.Philox(key=np.array([key0, key1], dtype=np.uint64))
    bits.advance(start)
    expected = bits.random_raw(4 * n)
    blocks = philox4x64(np.arange(start + 1, start + 1 + n, dtype=np.uint64), key0, key1)
    assert np.array_equal(np.stack(blocks, axis=1).ravel(), expected)


@given(
    seed=SEEDS,
    patient=PATIENTS,
    stream=STREAMS,
    calls=st.lists(
        st.tuples(st.sampled_from(sorted(KINDS)), st.none() | st.integers(1, 70)),
        min_size=1,
        max_size=8,
    ),
)
def test_stream_and_arrays_agree_bit_for_bit(
    seed: int, patient: int, stream: int, calls: list[tuple[str, int | None]]
) -> None:
    """Whatever the kinds and sizes asked of a stream, its k-th value equals the array
    function's value at k, computed alone or among other patients' draws."""
    s = PatientStream(seed, patient, stream)
    k = 0
    for kind, size in calls:
        got = np.atleast_1d(getattr(s, kind)(size))
        n = 1 if size is None else size
        ks = np.arange(k, k + n)
        alone = KINDS[kind](seed, patient, stream, ks)
        # The same draws inside a batch of other patients (a 2-D block: patients x draws).
        others = np.array([patient, (patient + 1) % 2**32, patient // 2])[:, None]
        batch = KINDS[kind](seed, others, stream, ks[None, :])[0]
        assert got.tobytes() == alone.tobytes() == batch.tobytes()
        k += n
    assert s.drawn == k


def test_uniform_and_scaled_draws() -> None:
    """uniform() and normal() scale the stream's uniforms and normals."""
    a, b = PatientStream(1, 2, 3), PatientStream(1, 2, 3)
    assert a.uniform(2.0, 5.0) == 2.0 + 3.0 * b.random()
    assert a.normal(10.0, 2.0) == 10.0 + 2.0 * b.standard_normal()


def _ks(sample: np.ndarray, cdf: np.ndarray) -> float:
    """Kolmogorov-Smirnov distance of a sorted sample from the model CDF at its points."""
    n = len(sample)
    i = np.arange(1, n + 1)
    return float(max(np.max(i / n - cdf), np.max(cdf - (i - 1) / n)))


N = 60_000
# At the 0.1% level the KS distance is below 1.95 / sqrt(n).
KS_BOUND = 1.95 / math.sqrt(N)


def _draws(kind: str) -> np.ndarray:
    """N draws spread over patients, streams and draw numbers (fixed seed)."""
    patients = np.arange(N) % 3000
    streams = (np.arange(N) // 3000) % 5 * 257
    ks = np.arange(N) // 15000
    return np.sort(KINDS[kind](20260101, patients, streams, ks))


def test_uniforms_are_uniform() -> None:
    """Uniforms over patients, streams and draw numbers pass a KS test and fill ten bins
    evenly (chi-square, 9 degrees of freedom, below the 0.1% critical value 27.9)."""
    u = _draws("random")
    assert u[0] >= 0.0
    assert u[-1] < 1.0
    assert _ks(u, u) < KS_BOUND
    counts = np.bincount((u * 10).astype(int), minlength=10)
    chi2 = float(np.sum((counts - N / 10) ** 2 / (N / 10)))
    assert chi2 < 27.9


def test_normals_and_exponentials_have_their_distributions() -> None:
    """Normals and exponentials pass KS tests against their CDFs."""
    z = _draws("standard_normal")
    phi = 0.5 * (1.0 + np.vectorize(math.erf)(z / math.sqrt(2.0)))
    assert _ks(z, phi) < KS_BOUND
    e = _draws("standard_exponential")
    assert e[0] >= 0.0
    assert _ks(e, -np.expm1(-e)) < KS_BOUND


def test_neighbouring_patients_and_streams_are_uncorrelated() -> None:
    """Draws of patients i and i + 1, and of streams s and s + 1, are uncorrelated (|r| is
    below 4 standard errors)."""
    p = np.arange(N)
    first = uniforms(7, p, 1, 0)
    assert abs(np.corrcoef(first[:-1], first[1:])[0, 1]) < 4 / math.sqrt(N)
    other = uniforms(7, p, 2, 0)
    assert abs(np.corrcoef(first, other)[0, 1]) < 4 / math.sqrt(N)
    later = uniforms(7, p, 1, 1)
    assert abs(np.corrcoef(first, later)[0, 1]) < 4 / math.sqrt(N)


def test_spawned_streams_and_ranges() -> None:
    """spawn numbers children 256 s + j + 1; out-of-range patients, streams and children
    fail with the value found."""
    kids = PatientStream(3, 4).spawn(2)
    assert [k.stream for k in kids] == [1, 2]
    assert [k.stream for k in kids[1].spawn(3)] == [513, 514, 515]
    assert kids[0].random() != kids[1].random()
    with pytest.raises(ValueError, match="found 4294967296"):
        PatientStream(3, 2**32)
    with pytest.raises(ValueError, match="found 255"):
        child_stream(1, 255)
    with pytest.raises(ValueError, match="nested too deep"):
        child_stream(2**24, 0)
    with pytest.raises(ValueError, match="found -1"):
        PatientStream(-1, 0).random()
    with pytest.raises(ValueError, match="patient index"):
        words(1, [2**32], 0, 0)


def test_seeds_of_any_size_give_different_draws() -> None:
    """Seeds beyond 64 bits are hashed, not truncated: seed and seed + 2**64 differ."""
    assert uniforms(5, 0, 0, 0)[()] != uniforms(5 + 2**64, 0, 0, 0)[()]


def test_large_arrays_go_in_slices_with_the_same_words() -> None:
    """More counters than one slice (16,384) still give numpy's words, in order."""
    n = 40_000
    bits = np.random.Philox(key=np.array([11, 12], dtype=np.uint64))
    blocks = philox4x64(np.arange(1, n + 1, dtype=np.uint64).reshape(200, 200), 11, 12)
    assert blocks[0].shape == (200, 200)
    flat = np.stack([b.ravel() for b in blocks], axis=1).ravel()
    assert np.array_equal(flat, bits.random_raw(4 * n))


@given(
    seed=SEEDS,
    patients=st.lists(st.integers(0, 2**32 - 1), min_size=1, max_size=5),
    starts=st.lists(st.integers(0, 2**40), min_size=1, max_size=5),
    count=st.integers(1, 9),
    stream=STREAMS,
)
def test_runs_of_draws_are_the_single_draws(
    seed: int, patients: list[int], starts: list[int], count: int, stream: int
) -> None:
    """run_words (each Philox block once) gives the words of draws start..start+count-1 of
    every patient, whatever the parity of each start."""
    n = min(len(patients), len(starts))
    p, k0 = np.array(patients[:n]), np.array(starts[:n], dtype=np.uint64)
    w0, w1 = run_words(seed, p, stream, k0, count)
    ks = k0[:, None] + np.arange(count, dtype=np.uint64)
    v0, v1 = words(seed, p[:, None], stream, ks)
    assert w0.shape == (n, count)
    assert np.array_equal(w0, v0)
    assert np.array_equal(w1, v1)
    got = normal_of(w0, w1)
    assert got.tobytes() == normals(seed, p[:, None], stream, ks).tobytes()
