"""The frequency-band registry.

One documented set of default bands; a protocol may override any of them or add its own in
its ``[bands]`` table. Edges are in Hz, inclusive of the low edge and exclusive of nothing:
estimators treat ``[lo, hi]`` as the pass band.
"""

from __future__ import annotations

from .errors import ConfigError

#: Default bands (Hz). SMR and beta follow the usual clinical split; high beta is the
#: anxiety-related band that protocols commonly inhibit.
DEFAULT_BANDS: dict[str, tuple[float, float]] = {
    "delta": (1.0, 4.0),
    "theta": (4.0, 8.0),
    "alpha": (8.0, 12.0),
    "smr": (12.0, 15.0),
    "beta": (15.0, 20.0),
    "high_beta": (20.0, 30.0),
    "gamma": (30.0, 45.0),
    "emg": (55.0, 95.0),
}


def resolve_bands(
    overrides: dict[str, object] | None, sfreq: float, *, where: str = "bands"
) -> dict[str, tuple[float, float]]:
    """Merge a protocol's band table over the defaults and validate every band.

    Parameters
    ----------
    overrides : dict | None
        Band name to ``[lo, hi]`` in Hz.
    sfreq : float
        Sampling rate; every band must lie below Nyquist.
    where : str
        Where the table came from, for error messages.

    Returns
    -------
    bands : dict
        Name to ``(lo, hi)``.
    """
    bands = dict(DEFAULT_BANDS)
    for name, edges in (overrides or {}).items():
        if not name.isidentifier():
            raise ConfigError(f"{where}: band name {name!r} must be a plain identifier")
        if (
            not isinstance(edges, list | tuple)
            or len(edges) != 2
            or not all(isinstance(e, int | float) and not isinstance(e, bool) for e in edges)
        ):
            raise ConfigError(f"{where}.{name} must be [low_hz, high_hz], got {edges!r}")
        lo, hi = float(edges[0]), float(edges[1])
        if not 0 < lo < hi:
            raise ConfigError(f"{where}.{name} must satisfy 0 < low < high, got [{lo}, {hi}]")
        bands[name] = (lo, hi)
    nyq = sfreq / 2.0
    for name, (_lo, hi) in list(bands.items()):
        if hi >= nyq:
            if name in (overrides or {}):
                raise ConfigError(
                    f"{where}.{name} upper edge {hi} Hz must be below Nyquist ({nyq:g} Hz)"
                )
            # A default band this board cannot see (EMG on a 125 Hz Daisy): narrow it.
            lo_, hi_ = bands[name]
            hi_ = 0.9 * nyq
            if hi_ <= lo_:
                del bands[name]
            else:
                bands[name] = (lo_, hi_)
    return bands
