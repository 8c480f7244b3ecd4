"""The session script: baselines, training blocks and rests, in samples."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Step:
    """One step of the script.

    Attributes
    ----------
    index : int
        Position in the script.
    name : str
        ``baseline_eyes_open``, ``baseline_eyes_closed``, ``block`` or ``rest``.
    block : int | None
        Block number (1-based) for blocks and the rest that follows them.
    duration : int
        Length in samples (paused time does not count).
    """

    index: int
    name: str
    block: int | None
    duration: int

    @property
    def label(self) -> str:
        if self.name == "block":
            return f"block {self.block}"
        if self.name == "rest":
            return f"rest {self.block}"
        return self.name.replace("_", " ")

    @property
    def is_baseline(self) -> bool:
        return self.name.startswith("baseline")


def build_script(script: dict, sfreq: float) -> list[Step]:
    """Expand a protocol's ``[script]`` table into steps (steps of zero length are left out)."""

    def samples(minutes: float) -> int:
        return round(minutes * 60.0 * sfreq)

    steps: list[Step] = []

    def add(name: str, block: int | None, minutes: float) -> None:
        if samples(minutes) > 0:
            steps.append(Step(len(steps), name, block, samples(minutes)))

    add("baseline_eyes_open", None, script["baseline_eyes_open"])
    add("baseline_eyes_closed", None, script["baseline_eyes_closed"])
    for b in range(1, script["blocks"] + 1):
        add("block", b, script["block_min"])
        if b < script["blocks"]:
            add("rest", b, script["rest_min"])
    return steps
