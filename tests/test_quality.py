"""check_signal: known signals give the measures and verdicts the thresholds document."""

from __future__ import annotations

import json

import numpy as np
import pytest

from nfb import quality
from nfb.quality import check_signal

FS = 250.0
T = np.arange(int(5 * FS)) / FS
RNG = np.random.default_rng(42)
CYTON_RAIL = 4.5 / 24 * 1e6


def _sine(freq, rms):
    return np.sqrt(2) * rms * np.sin(2 * np.pi * freq * T)


def test_measures_of_known_signals():
    x = np.vstack(
        [
            _sine(10, 20.0),  # alpha, 20 µV RMS
            _sine(10, 20.0) + 50_000.0 + 300.0 * T,  # same with a Cyton-like offset and drift
            _sine(10, 20.0) + _sine(50, 15.0),  # 15 µV RMS of mains
        ]
    )
    res = check_signal(x, FS, ["O1", "O2", "Pz"], mains_hz=50, rail_uv=CYTON_RAIL)
    a, b, c = res.channels
    assert a.rms_uv == pytest.approx(20.0, rel=0.03)
    assert b.rms_uv == pytest.approx(20.0, rel=0.03)  # offset and drift do not count
    assert a.line_noise_uv < 0.5
    assert c.line_noise_uv == pytest.approx(15.0, rel=0.05)
    assert c.rms_uv == pytest.approx(20.0, rel=0.05)  # 50 Hz is outside 1-40 Hz
    assert (a.verdict, b.verdict, c.verdict) == ("good", "good", "check")
    assert c.notes == (f"mains {c.line_noise_uv:.1f} µV > 10",)
    assert res.verdict == "check"
    assert res.seconds == pytest.approx(5.0) and res.sfreq == FS and res.mains_hz == 50


def test_sixty_hz_mains():
    x = np.vstack([_sine(10, 20) + _sine(60, 30), _sine(10, 20) + _sine(50, 30)])
    res = check_signal(x, FS, ["C3", "C4"], mains_hz=60)
    assert res.channels[0].line_noise_uv == pytest.approx(30, rel=0.05)
    assert res.channels[1].line_noise_uv < 1  # 50 Hz is not the mains here


def test_bad_channels():
    n = T.size
    railed = RNG.normal(0, 10, n)
    railed[: n // 10] = CYTON_RAIL  # 10 % of the samples at full scale
    x = np.vstack(
        [
            RNG.normal(0, 10, n),  # plausible EEG
            RNG.normal(0, 0.1, n),  # flat
            np.full(n, -CYTON_RAIL),  # stuck at the negative rail
            railed,
            RNG.normal(0, 400, n),  # huge
            _sine(10, 20) + _sine(50, 80),  # mains far too high
            RNG.normal(0, 1.0, n),  # too quiet, but not flat
            _sine(10, 150),  # too big, not yet bad
        ]
    )
    names = ["Fp1", "Fp2", "C3", "C4", "P7", "P8", "O1", "O2"]
    res = check_signal(x, FS, names, mains_hz=50, rail_uv=CYTON_RAIL)
    got = {c.name: c for c in res.channels}
    assert got["Fp1"].verdict == "good" and not got["Fp1"].flat
    assert got["Fp2"].flat and got["Fp2"].verdict == "bad" and not got["Fp2"].railed
    assert got["C3"].railed and got["C3"].flat and got["C3"].verdict == "bad"
    assert got["C4"].railed and not got["C4"].flat and got["C4"].verdict == "bad"
    assert got["P7"].verdict == "bad" and got["P7"].notes[0].startswith("RMS")
    assert got["P8"].verdict == "bad" and got["P8"].notes[0].startswith("mains 8")
    assert got["P8"].notes[0].endswith(" µV > 50")
    assert got["O1"].verdict == "check" and "< 2" in got["O1"].notes[0]
    assert got["O2"].verdict == "check" and "> 100" in got["O2"].notes[0]
    assert res.verdict == "bad"
    assert res.summary.startswith("Verdict: BAD: 5 of 8 channels unusable: Fp2 (flat)")
    assert "2 more need a look: O1" in res.summary
    # the verdict on the trained electrodes first: a good Fp1 is a good session even with a
    # bad montage elsewhere, and the bad ones are still named
    assert res.verdict_of(["Fp1"]) == "good" and res.verdict_of(["Fp1", "O1"]) == "check"
    line = res.summary_for(["Fp1"])
    assert line.startswith("Trained Fp1: GOOD. Other channels (not trained): BAD: Fp2 (flat)")
    assert "CHECK: O1" in line
    assert res.summary_for(["P8", "Fp1"]).startswith("Trained Fp1, P8: BAD: P8 (mains 8")
    assert res.summary_for([]) == res.summary  # nothing known to be trained: the whole montage


def test_stuck_channel_is_railed_without_known_rail():
    x = np.vstack([RNG.normal(0, 10, T.size), np.full(T.size, 123.0)])
    res = check_signal(x, FS, ["Cz", "Pz"], mains_hz=50, rail_uv=None)
    assert not res.channels[0].railed
    assert res.channels[1].railed


def test_table_and_dict():
    x = np.vstack([RNG.normal(0, 10, T.size), RNG.normal(0, 10, T.size)])
    res = check_signal(x, FS, ["Fz", "Cz"], mains_hz=50)
    table = res.format_table()
    lines = table.splitlines()
    assert lines[0] == "Signal check: 5.0 s at 250 Hz, 2 channels, mains 50 Hz"
    assert lines[1].split()[:2] == ["channel", "RMS"]
    assert lines[3].startswith("Fz") and lines[3].endswith("good")
    assert lines[-1] == "Verdict: GOOD: all 2 channels look like EEG."
    d = res.to_dict()
    json.dumps(d, allow_nan=False)
    assert d["verdict"] == "good" and d["channels"][1]["name"] == "Cz"
    assert set(d["channels"][0]) == {
        "name", "rms_uv", "line_noise_uv", "flat", "railed", "verdict", "notes"
    }  # fmt: skip


def test_mains_above_nyquist_is_not_measured():
    fs = 100.0
    t = np.arange(int(3 * fs)) / fs
    x = np.sqrt(2) * 20 * np.sin(2 * np.pi * 10 * t)[np.newaxis]
    res = check_signal(x, fs, ["Oz"], mains_hz=50)
    assert np.isnan(res.channels[0].line_noise_uv)
    assert res.channels[0].verdict == "good"
    assert "n/a" in res.format_table()
    assert res.to_dict()["channels"][0]["line_noise_uv"] is None


def test_thresholds_are_the_documented_ones():
    assert quality.RMS_PLAUSIBLE_UV == (2.0, 100.0)
    assert quality.LINE_CHECK_UV == 10.0
    assert quality.FLAT_STD_UV == 0.5
    assert quality.RAIL_FRACTION == 0.9


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"eeg_uv": np.zeros(500)}, "must be 2-D"),
        ({"ch_names": ["A"]}, "2 rows but 1 ch_names"),
        ({"eeg_uv": np.zeros((2, 100))}, "at least 1 s"),
        ({"eeg_uv": np.full((2, 500), np.nan)}, "NaN"),
        ({"mains_hz": 55}, "must be 50 or 60"),
        ({"sfreq": 0}, "sfreq"),
        ({"rail_uv": -1}, "rail_uv"),
    ],
)
def test_bad_arguments(kwargs, match):
    args = {
        "eeg_uv": RNG.normal(0, 10, (2, 500)),
        "sfreq": FS,
        "ch_names": ["Fz", "Cz"],
        "mains_hz": 50,
        "rail_uv": None,
    }
    args.update(kwargs)
    with pytest.raises(ValueError, match=match):
        check_signal(
            args["eeg_uv"],
            args["sfreq"],
            args["ch_names"],
            mains_hz=args["mains_hz"],
            rail_uv=args["rail_uv"],
        )
