"""``nfb report``: the session report and the client trends, on sessions made by the real
recorder and the real offline replay (a realistic EEG through ``alpha-beta-up``)."""

from __future__ import annotations

import base64
import json
import os
import re
import stat
from datetime import datetime, timedelta, timezone
from pathlib import Path

import numpy as np
import pytest
from bs4 import BeautifulSoup
from conftest import nfb_cli
from sessionfactory import generate_session, write_session

import nfb
from nfb.cli import main
from nfb.errors import ConfigError, SessionError
from nfb.report import (
    block_metrics,
    build_session_report,
    build_trends_report,
    client_trends,
    session_metrics,
    trend_series,
    write_report,
)
from nfb.report import figures as report_figures
from nfb.report.metrics import (
    band_powers,
    clean_samples,
    condition_spectra,
    disconnections,
    markers,
    segments,
    trained_signal,
)
from nfb.session.format import write_json_atomic
from nfb.session.replay import replay
from nfb.session.store import read_session, update_session_meta

#: A short real script (as the Makefile's demo): 12 s baselines, three 15 s blocks, 3 s rests.
SCRIPT = [
    "script.baseline_eyes_open=0.2",
    "script.baseline_eyes_closed=0.2",
    "script.blocks=3",
    "script.block_min=0.25",
    "script.rest_min=0.05",
]
SECONDS = 82  # the script lasts 75 s plus a 4 s pause; a little more so that it completes
EC = (12.0, 24.0)  # the eyes-closed baseline of SCRIPT (s)
EVIL = "<script>alert('x')</script> & calm"
#: A marker label Matplotlib would parse as a (malformed) formula if it were not escaped.
DOLLARS = "calm $\\frac{1}{$"
CLIENT = "client-07"
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def realistic_eeg(n: int, sfreq: float, n_channels: int, seed: int, alpha_gain: float = 1.0):
    """1/f background (~10 µV), alpha bursts at 10 Hz, and 3x more alpha with eyes closed."""
    rng = np.random.default_rng(seed)
    freqs = np.fft.rfftfreq(n, 1 / sfreq)
    spec = rng.normal(size=(n_channels, freqs.size)) + 1j * rng.normal(
        size=(n_channels, freqs.size)
    )
    spec[:, 1:] /= np.sqrt(freqs[1:])
    spec[:, 0] = 0
    eeg = np.fft.irfft(spec, n, axis=1)
    eeg *= 10.0 / eeg.std(axis=1, keepdims=True)
    t = np.arange(n) / sfreq
    bursts = 0.6 + 0.4 * np.sin(2 * np.pi * 0.13 * t + rng.uniform(0, 6)) ** 2
    closed = (t >= EC[0]) & (t < EC[1])
    amp = 8.0 * alpha_gain * bursts * np.where(closed, 3.0, 1.0)
    eeg += amp * np.sin(2 * np.pi * 10.0 * t + rng.uniform(0, 6))
    return eeg


def make_replayed_session(
    store: Path,
    work: Path,
    *,
    client: str = CLIENT,
    seed: int = 0,
    start: datetime | None = None,
    alpha_gain: float = 1.0,
    marker_note: str = "client reports calm",
    marker_label: str = "note",
    overrides: tuple[str, ...] = (),
    sham_source: Path | None = None,
) -> Path:
    """Record a realistic session with the recorder, then score it offline with alpha-beta-up
    into ``store/<client>/<session-id>`` (the session id is the replay's own)."""
    start = start or datetime(2024, 5, 17, 9, 30, tzinfo=timezone.utc)
    truth = generate_session(seconds=SECONDS, seed=seed, start=start)
    layout = truth.layout
    eeg = realistic_eeg(truth.n_samples, truth.sfreq, len(layout["eeg_rows"]), seed, alpha_gain)
    n = truth.n_samples
    # blinks on the frontal channels (as the factory's): real artefacts for the inhibits
    centres = np.array([0.33, 0.62, 0.9]) * n
    blink = 250.0 * np.exp(
        -0.5 * ((np.arange(n)[None, :] - centres[:, None]) / (0.06 * truth.sfreq)) ** 2
    ).sum(axis=0)
    # two movements (0.25 s jolts of 250 µV on every electrode): amplitude inhibits at Pz
    move = np.zeros(n)
    for frac in (0.52, 0.85):
        first, width = int(frac * n), int(0.25 * truth.sfreq)
        move[first : first + width] = 250.0 * np.sin(np.pi * np.arange(width) / width)
    for j, row in enumerate(layout["eeg_rows"]):
        frontal = layout["ch_names"][j].startswith("F")
        truth.samples[row] = eeg[j] + move + (blink if frontal else 0.0)
    for ev in truth.events:
        if ev["kind"] == "marker" and ev["label"] == "note":
            ev["note"] = marker_note
            ev["label"] = marker_label
    source = write_session(truth, work / f"src-{seed}", client=client, threaded=False)
    session_id = f"{start:%Y%m%d-%H%M%S}-alpha-beta-up"
    out = store / client / session_id
    replay(
        source,
        out,
        protocol="alpha-beta-up",
        overrides=[*SCRIPT, *overrides],
        sham_source=sham_source,
        client=client,
    )
    meta = json.loads((out / "session.json").read_text())
    # a replay keeps the source's client; the trends list sessions by their folder
    assert meta["client"] == client and meta["session_id"] == session_id
    return out


def without_images(html: str) -> str:
    """The document without its base64 images (random letters may spell anything)."""
    return re.sub(r'src="data:[^"]*"', 'src=""', html)


def soup_of(html: str) -> BeautifulSoup:
    return BeautifulSoup(html, "html.parser")


def section_png(soup: BeautifulSoup, ident: str, min_kb: float = 8.0) -> bytes:
    """The PNG embedded in section ``ident``, checked to be a real, non-trivial PNG."""
    sec = soup.find("section", id=ident)
    assert sec is not None, f"no section {ident}"
    tag = sec.find("img")
    assert tag is not None, f"no image in section {ident}"
    src = tag["src"]
    assert src.startswith("data:image/png;base64,")
    png = base64.b64decode(src.split(",", 1)[1], validate=True)
    assert png[:8] == PNG_SIGNATURE
    assert len(png) > min_kb * 1024
    width, height = int.from_bytes(png[16:20], "big"), int.from_bytes(png[20:24], "big")
    assert width > 400 and height > 200
    return png


# --------------------------------------------------------------------------- fixtures
@pytest.fixture(scope="session")
def store(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("report-store")


@pytest.fixture(scope="session")
def session_path(store, tmp_path_factory) -> Path:
    work = tmp_path_factory.mktemp("report-src")
    path = make_replayed_session(
        store, work, client="solo-client", marker_note=EVIL, marker_label=DOLLARS
    )
    update_session_meta(
        path,
        ratings={"anxiety_before": 7, "anxiety_after": 4},
        notes="Slept badly. <b>not bold</b>",
    )
    return path


@pytest.fixture(scope="session")
def session_html(session_path) -> str:
    return build_session_report(session_path)


@pytest.fixture(scope="session")
def blinded_path(tmp_path_factory, session_path) -> Path:
    """A session whose block 2 is sham, yoked to ``session_path`` (another client's)."""
    root = tmp_path_factory.mktemp("report-blind")
    path = make_replayed_session(
        root / "store",
        root,
        client="blind-client",
        seed=6,
        overrides=("sham.blocks=[2]",),
        sham_source=session_path,
    )
    rec = read_session(path)
    assert rec.meta["blinding"]["sham_blocks"] == [2]
    assert rec.frames["sham"].any()
    return path


@pytest.fixture(scope="session")
def client_store(tmp_path_factory) -> Path:
    """Three sessions of CLIENT a week apart, alpha rising, anxiety falling; plus a folder
    that is not a session."""
    root = tmp_path_factory.mktemp("report-trends")
    store = root / "sessions"
    ratings = [(8, 6), (7, 5), (6, 3)]
    for k in range(3):
        start = datetime(2024, 5, 1, 17, 0, tzinfo=timezone.utc) + timedelta(days=7 * k)
        path = make_replayed_session(
            store, root, seed=10 + k, start=start, alpha_gain=1.0 + 0.5 * k
        )
        before, after = ratings[k]
        update_session_meta(path, ratings={"anxiety_before": before, "anxiety_after": after})
    (store / CLIENT / "not-a-session").mkdir()
    return store


# --------------------------------------------------------------------------- metrics
def test_block_metrics_match_the_recorded_summary(session_path):
    rec = read_session(session_path)
    blocks = block_metrics(rec)
    assert [b["index"] for b in blocks] == [1, 2, 3]
    for got, recorded in zip(blocks, rec.meta["blocks"], strict=True):
        assert got["reward_pct"] == pytest.approx(100 * recorded["reward_rate"])
        assert got["feature_mean"] == pytest.approx(recorded["mean_value"])
        assert got["target_pct"] == pytest.approx(65.0)
        assert got["duration_s"] >= 15.0  # paused time does not count
        assert "sham" not in got
        for key, value in got.items():
            assert value is None or type(value) in (int, float, str, bool), key
    # reward comes from the runner; the frames of the block say the same (no pause in block 3)
    frames = rec.frames
    b3 = rec.meta["blocks"][2]
    sel = (frames["sample_index"] > b3["start_sample"]) & (
        frames["sample_index"] <= b3["end_sample"]
    )
    assert blocks[2]["reward_pct"] == pytest.approx(100 * frames["reward"][sel].mean())


def test_session_metrics_row(session_path):
    rec = read_session(session_path)
    m = session_metrics(rec)
    assert m["client"] == "solo-client" and m["protocol"] == "Alpha/beta ratio up"
    assert m["status"] == "complete" and m["n_blocks"] == 3
    assert m["channels"] == "Pz"
    assert m["anxiety_before"] == 7 and m["anxiety_after"] == 4
    assert m["dropped_samples"] == 3 and m["disconnections"] == 1 and m["n_markers"] == 2
    weights = [b["n_frames"] for b in rec.meta["blocks"]]
    rates = [100 * b["reward_rate"] for b in rec.meta["blocks"]]
    assert m["reward_pct"] == pytest.approx(np.average(rates, weights=weights))
    # the blinks on the frontal channels do not reach Pz; the two movements do
    assert 0 < m["artefact_pct"] < 20
    assert m["inhibit_amplitude_count"] == 2
    assert m["blinded"] is False
    for key, value in m.items():
        assert value is None or type(value) in (int, float, str, bool), key
    # eyes closed: three times the alpha amplitude, so about 9x the alpha power at Pz
    ratio = m["eyes_closed_alpha_uv2"] / m["eyes_open_alpha_uv2"]
    assert 4 < ratio < 15
    assert m["eyes_closed_beta_uv2"] / m["eyes_open_beta_uv2"] == pytest.approx(1, rel=0.5)


def test_band_power_is_the_variance_of_a_known_sine():
    """Absolute power: a 10 µV-amplitude 10 Hz sine has 50 µV² in the alpha band."""
    from nfb.report.metrics import _band_power, welch_psd

    sfreq = 250.0
    t = np.arange(int(20 * sfreq)) / sfreq
    f, p = welch_psd(10.0 * np.sin(2 * np.pi * 10 * t), sfreq)
    assert _band_power(f, p, 8, 12) == pytest.approx(50.0, rel=0.02)
    assert _band_power(f, p, 15, 20) < 0.01
    assert welch_psd(np.ones(100), sfreq) is None  # < 1 s
    # the same estimate as scipy's Welch
    from scipy.signal import welch

    x = np.random.default_rng(0).normal(size=t.size)
    f, p = welch_psd(x, sfreq, 0, sfreq / 2)
    np.testing.assert_allclose(p, welch(x, sfreq, nperseg=500)[1], rtol=1e-12)
    # a 1000 µV jolt: the windows that touch it are left out when it is marked
    x = 10.0 * np.sin(2 * np.pi * 10 * t)
    x[2000:2050] += 1000.0
    clean = np.ones(x.size, bool)
    clean[2000:2050] = False
    f, p = welch_psd(x, sfreq, clean=clean)
    assert _band_power(f, p, 8, 12) == pytest.approx(50.0, rel=0.02)
    assert _band_power(f, p, 1, 4) < 0.01
    f, p = welch_psd(x, sfreq)
    assert _band_power(f, p, 1, 4) > 100


def test_segments_and_trained_signal(session_path):
    segment_names = ("baseline_eyes_open", "baseline_eyes_closed", "block", "rest", "block")
    segment_names += ("rest", "block")
    rec = read_session(session_path)
    names = [s.name for s in segments(rec)]
    assert names == [*segment_names]
    x, label, note = trained_signal(rec)
    pz = rec.layout["eeg_rows"][rec.ch_names.index("Pz")]
    assert label == "Pz" and note is None
    np.testing.assert_array_equal(x, rec.samples[pz])
    spectra = condition_spectra(rec)
    assert set(spectra) == {"baseline_eyes_open", "baseline_eyes_closed", "training"}
    f, _ = spectra["baseline_eyes_open"]
    assert f[0] >= 1.0 and f[-1] <= 45.0
    powers = band_powers(rec, spectra)
    assert set(powers["training"]) >= {"theta", "alpha", "smr", "beta"}
    # the movements were inhibited, so their windows are left out: training delta stays near
    # the baseline's (the 1/f background is the same throughout)
    clean = clean_samples(rec)
    assert 0.9 < clean.mean() < 1.0
    ratio = powers["training"]["delta"] / powers["baseline_eyes_open"]["delta"]
    assert 0.5 < ratio < 2


# --------------------------------------------------------------------------- session report
def test_session_report_sections_and_figures(session_html, session_path):
    soup = soup_of(session_html)
    for ident in ("feature", "reward", "bands", "spectra"):
        section_png(soup, ident)
    for ident in ("summary", "script", "quality", "markers", "ratings", "notes"):
        assert soup.find("section", id=ident) is not None, ident
    # self-contained: no external resource, no script
    assert not soup.find_all("script") and not soup.find_all("link")
    for tag in soup.find_all(src=True):
        assert tag["src"].startswith("data:")
    summary = soup.find("section", id="summary").get_text(" ")
    assert "solo-client" in summary and "Alpha/beta ratio up" in summary
    assert "synthetic" in summary and "Pz" in summary
    script = soup.find("section", id="script").get_text(" ")
    for label in ("baseline eyes open", "baseline eyes closed", "block 3", "rest 2"):
        assert label in script
    assert "not a medical device" in soup.find("footer").get_text()
    text = without_images(session_html).lower()
    assert "sham" not in text and "blind" not in text


def test_session_report_numbers(session_html, session_path):
    rec = read_session(session_path)
    soup = soup_of(session_html)
    rows = soup.find("table", id="blocks-table").find("tbody").find_all("tr")
    assert len(rows) == 3
    for row, recorded in zip(rows, rec.meta["blocks"], strict=True):
        pct = 100 * recorded["reward_rate"]
        assert f"{pct:.1f}" in [td.get_text() for td in row.find_all("td")]
        assert float(row["data-reward-pct"]) == pytest.approx(pct)
    quality = soup.find("section", id="quality").get_text(" ")
    assert re.search(r"Dropped samples\s+3\b", quality)
    assert re.search(r"Disconnections\s+1\b", quality)
    ratings = soup.find("table", id="ratings-table").get_text(" ")
    assert re.search(r"before \(0–10\)\s+7", ratings) and re.search(r"after \(0–10\)\s+4", ratings)
    assert "-3" in ratings
    bands = soup.find("table", id="bands-table").get_text(" ")
    m = session_metrics(rec)
    assert f"{m['eyes_closed_alpha_uv2']:.2f}" in bands


def test_user_text_is_escaped(session_html):
    soup = soup_of(session_html)
    assert "<script>" not in session_html and "<b>not bold</b>" not in session_html
    assert "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt; &amp; calm" in session_html
    markers = soup.find("table", id="markers-table")
    assert EVIL in markers.get_text()  # shown as text, exactly
    assert DOLLARS in markers.get_text()  # and drawn in the feature plot without failing
    assert "<b>not bold</b>" in soup.find("section", id="notes").get_text()
    assert not soup.find_all("b", string="not bold")


def test_blinding_hidden_then_revealed(blinded_path):
    hidden = build_session_report(blinded_path)
    soup = soup_of(hidden)
    assert soup.find("section", id="blinding").get_text(" ").count("--unblind") == 1
    assert "This session contains blinded blocks; pass --unblind to reveal them." in hidden
    text = without_images(hidden)
    assert "sham" not in text.lower() and "solo-client" not in text
    assert "Condition" not in soup.find("table", id="blocks-table").get_text()
    # blinded, the per-block inhibits show the delivered figure only (the client's own inhibit
    # kinds beside it would point at the sham block)
    headers = [th.get_text() for th in soup.find("table", id="block-inhibit-table").find_all("th")]
    assert headers == ["Block", "inhibited %"]

    shown = soup_of(build_session_report(blinded_path, unblind=True))
    rows = shown.find("table", id="blocks-table").find("tbody").find_all("tr")
    conditions = [r.find_all("td")[-3].get_text() for r in rows]
    assert conditions == ["real", "sham", "real"]
    blinding = shown.find("table", id="blinding-table").get_text(" ")
    assert re.search(r"Sham blocks\s+2\b", blinding) and "solo-client" in blinding
    assert "--unblind" not in shown.get_text()
    per_block = shown.find("table", id="block-inhibit-table").find_all("th")
    assert len(per_block) > 2  # unblinded: the episodes of each inhibit kind too
    # the reward chart differs: the sham bar is grey and labelled
    assert section_png(shown, "reward") != section_png(soup, "reward")
    rec = read_session(blinded_path)
    unblinded = block_metrics(rec, unblind=True)
    assert [b["sham"] for b in unblinded] == [False, True, False]
    # the client's own scoring: equal to the delivered one in real blocks only
    assert unblinded[0]["own_reward_pct"] == pytest.approx(unblinded[0]["reward_pct"])
    assert unblinded[1]["own_reward_pct"] != pytest.approx(unblinded[1]["reward_pct"])
    assert all("own_reward_pct" not in b for b in block_metrics(rec))


def test_report_times_are_on_the_timeline_of_a_session_with_gaps(tmp_path):
    # a loss of 1 s (the counter and timestamps) during block 2, an outage of 1.5 s during
    # block 3, recorded as a live session records them (disconnected, reconnected and the
    # gap record at the first sample after), then scored: the runner's time_s and the MNE
    # annotations put what follows each gap later than its index says; the report too
    truth = generate_session(seconds=SECONDS, seed=3)
    n, fs = truth.n_samples, truth.sfreq
    lost_at, back_at = int(n * 0.60), int(n * 0.82)  # the 4 s pause moved block 2 to ~46 s
    gaps = [
        {"sample_index": lost_at, "kind": "gap", "at": lost_at, "missing": 250,
         "duration_s": 1.0, "cause": "dropped", "clock": "counter+timestamp"},
        {"sample_index": back_at, "kind": "gap", "at": back_at, "missing": 375,
         "duration_s": 1.5, "cause": "disconnect", "clock": "timestamp"},
    ]  # fmt: skip
    for ev in truth.events:
        if ev["kind"] == "dropped":
            ev["count"], ev["sample_index"] = 250, lost_at
        if ev["kind"] == "disconnected":
            ev["sample_index"] = back_at
    truth.events = sorted(truth.events + gaps, key=lambda e: e["sample_index"])
    source = write_session(truth, tmp_path / "src", threaded=False)
    out = replay(source, tmp_path / "scored", protocol="alpha-beta-up", overrides=SCRIPT)
    rec = read_session(out)
    assert [(g.at, g.missing) for g in rec.gaps] == [(lost_at, 250), (back_at, 375)]
    onsets = {d: (o, dur) for o, dur, d in rec.annotation_list()}
    s, t = rec.frames["sample_index"], rec.frames["time_s"]

    def frame_time(index: int) -> float:  # the runner's time_s, from the frame before
        f = int(np.searchsorted(s, index, side="right")) - 1
        return float(t[f] + (index - s[f]) / fs)

    marks = markers(rec)
    events = [e for e in rec.events if e["kind"] == "marker"]
    assert len(marks) == len(events) == 2
    for mark, ev in zip(marks, events, strict=True):
        assert mark["time_s"] == pytest.approx(frame_time(ev["sample_index"]), abs=1e-9)
        assert mark["time_s"] == pytest.approx(onsets[f"marker/{ev['label']}"][0], abs=1e-9)
    late = events[1]  # after the loss: 1 s later than its index says
    assert late["sample_index"] > lost_at
    assert marks[1]["time_s"] == pytest.approx(late["sample_index"] / fs + 1.0)

    blocks = block_metrics(rec)
    assert len(blocks) == 3
    for row in blocks:
        onset, dur = onsets[f"block/{row['index']}"]
        assert row["start_s"] == pytest.approx(onset, abs=1e-3)
        assert row["duration_s"] == pytest.approx(dur, abs=1e-3)
    assert blocks[1]["duration_s"] == pytest.approx(15.0 + 1.0, abs=0.05)  # the loss inside
    assert blocks[2]["start_s"] > blocks[1]["start_s"] + blocks[1]["duration_s"]

    ((onset, dur),) = [(o, d) for o, d, desc in rec.annotation_list() if desc == "BAD_disconnect"]
    assert disconnections(rec) == [(pytest.approx(onset), pytest.approx(dur))]
    assert dur == pytest.approx(1.5)
    assert session_metrics(rec)["duration_s"] == pytest.approx((rec.n_samples + 625) / fs)

    soup = soup_of(build_session_report(out))
    cells = [td.get_text() for td in soup.find("section", id="markers").find_all("td")]
    assert f"{marks[1]['time_s']:.1f} s" in cells


def test_report_of_a_session_without_blocks_or_ratings(tmp_path):
    """Stopped during the baseline: every section says what is missing."""
    truth = generate_session(seconds=10, seed=3)
    src = write_session(truth, tmp_path / "src", threaded=False)
    out = replay(src, tmp_path / "store" / "client-01" / "short", protocol="alpha-beta-up")
    rec = read_session(out)
    assert rec.meta["blocks"] == [] and rec.status == "stopped"
    soup = soup_of(build_session_report(out))
    assert "No training block was scored" in soup.find("section", id="reward").get_text()
    assert "No self-ratings" in soup.find("section", id="ratings").get_text()
    assert "stopped before the end" in soup.find("section", id="summary").get_text()
    assert "No baseline, eyes closed was recorded" in soup.find("section", id="spectra").get_text()
    section_png(soup, "feature")
    section_png(soup, "spectra")
    m = session_metrics(rec)
    assert m["n_blocks"] == 0 and m["reward_pct"] is None and m["anxiety_before"] is None
    assert m["eyes_closed_alpha_uv2"] is None and m["eyes_open_alpha_uv2"] > 0


def test_report_of_a_session_without_baseline(tmp_path):
    truth = generate_session(seconds=10, seed=4)
    src = write_session(truth, tmp_path / "src", threaded=False)
    no_baseline = ["script.baseline_eyes_open=0", "script.baseline_eyes_closed=0"]
    out = replay(
        src,
        tmp_path / "store" / "client-01" / "nb",
        protocol="alpha-beta-up",
        overrides=[*no_baseline, "script.blocks=1", "script.block_min=0.15"],
    )
    soup = soup_of(build_session_report(out))
    assert "No baseline was recorded" in soup.find("section", id="spectra").get_text()
    assert soup.find("section", id="spectra").find("img") is None
    bands = soup.find("section", id="bands")
    section_png(soup, "bands")
    assert "Not recorded: baseline, eyes open, baseline, eyes closed" in bands.get_text()
    assert len(soup.select("#blocks-table tbody tr")) == 1


def test_report_of_a_recovered_session_without_baseline(tmp_path):
    """An interrupted recording (no summary in session.json), recovered; no baseline."""
    from sessionfactory import make_session

    from nfb.session.store import recover_session

    path = make_session(tmp_path, seconds=12, interrupted=True)
    assert recover_session(path) == "recovered"
    meta = json.loads((path / "session.json").read_text())
    meta["blocks"], meta["ratings"] = [], None
    meta["channel_map"] = {}
    write_json_atomic(path / "session.json", meta)
    html = build_session_report(path)
    soup = soup_of(html)
    assert "recovered" in soup.find("section", id="summary").get_text()
    # blocks from the step events since session.json has no summary
    assert len(soup.find("table", id="blocks-table").find("tbody").find_all("tr")) == 3
    assert "No self-ratings" in soup.find("section", id="ratings").get_text()
    assert "trained channel" in soup.find("section", id="summary").get_text()


def test_report_of_an_empty_session(tmp_path):
    """Opened and closed at once: no samples, frames or events; every section says so."""
    from nfb.session.recorder import SessionRecorder

    truth = generate_session(seconds=2)
    rec = SessionRecorder.create(
        tmp_path, "c1", "Alpha up", truth.meta, frame_columns=truth.frame_columns, threaded=False
    )
    rec.close("stopped")
    soup = soup_of(build_session_report(rec.path))
    assert "No frames were recorded" in soup.find("section", id="feature").get_text()
    assert "No baseline" in soup.find("section", id="spectra").get_text()
    assert "No markers" in soup.find("section", id="markers").get_text()
    m = session_metrics(read_session(rec.path))
    assert m["duration_s"] == 0 and m["artefact_pct"] is None and m["n_blocks"] == 0


# --------------------------------------------------------------------------- trends
def test_trend_series_have_one_point_per_session(client_store):
    trends = client_trends(CLIENT, client_store)
    assert [s["session_id"][:8] for s in trends.sessions] == ["20240501", "20240508", "20240515"]
    assert trends.skipped == []
    series = trend_series(trends)
    assert set(series) >= {
        "reward",
        "block_reward",
        "feature",
        "block_feature",
        "eyes_open_power",
        "eyes_closed_power",
        "anxiety",
    }
    for chart, lines in series.items():
        for name, values in lines.items():
            assert len(values) == 3, (chart, name)
            assert report_figures.series_points(values) == 3, (chart, name)
    assert series["anxiety"] == {"before": [8, 7, 6], "after": [6, 5, 3]}
    assert list(series["block_reward"]) == ["block 1", "block 2", "block 3"]
    # the alpha gain rises 1x, 1.5x, 2x: so does the baseline alpha power
    alpha = series["eyes_closed_power"]["alpha"]
    assert alpha[0] < alpha[1] < alpha[2]
    for s, path in zip(trends.sessions, sorted((client_store / CLIENT).glob("2024*")), strict=True):
        assert s["reward_pct"] == pytest.approx(session_metrics(read_session(path))["reward_pct"])


def test_trends_report_html(client_store):
    html = build_trends_report(CLIENT, client_store)
    soup = soup_of(html)
    rows = soup.find("table", id="sessions-table").find("tbody").find_all("tr")
    assert len(rows) == 3
    series = trend_series(client_trends(CLIENT, client_store))
    for row, reward, before in zip(
        rows, series["reward"]["reward %"], series["anxiety"]["before"], strict=True
    ):
        assert float(row["data-reward-pct"]) == pytest.approx(reward)
        assert float(row["data-anxiety-before"]) == before
        assert f"{reward:.1f}" in row.get_text(" ")
    for ident in ("reward", "block-reward", "feature", "eyes-open-power", "eyes-closed-power"):
        section_png(soup, ident)
    section_png(soup, "anxiety")
    blocks = soup.find("table", id="trend-blocks-table").find("tbody").find_all("tr")
    assert len(blocks) == 9
    assert "not a medical device" in html


def test_trends_of_a_blinded_client(blinded_path):
    store = blinded_path.parent.parent
    hidden = build_trends_report("blind-client", store)
    text = without_images(hidden)
    assert "Some sessions contain blinded blocks; pass --unblind to reveal them." in text
    assert "sham" not in text.replace("--unblind", "").lower()
    shown = soup_of(build_trends_report("blind-client", store, unblind=True))
    rows = shown.select("#trend-blocks-table tbody tr")
    assert [r.find_all("td")[-1].get_text() for r in rows] == ["real", "sham", "real"]
    assert "--unblind" not in shown.get_text()


def test_trends_by_client_name_show_the_id_only(client_store, tmp_path):
    import shutil

    from nfb.session.clients import resolve_client

    store = tmp_path / "store"
    store.mkdir()
    cid = resolve_client("Jane Doe", store)
    shutil.copytree(client_store / CLIENT, store / cid)
    html = build_trends_report("jane  DOE", store)
    assert f"Client trends: {cid}" in html and "Jane" not in html
    assert len(soup_of(html).select("#sessions-table tbody tr")) == 3
    with pytest.raises(SessionError, match="no client 'Nobody Known'"):
        client_trends("Nobody Known", store)
    with pytest.raises(SessionError, match="no session store"):
        client_trends(CLIENT, tmp_path / "nowhere")
    assert not (tmp_path / "nowhere").exists()


def test_trends_skip_a_live_session(client_store, tmp_path):
    """A session still being recorded is left out with a note; the others are reported."""
    import shutil

    from nfb.session.recorder import SessionRecorder

    store = tmp_path / "store"
    shutil.copytree(client_store, store)
    truth = generate_session(seconds=2, seed=1, start=datetime(2024, 6, 1, tzinfo=timezone.utc))
    rec = SessionRecorder.create(
        store, CLIENT, "Alpha up", truth.meta, frame_columns=truth.frame_columns, threaded=False
    )
    try:
        trends = client_trends(CLIENT, store)
        assert len(trends.sessions) == 3
        assert trends.skipped == [(rec.session_id, "still being recorded")]
        html = build_trends_report(CLIENT, store)
        assert "still being recorded" in soup_of(html).find("section", id="sessions").get_text()
    finally:
        rec.close("stopped")


# --------------------------------------------------------------------------- CLI and files
def test_cli_writes_private_reports(session_path, client_store, tmp_path, capsys):
    out = tmp_path / "report.html"
    done = nfb_cli("report", session_path, "--out", out)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == f"wrote {out}"
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    assert soup_of(out.read_text()).find("section", id="feature") is not None
    assert not list(tmp_path.glob(".*tmp"))

    # the same command in-process (faster), for the trends
    trends = tmp_path / "trends.html"
    argv = ["report", "--client", CLIENT, "--sessions-dir", str(client_store), "-o", str(trends)]
    assert main(argv) == 0
    assert capsys.readouterr().out.strip() == f"wrote {trends}"
    assert stat.S_IMODE(trends.stat().st_mode) == 0o600
    assert len(soup_of(trends.read_text()).select("#sessions-table tbody tr")) == 3


BAD_INPUT = ["no-arg", "both", "missing", "not-session", "unknown-client", "bad-client"]


def _bad_args(case, session_path, client_store, tmp_path):
    out = tmp_path / "r.html"
    return out, {
        "no-arg": ["--out", out],
        "both": [session_path, "--client", CLIENT, "--out", out],
        "missing": [tmp_path / "nope", "--out", out],
        "not-session": [tmp_path, "--out", out],
        "unknown-client": ["--client", "nobody", "--sessions-dir", client_store, "--out", out],
        "bad-client": ["--client", "../etc", "--sessions-dir", client_store, "--out", out],
        "no-parent": [session_path, "--out", tmp_path / "no" / "r.html"],
        "exists": [session_path, "--out", out],
    }[case]


@pytest.mark.parametrize("case", [*BAD_INPUT, "no-parent", "exists"])
def test_cli_bad_input_is_one_line(case, session_path, client_store, tmp_path, capsys):
    out, args = _bad_args(case, session_path, client_store, tmp_path)
    if case == "exists":
        out.write_text("keep me")
    code = main(["report", *map(str, args)])
    err = capsys.readouterr().err
    assert code in (2, 4)  # ConfigError, SessionError
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("nfb report: error: "), err
    if case == "exists":
        assert out.read_text() == "keep me"
        assert "--overwrite" in err
    else:
        assert not out.exists()


@pytest.mark.parametrize("case", ["missing", "exists"])
def test_cli_bad_input_in_a_real_process(case, session_path, client_store, tmp_path):
    out, args = _bad_args(case, session_path, client_store, tmp_path)
    if case == "exists":
        out.write_text("keep me")
    done = nfb_cli("report", *args)
    assert done.returncode != 0
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("nfb report: error: "), done.stderr
    assert "Traceback" not in done.stderr
    assert out.read_text() == "keep me" if case == "exists" else not out.exists()


def test_write_report_force_and_atomic(tmp_path):
    out = tmp_path / "r.html"
    write_report("<p>one</p>", out)
    with pytest.raises(ConfigError, match="--overwrite"):
        write_report("<p>two</p>", out)
    assert out.read_text() == "<p>one</p>"
    os.chmod(out, 0o644)
    write_report("<p>two</p>", out, force=True)
    assert out.read_text() == "<p>two</p>" and stat.S_IMODE(out.stat().st_mode) == 0o600
    with pytest.raises(ConfigError, match="is a folder"):
        write_report("x", tmp_path, force=True)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["r.html"]


def test_write_report_never_replaces_a_file_that_appears_meanwhile(tmp_path, monkeypatch):
    import nfb.report.writer as writer

    out = tmp_path / "late.html"
    checked = writer.check_out

    def check_then_someone_writes(path, *, force=False):
        got = checked(path, force=force)
        out.write_text("theirs")  # appears after the check, while the report renders
        return got

    monkeypatch.setattr(writer, "check_out", check_then_someone_writes)
    with pytest.raises(ConfigError, match="already exists"):
        write_report("<p>ours</p>", out)
    assert out.read_text() == "theirs"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["late.html"]


def test_python_api(client_store):
    assert "list_sessions" in nfb.__all__
    listed = nfb.list_sessions(client_store, client=CLIENT)
    assert len(listed) == 3
    with pytest.raises(SessionError, match="no sessions of client"):
        client_trends("nobody", client_store)


# --------------------------------------------------------------------------- baselines
def _inhibited_baselines_session(tmp_path: Path) -> Path:
    """Both baselines recorded (12 s each) under a 400 µV artefact on every electrode, so
    that every baseline frame is inhibited; the training blocks are clean."""
    truth = generate_session(seconds=SECONDS, seed=3)
    layout = truth.layout
    n = truth.n_samples
    eeg = realistic_eeg(n, truth.sfreq, len(layout["eeg_rows"]), 3)
    t = np.arange(n) / truth.sfreq
    artefact = np.where(t < EC[1], 400.0 * np.sin(2 * np.pi * 3.0 * t), 0.0)
    for j, row in enumerate(layout["eeg_rows"]):
        truth.samples[row] = eeg[j] + artefact
    src = write_session(truth, tmp_path / "src", threaded=False)
    return replay(
        src,
        tmp_path / "store" / "client-01" / "inhibited",
        protocol="alpha-beta-up",
        overrides=SCRIPT,
    )


def test_report_of_a_recorded_but_fully_inhibited_baseline(tmp_path):
    """Problem 11 of issue 14: not "No baseline was recorded" when it was, but inhibited."""
    path = _inhibited_baselines_session(tmp_path)
    rec = read_session(path)
    assert rec.meta["baseline"] == {"baseline_eyes_open": {}, "baseline_eyes_closed": {}}
    first = next(e for e in rec.events if e["kind"] == "threshold")
    assert first["source"] == "auto"  # no usable baseline: the training set it
    soup = soup_of(build_session_report(path))
    spectra = " ".join(soup.find("section", id="spectra").get_text(" ").split())
    assert "No baseline was recorded" not in spectra and "was recorded" in spectra
    for label in ("eyes-open", "eyes-closed"):
        assert f"The {label} baseline was recorded (12 s) but fully inhibited" in spectra
    assert "the threshold came from the automatic rule during the first" in spectra
    bands = " ".join(soup.find("section", id="bands").get_text(" ").split())
    assert "Not recorded" not in bands
    assert "The eyes-open baseline was recorded (12 s) but fully inhibited" in bands
    assert "The threshold came from the automatic rule" in bands


def test_report_says_which_baseline_set_the_threshold(session_path):
    rec = read_session(session_path)
    first = next(e for e in rec.events if e["kind"] == "threshold")
    assert first["source"] == "baseline" and first["baseline"] == "baseline_eyes_open"
    from nfb.report.metrics import baseline_coverage, threshold_origin

    assert threshold_origin(rec) == "came from the eyes-open baseline"
    coverage = baseline_coverage(rec)
    assert coverage["baseline_eyes_open"]["seconds"] == pytest.approx(12.0, abs=0.05)
    assert 0 <= coverage["baseline_eyes_open"]["inhibited_pct"] < 50


# --------------------------------------------------------------------------- trend axes
@pytest.fixture(scope="module")
def two_protocol_store(tmp_path_factory) -> Path:
    """A client trained with SMR up (µV) and alpha-theta (a ratio), alternately."""
    root = tmp_path_factory.mktemp("report-two-protocols")
    store = root / "store"
    for k, proto in enumerate(["smr-up", "alpha-theta", "smr-up"]):
        start = datetime(2024, 6, 1, 17, 0, tzinfo=timezone.utc) + timedelta(days=7 * k)
        truth = generate_session(seconds=SECONDS, seed=20 + k, start=start)
        eeg = realistic_eeg(truth.n_samples, truth.sfreq, len(truth.layout["eeg_rows"]), 20 + k)
        for j, row in enumerate(truth.layout["eeg_rows"]):
            truth.samples[row] = eeg[j]
        src = write_session(truth, root / f"src-{k}", threaded=False, client="two-p")
        replay(
            src,
            store / "two-p" / f"{start:%Y%m%d-%H%M%S}-{proto}",
            protocol=proto,
            overrides=SCRIPT,
        )
    return store


def test_trends_give_each_feature_its_own_axis_and_unit(two_protocol_store):
    """Problem 11 of issue 14: SMR in µV and theta/alpha were one line on one axis."""
    from nfb.report.trends import feature_axes

    trends = client_trends("two-p", two_protocol_store)
    names = [s["protocol"] for s in trends.sessions]
    smr, theta = names[0], names[1]
    assert names == [smr, theta, smr] and smr != theta
    axes = feature_axes(trends)
    assert [(a.feature, a.unit, a.protocols) for a in axes] == [
        ("smr", "amplitude (µV)", (smr,)),
        ("theta / alpha", "ratio (no unit)", (theta,)),
    ]
    series = trend_series(trends)
    for name, values in series["block_feature"].items():
        # every line is one protocol's: no line has values from sessions of both
        has = {names[i] for i, v in enumerate(values) if v is not None}
        assert len(has) == 1 and name.startswith(has.pop()), name
    soup = soup_of(build_trends_report("two-p", two_protocol_store))
    for ident in ("feature", "block-feature"):
        png = section_png(soup, ident)
        height = int.from_bytes(png[20:24], "big")
        assert height > 2 * 200, ident  # two axes stacked, not one


def test_trend_legends_and_labels_stay_inside_the_figure():
    """Long protocol names in the legend: the axes narrow, nothing is cut at the edge."""
    long_names = {
        "SMR up, theta and high-beta inhibit, eyes open · block 1": [1.0, 1.2, None, 1.4],
        "Alpha-theta (eyes closed, audio) · block 2": [0.5, None, 0.6, 0.7],
    }
    labels = [f"2024-06-0{d} 17:00" for d in range(1, 5)]
    panels = [
        report_figures.TrendPanel(long_names, "amplitude (µV)", title="smr"),
        report_figures.TrendPanel({"before": [8, 7, 6, 5], "after": [6, 5, 4, 3]}, "0–10"),
    ]
    fig = report_figures.trend_panels(labels, panels, join_gaps=True)
    renderer = fig.canvas.get_renderer()
    drawn = fig.get_tightbbox(renderer)  # inches
    page = fig.bbox_inches
    assert drawn.x0 >= page.x0 - 0.01 and drawn.x1 <= page.x1 + 0.01, (drawn, page)
    assert drawn.y0 >= page.y0 - 0.01 and drawn.y1 <= page.y1 + 0.01, (drawn, page)
    lefts = {round(ax.get_position().x0, 6) for ax in fig.axes}
    assert len(lefts) == 1  # the axes line up
    legend = fig.axes[0].get_legend()
    assert legend.get_texts()[0].get_text().endswith("…")  # cut to fit
    assert all(ax.get_ylabel() for ax in fig.axes)


def test_the_course_chart_draws_one_protocols_feature(two_protocol_store, tmp_path):
    """The course report (``nfb report --client``) opens with a chart whose feature axis was
    shared by SMR in µV and theta/alpha: now the plan's protocol, else the latest one's."""
    import shutil

    from nfb.report.course import build_course_report, course_protocol
    from nfb.session.course import make_plan, read_course, set_plan

    trends = client_trends("two-p", two_protocol_store)
    smr, theta = trends.sessions[0]["protocol"], trends.sessions[1]["protocol"]
    store = tmp_path / "store"
    shutil.copytree(two_protocol_store, store)
    assert course_protocol(read_course(store, "two-p"), trends) == smr  # the latest session's
    soup = soup_of(build_course_report("two-p", store))
    text = " ".join(soup.find("section", id="course-chart").get_text(" ").split())
    assert f"for the sessions of {smr}" in text
    section_png(soup, "course-chart")
    set_plan(store, "two-p", make_plan("alpha-theta", 10, 5))
    assert course_protocol(read_course(store, "two-p"), trends) == theta  # the plan's
    text = " ".join(
        soup_of(build_course_report("two-p", store))
        .find("section", id="course-chart")
        .get_text(" ")
        .split()
    )
    assert f"for the sessions of {theta}" in text
