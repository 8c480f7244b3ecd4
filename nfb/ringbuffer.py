"""A fixed-capacity multichannel ring buffer indexed by absolute sample number.

The acquisition thread appends blocks of samples; readers (pipeline, GUI, quality check) ask
either for the newest samples or for an absolute range. Every sample keeps the index it got
when it was appended (``0, 1, 2, ...`` since the buffer was created), so readers can tell
exactly which samples they have and whether the ring has already overwritten them.
"""

from __future__ import annotations

import threading

import numpy as np


class RingBuffer:
    """Fixed-capacity ``(n_rows, capacity)`` float64 ring with a monotonic sample index.

    Parameters
    ----------
    n_rows : int
        Number of rows (channels) of every sample.
    capacity : int
        Number of samples kept; older samples are overwritten.

    Notes
    -----
    All methods are thread-safe (one lock); the returned arrays are copies.
    """

    def __init__(self, n_rows: int, capacity: int) -> None:
        for name, value in (("n_rows", n_rows), ("capacity", capacity)):
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
                raise ValueError(f"RingBuffer: {name} must be a positive int, got {value!r}")
        self.n_rows = int(n_rows)
        self.capacity = int(capacity)
        self._data = np.zeros((self.n_rows, self.capacity), dtype=np.float64)
        self._n_written = 0
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return (
            f"<RingBuffer | {self.n_rows} rows × {self.capacity} samples, {self.n_written} written>"
        )

    @property
    def n_written(self) -> int:
        """Total number of samples ever appended (also the index of the next sample)."""
        with self._lock:
            return self._n_written

    @property
    def first_available(self) -> int:
        """Index of the oldest sample still held."""
        with self._lock:
            return max(0, self._n_written - self.capacity)

    def append(self, block: np.ndarray) -> int:
        """Append a block of samples.

        Parameters
        ----------
        block : array, shape (n_rows, n)
            The new samples; ``n`` may be 0 or larger than the capacity (only the newest
            ``capacity`` samples are then kept, but the index still advances by ``n``).

        Returns
        -------
        index : int
            The absolute index of the block's first sample.
        """
        block = np.asarray(block, dtype=np.float64)
        if block.ndim != 2 or block.shape[0] != self.n_rows:
            raise ValueError(
                f"RingBuffer.append: block must have shape ({self.n_rows}, n), got {block.shape}"
            )
        n = block.shape[1]
        with self._lock:
            first = self._n_written
            if n > self.capacity:
                block = block[:, n - self.capacity :]
            m = block.shape[1]
            start = (first + n - m) % self.capacity
            head = min(m, self.capacity - start)
            self._data[:, start : start + head] = block[:, :head]
            if head < m:
                self._data[:, : m - head] = block[:, head:]
            self._n_written = first + n
        return first

    def latest(self, n: int) -> tuple[np.ndarray, int]:
        """Copy the newest samples.

        Parameters
        ----------
        n : int
            How many samples are wanted; fewer are returned if fewer are available.

        Returns
        -------
        data : array, shape (n_rows, min(n, available))
            The newest samples, oldest first.
        index : int
            The absolute index of ``data[:, 0]``.
        """
        if n < 0:
            raise ValueError(f"RingBuffer.latest: n must be >= 0, got {n}")
        with self._lock:
            stop = self._n_written
            start = max(stop - min(int(n), self.capacity), 0)
            return self._copy(start, stop), start

    def get(self, start: int, stop: int) -> np.ndarray:
        """Copy the samples ``[start, stop)`` by absolute index.

        Raises
        ------
        ValueError
            If part of the range was already overwritten or is not written yet.
        """
        start, stop = int(start), int(stop)
        if start < 0 or stop < start:
            raise ValueError(f"RingBuffer.get: need 0 <= start <= stop, got [{start}, {stop})")
        with self._lock:
            oldest = max(0, self._n_written - self.capacity)
            if start < oldest:
                raise ValueError(
                    f"RingBuffer.get: samples [{start}, {oldest}) were overwritten "
                    f"(oldest held is {oldest}, capacity {self.capacity})"
                )
            if stop > self._n_written:
                raise ValueError(
                    f"RingBuffer.get: samples [{self._n_written}, {stop}) are not written yet "
                    f"({self._n_written} written)"
                )
            return self._copy(start, stop)

    def _copy(self, start: int, stop: int) -> np.ndarray:
        # caller holds the lock and has checked the range
        n = stop - start
        i0 = start % self.capacity
        if i0 + n <= self.capacity:
            return self._data[:, i0 : i0 + n].copy()
        return np.concatenate(
            (self._data[:, i0:], self._data[:, : n - (self.capacity - i0)]), axis=1
        )
