"""RingBuffer: wraparound, absolute indices, overwrite and not-yet-written errors."""

from __future__ import annotations

import threading

import numpy as np
import pytest

from nfb.ringbuffer import RingBuffer


def _stream(n_rows: int, n: int) -> np.ndarray:
    """Row 0 is the sample index, the other rows derived values."""
    idx = np.arange(n, dtype=float)
    return np.vstack([idx] + [idx * (r + 1) + 0.5 for r in range(n_rows - 1)])


def test_append_returns_first_index_and_latest_copies():
    rb = RingBuffer(2, 8)
    assert rb.n_written == 0
    data, first = rb.latest(5)
    assert data.shape == (2, 0) and first == 0
    assert rb.append(_stream(2, 3)) == 0
    assert rb.append(_stream(2, 3)[:, :2] + 100) == 3
    assert rb.n_written == 5
    data, first = rb.latest(10)  # more than available
    assert first == 0 and data.shape == (2, 5)
    np.testing.assert_array_equal(data[0], [0, 1, 2, 100, 101])
    data[:] = -1  # a copy: the ring is untouched
    np.testing.assert_array_equal(rb.latest(2)[0][0], [100, 101])


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_wraparound_with_random_chunks_matches_reference(seed):
    rng = np.random.default_rng(seed)
    ref = _stream(3, 500)
    rb = RingBuffer(3, 37)
    pos = 0
    while pos < ref.shape[1]:
        n = int(rng.integers(0, 50))  # 0, smaller and larger than the capacity
        block = ref[:, pos : pos + n]
        assert rb.append(block) == pos
        pos += block.shape[1]
        assert rb.n_written == pos
        data, first = rb.latest(int(rng.integers(1, 60)))
        np.testing.assert_array_equal(data, ref[:, first : first + data.shape[1]])
        assert first + data.shape[1] == pos
        lo = max(0, pos - 37)
        start = int(rng.integers(lo, pos + 1))
        stop = int(rng.integers(start, pos + 1))
        np.testing.assert_array_equal(rb.get(start, stop), ref[:, start:stop])
    assert rb.first_available == pos - 37


def test_block_larger_than_capacity_keeps_newest():
    rb = RingBuffer(1, 4)
    ref = _stream(1, 10)
    assert rb.append(ref) == 0
    assert rb.n_written == 10
    np.testing.assert_array_equal(rb.get(6, 10)[0], [6, 7, 8, 9])
    with pytest.raises(ValueError, match="overwritten"):
        rb.get(5, 10)


def test_get_errors():
    rb = RingBuffer(2, 10)
    rb.append(_stream(2, 25))
    with pytest.raises(ValueError, match=r"samples \[10, 15\) were overwritten"):
        rb.get(10, 20)
    with pytest.raises(ValueError, match=r"samples \[25, 26\) are not written yet"):
        rb.get(20, 26)
    with pytest.raises(ValueError, match="start <= stop"):
        rb.get(22, 21)
    with pytest.raises(ValueError, match="start <= stop"):
        rb.get(-1, 3)
    assert rb.get(20, 20).shape == (2, 0)


def test_bad_arguments():
    with pytest.raises(ValueError, match="n_rows must be a positive int"):
        RingBuffer(0, 10)
    with pytest.raises(ValueError, match="capacity must be a positive int"):
        RingBuffer(2, 2.5)
    rb = RingBuffer(2, 10)
    with pytest.raises(ValueError, match=r"shape \(2, n\)"):
        rb.append(np.zeros((3, 4)))
    with pytest.raises(ValueError, match=r"shape \(2, n\)"):
        rb.append(np.zeros(4))
    with pytest.raises(ValueError, match="n must be >= 0"):
        rb.latest(-1)
    assert "2 rows" in repr(rb)


def test_concurrent_writer_and_readers_see_consistent_blocks():
    rb = RingBuffer(2, 64)
    n_total = 20_000
    ref = _stream(2, n_total)
    errors: list[str] = []
    done = threading.Event()

    def reader():
        while not done.is_set():
            data, first = rb.latest(50)
            expect = ref[:, first : first + data.shape[1]]
            if not np.array_equal(data, expect):
                errors.append(f"latest at {first}")
                return

    threads = [threading.Thread(target=reader) for _ in range(2)]
    for t in threads:
        t.start()
    pos = 0
    while pos < n_total:
        rb.append(ref[:, pos : pos + 7])
        pos += 7
    done.set()
    for t in threads:
        t.join()
    assert not errors
    assert rb.n_written == n_total
