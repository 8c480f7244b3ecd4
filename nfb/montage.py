"""10-20 channel labels: lookup and nearest-electrode substitution.

A protocol names electrodes by 10-20 label; a device may lack them (a Muse has no O1). The
nearest available electrode by the 3-D positions of MNE's 10-20 template montage stands
in, and the substitution is logged and recorded in the session.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

from ._logging import logger
from .errors import ConfigError


def standard_montage():
    """MNE's 10-20 template montage (``colin27_1020``; ``standard_1020`` before MNE 1.13)."""
    import mne

    name = (
        "colin27_1020"
        if "colin27_1020" in mne.channels.get_builtin_montages()
        else ("standard_1020")
    )
    return mne.channels.make_standard_montage(name)


@lru_cache(maxsize=1)
def _positions() -> dict[str, np.ndarray]:
    pos = standard_montage().get_positions()["ch_pos"]
    return {name.lower(): np.asarray(p) for name, p in pos.items()}


def canonical(label: str) -> str | None:
    """The montage's spelling of ``label`` (case-insensitive), or None if it is not 10-20."""
    lookup = {n.lower(): n for n in standard_montage().ch_names}
    return lookup.get(label.strip().lower())


def nearest_channel(
    label: str,
    available: list[str] | tuple[str, ...],
    exclude: tuple[str, ...] = (),
    where: str = "signal.channels",
) -> tuple[str, float]:
    """Return the available channel nearest to ``label`` and the distance in mm.

    An exact (case-insensitive) match wins with distance 0.
    """
    for ch in available:
        if ch.lower() == label.lower() and ch not in exclude:
            return ch, 0.0
    pos = _positions()
    if label.lower() not in pos:
        raise ConfigError(
            f"{where}: {label!r} is not a 10-20 label, and the device has no channel of that name"
        )
    target = pos[label.lower()]
    best, best_d = None, np.inf
    for ch in available:
        if ch in exclude or ch.lower() not in pos:
            continue
        d = float(np.linalg.norm(pos[ch.lower()] - target))
        if d < best_d:
            best, best_d = ch, d
    if best is None:
        raise ConfigError(
            f"{where}: no channel of this device ({', '.join(available)}) has a "
            f"10-20 position to stand in for {label!r}"
        )
    return best, best_d * 1000.0


def map_channels(
    requested: list[str],
    available: list[str] | tuple[str, ...],
    *,
    distinct: bool = False,
    where: str = "signal.channels",
) -> dict[str, str]:
    """Map each requested label to an available one, nearest by 10-20 position.

    Parameters
    ----------
    requested : list of str
        Labels the protocol asks for.
    available : list of str
        The device's channel labels.
    distinct : bool
        Require the mapped channels to differ (a bipolar pair must not collapse to one).
    where : str
        The protocol field the labels come from, for errors.

    Returns
    -------
    mapping : dict
        Requested label to available label (identity entries included).
    """
    if distinct and len({r.lower() for r in requested}) < len(requested):
        raise ConfigError(f"{where}: {'-'.join(requested)} names the same electrode twice")
    mapping: dict[str, str] = {}
    used: tuple[str, ...] = ()
    for label in requested:
        ch, dist = nearest_channel(label, available, exclude=used if distinct else (), where=where)
        mapping[label] = ch
        if distinct:
            used = (*used, ch)
        if ch.lower() != label.lower():
            logger.warning(
                "device has no %s; using %s instead (nearest, %.0f mm away)", label, ch, dist
            )
    return mapping
