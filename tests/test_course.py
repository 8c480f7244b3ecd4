"""A course of treatment: GAD-7/PHQ-9 records, the plan, the course report, BIDS phenotype
and the summary CSV, on a real store written by the real engine (the demo course: generated
EEG replayed through the pipeline, runner and recorder)."""

from __future__ import annotations

import csv
import json
import math
import os
import stat
from datetime import date, timedelta

import pytest

from nfb import questionnaires as qs
from nfb.cli import main
from nfb.course_demo import build_demo_course, items_for
from nfb.errors import ConfigError, SessionError
from nfb.report.course import build_course_report
from nfb.session import course as crs
from nfb.session.clients import ClientIndex

# --------------------------------------------------------------------- hand-worked RCI values
# GAD-7: SE = 3.41 * sqrt(1 - 0.83) = 3.41 * 0.4123106 = 1.4059790
#        S_diff = sqrt(2) * SE = 1.4142136 * 1.4059790 = 1.988355
# PHQ-9: SE = 3.5 * sqrt(1 - 0.84) = 3.5 * 0.4 = 1.4; S_diff = 1.4142136 * 1.4 = 1.979899
GAD7_S_DIFF = 1.988355
PHQ9_S_DIFF = 1.979899


def test_rci_parameters_are_the_cited_ones():
    p = qs.RCI_PARAMETERS["gad7"]
    assert (p.sd, p.r) == (3.41, 0.83)
    assert "Löwe" in p.source and "2008" in p.source and "Spitzer" in p.source
    assert p.s_diff == pytest.approx(GAD7_S_DIFF, abs=1e-6)
    assert p.min_change == 4  # 1.96 * 1.988 = 3.897 points
    q = qs.RCI_PARAMETERS["phq9"]
    assert (q.sd, q.r) == (3.5, 0.84)
    assert "Kocalevent" in q.source and "Kroenke" in q.source
    assert q.s_diff == pytest.approx(PHQ9_S_DIFF, abs=1e-6)
    assert q.min_change == 4


@pytest.mark.parametrize(
    ("key", "first", "latest", "rci", "reliable", "direction"),
    [
        ("gad7", 15, 8, -7 / GAD7_S_DIFF, True, "improved"),  # -3.5205
        ("gad7", 12, 9, -3 / GAD7_S_DIFF, False, "no reliable change"),  # -1.5088
        ("gad7", 6, 10, 4 / GAD7_S_DIFF, True, "deteriorated"),  # +2.0117
        ("phq9", 14, 9, -5 / PHQ9_S_DIFF, True, "improved"),  # -2.5254
        ("phq9", 10, 7, -3 / PHQ9_S_DIFF, False, "no reliable change"),  # -1.5152
    ],
)
def test_reliable_change_against_hand_worked_values(key, first, latest, rci, reliable, direction):
    rc = qs.reliable_change(key, first, latest)
    assert rc.rci == pytest.approx(rci, abs=1e-5)
    assert rc.reliable is reliable
    assert rc.direction == direction
    assert rc.change == latest - first


@pytest.mark.parametrize(
    ("score", "gad", "phq"),
    [
        (0, "minimal", "minimal"),
        (4, "minimal", "minimal"),
        (5, "mild", "mild"),
        (9, "mild", "mild"),
        (10, "moderate", "moderate"),
        (14, "moderate", "moderate"),
        (15, "severe", "moderately severe"),
        (19, "severe", "moderately severe"),
        (20, "severe", "severe"),
        (21, "severe", "severe"),
    ],
)
def test_severity_bands(score, gad, phq):
    assert qs.severity(qs.GAD7, score) == gad
    assert qs.severity(qs.PHQ9, score) == phq
    assert qs.positive_screen(qs.GAD7, score) is (score >= 10)


def test_bands_and_wording():
    assert qs.band_ranges(qs.GAD7) == [
        (0, 4, "minimal"),
        (5, 9, "mild"),
        (10, 14, "moderate"),
        (15, 21, "severe"),
    ]
    assert qs.PHQ9.max_total == 27 and qs.GAD7.n_items == 7 and qs.PHQ9.n_items == 9
    assert qs.GAD7.items[3] == "Trouble relaxing"
    with pytest.raises(ValueError):
        qs.severity(qs.GAD7, 22)


def test_demo_answers_add_up():
    for total in range(22):
        items = items_for(total, 7, seed=total)
        assert sum(items) == total and all(0 <= v <= 3 for v in items)


# ------------------------------------------------------------------------ records and CLI
def test_record_and_list_through_the_cli(tmp_path, capsys):
    store = tmp_path / "store"
    yesterday = (date.today() - timedelta(days=1)).isoformat()
    argv = ["outcome", "--client", "Jane Doe", "--sessions-dir", str(store)]
    assert main([*argv, "--gad7", "3,3,2,3,2,2,3", "--phq9", "1,2,1,1,0,1,1,0,0"]) == 0
    assert main([*argv, "--gad7", "1,1,1,1,1,0,0", "--date", yesterday, "--note", "week 2"]) == 0
    out = capsys.readouterr().out
    cid = ClientIndex(store).find("Jane Doe")
    assert f"{cid} {date.today()} GAD-7 total 18 (severe)" in out
    assert "PHQ-9 total 7 (mild)" in out
    path = store / cid / crs.COURSE_FILE
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    data = json.loads(path.read_text())
    assert "Jane" not in path.read_text()  # the name stays in the index
    assert [r["items"] for r in data["outcomes"] if r["measure"] == "gad7"] == [
        [1, 1, 1, 1, 1, 0, 0],  # oldest first: yesterday's
        [3, 3, 2, 3, 2, 2, 3],
    ]
    course = crs.read_course(store, cid)
    assert [o.total for o in course.of("gad7")] == [5, 18]
    assert course.of("gad7")[0].note == "week 2"

    assert main(argv) == 0
    listing = capsys.readouterr().out.splitlines()
    assert listing[0].startswith(f"{yesterday}  GAD-7  total  5  mild")
    assert listing[0].endswith("1,1,1,1,1,0,0  week 2")
    assert listing[-1] == "session 1 (no course plan)"


BAD = {
    "six items": (["--gad7", "1,1,1,1,1,1"], "--gad7: the GAD-7 has 7 items, got 6"),
    "ten items": (["--phq9", "1,1,1,1,1,1,1,1,1,1"], "--phq9: the PHQ-9 has 9 items, got 10"),
    "item 4": (["--gad7", "1,1,1,4,1,1,1"], "--gad7: item 4 must be 0, 1, 2 or 3, got '4'"),
    "negative": (["--gad7", "1,-1,1,1,1,1,1"], "--gad7: item 2 must be 0, 1, 2 or 3, got '-1'"),
    "text": (["--gad7", "1,x,1,1,1,1,1"], "--gad7: item 2 must be 0, 1, 2 or 3, got 'x'"),
    "no date": (["--gad7", "1,1,1,1,1,1,1", "--date", "2025-02-30"], "--date: '2025-02-30'"),
    "format": (["--gad7", "1,1,1,1,1,1,1", "--date", "5/3/2025"], "use YYYY-MM-DD"),
    "future": (
        ["--gad7", "1,1,1,1,1,1,1", "--date", (date.today() + timedelta(days=1)).isoformat()],
        "is in the future",
    ),
    "date alone": (["--date", "2025-01-01"], "--date and --note go with --gad7 or --phq9"),
}


@pytest.mark.parametrize("case", list(BAD))
def test_malformed_answers_are_one_line(case, tmp_path, capsys):
    args, message = BAD[case]
    store = tmp_path / "store"
    code = main(["outcome", "--client", "Jane", "--sessions-dir", str(store), *args])
    err = capsys.readouterr().err
    assert code != 0
    assert err.count("\n") == 1 and err.startswith("nfb outcome: error: ")
    assert message in err
    assert not store.exists() or not any(store.glob("*/course.json"))  # nothing written


def test_a_damaged_or_linked_course_file_is_one_line(tmp_path):
    store = tmp_path / "store"
    crs.add_outcome(store, "c-test", "gad7", "1,1,1,1,1,1,1", date(2025, 1, 6))
    path = store / "c-test" / crs.COURSE_FILE
    data = json.loads(path.read_text())
    data["outcomes"][0]["items"] = [1, 1, 9, 1, 1, 1, 1]
    path.write_text(json.dumps(data))
    with pytest.raises(SessionError, match=r"outcomes\[0\]\.items: item 3 must be 0, 1, 2 or 3"):
        crs.read_course(store, "c-test")
    path.write_text("{not json")
    with pytest.raises(SessionError, match="is corrupted"):
        crs.read_course(store, "c-test")
    path.unlink()
    outside = tmp_path / "elsewhere.json"
    outside.write_text(json.dumps({"format": "nfb-course", "outcomes": []}))
    os.symlink(outside, path)
    with pytest.raises(SessionError, match="symbolic link"):
        crs.read_course(store, "c-test")
    with pytest.raises(SessionError, match="symbolic link"):
        crs.add_outcome(store, "c-test", "gad7", "1,1,1,1,1,1,1", date(2025, 1, 6))
    assert json.loads(outside.read_text())["outcomes"] == []  # never written through the link


def test_course_plan_cli_and_bad_plans(tmp_path, capsys):
    store = tmp_path / "store"
    argv = ["course", "--client", "Ann", "--sessions-dir", str(store)]
    assert main([*argv, "--protocol", "smr-up", "--sessions", "20", "--every", "5"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[-2].endswith(": 20 sessions of smr-up, GAD-7 every 5 sessions")
    assert out[-1] == "session 1 of 20, GAD-7 due"  # intake
    for bad, msg in (
        (["--sessions", "0", "--every", "1", "--protocol", "x"], "--sessions: a whole number"),
        (["--sessions", "10", "--every", "11", "--protocol", "x"], "--every 11: more than"),
        (["--sessions", "10", "--protocol", "x"], "a course plan needs --every too"),
        (["--sessions", "10", "--every", "2", "--protocol", "x", "--measures", "bdi"], "bdi"),
    ):
        assert main([*argv, *bad]) != 0
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and msg in err, err


def test_progress_counts_sessions_since_the_latest_questionnaire():
    course = crs.Course("c1", crs.make_plan("alpha-up", 6, 2, ("gad7", "phq9")))
    d = date(2025, 1, 6)
    assert crs.progress(course, []).text == "session 1 of 6, GAD-7 and PHQ-9 due"
    course.outcomes.append(crs.Outcome("gad7", d, (1,) * 7))
    course.outcomes.append(crs.Outcome("phq9", d, (1,) * 9))
    days = [d]  # the intake questionnaires were answered before that day's session
    assert crs.progress(course, days).text == "session 2 of 6"
    days.append(d + timedelta(days=3))
    assert crs.progress(course, days).text == "session 3 of 6, GAD-7 and PHQ-9 due"
    course.outcomes.append(crs.Outcome("gad7", d + timedelta(days=7), (0,) * 7))
    assert crs.progress(course, days).text == "session 3 of 6, PHQ-9 due"
    days += [d + timedelta(days=k) for k in (7, 10, 14, 17)]
    assert crs.progress(course, days).text == (
        "course complete: 6 of 6 sessions, GAD-7 and PHQ-9 due"
    )


# ------------------------------------------------------------------ the demo course (real)
@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    store = tmp_path_factory.mktemp("course") / "store"
    made = build_demo_course(store, sessions=4, every=2, block_min=0.25, blocks=2)
    return store, made


def test_demo_course_is_a_real_store(demo):
    store, made = demo
    assert len(made.sessions) == 4 and made.outcomes == 6  # visits before 1, before 3, at end
    course = crs.read_course(store, made.client)
    assert [o.total for o in course.of("gad7")] == [15, 11, 7]
    assert [o.total for o in course.of("phq9")] == [11, 8, 6]  # 8.5 rounds to even
    assert crs.client_progress(store, made.client).text == "course complete: 4 of 4 sessions"
    from nfb.session.store import read_session

    rec = read_session(made.sessions[-1])
    assert rec.status == "complete" and rec.meta["client"] == made.client
    assert len(rec.meta["blocks"]) == 2


def test_course_report(demo, tmp_path, capsys):
    from bs4 import BeautifulSoup

    store, made = demo
    out = tmp_path / "course.html"
    argv = ["report", "--client", "demo course", "--sessions-dir", str(store), "-o", str(out)]
    assert main(argv) == 0
    html = out.read_text()
    assert "demo course" not in html.lower()  # the name never appears: ids only
    soup = BeautifulSoup(html, "html.parser")
    assert soup.title.text == f"Course report: {made.client}"
    chart = soup.select_one("#course-chart img")
    assert chart is not None and chart["src"].startswith("data:image/png;base64,")
    gad = soup.select_one('#reliable-change p.rci[data-measure="gad7"]')
    assert float(gad["data-rci"]) == pytest.approx(-8 / GAD7_S_DIFF, abs=1e-5)  # -4.0234
    assert gad["data-reliable"] == "true" and "reliable improvement" in gad.text
    phq = soup.select_one('#reliable-change p.rci[data-measure="phq9"]')
    assert float(phq["data-rci"]) == pytest.approx(-5 / PHQ9_S_DIFF, abs=1e-5)
    text = soup.select_one("#reliable-change").text
    assert "SD (norms)3.41" in text and "Test–retest r0.83" in text and "Jacobson" in text
    rows = soup.select("#outcomes-table tbody tr")
    assert [int(r["data-total"]) for r in rows if r["data-measure"] == "gad7"] == [15, 11, 7]
    assert soup.select_one("#items-gad7").text.count("Trouble relaxing") == 1
    assert len(soup.select("#sessions-table tbody tr")) == 4  # the trends follow
    assert "4 of 4 sessions" in soup.select_one("#progress").text


def test_no_reliable_change_after_the_planned_sessions_is_said(tmp_path):
    store = tmp_path / "store"
    crs.set_plan(store, "c-flat", crs.make_plan("alpha-up", 1, 1))
    crs.add_outcome(store, "c-flat", "gad7", items_for(12, 7, 1), date(2025, 1, 6))
    crs.add_outcome(store, "c-flat", "gad7", items_for(10, 7, 2), date(2025, 2, 6))
    course = crs.read_course(store, "c-flat")
    from nfb.report.course import change_summary

    summary = change_summary(course, "gad7", done=1)
    assert summary.change.rci == pytest.approx(-2 / GAD7_S_DIFF, abs=1e-5)
    assert not summary.change.reliable
    assert "After the 1 planned sessions, no reliable change in the GAD-7 has appeared." in (
        summary.sentence
    )
    assert "probable generalised anxiety disorder" in summary.sentence  # still ≥ 10
    html = build_course_report("c-flat", store)  # no session yet: the outcomes still show
    assert "No session recorded yet." in html
    with pytest.raises(SessionError):
        build_course_report("c-none", store)


def test_bids_export_with_phenotype(demo, tmp_path):
    import mne_bids

    from nfb.session.bids import export_bids

    _, made = demo
    root = tmp_path / "bids"
    done = [export_bids(p, root) for p in made.sessions[:2]]
    subject = done[0].subject
    path = mne_bids.BIDSPath(
        subject=subject,
        session=done[1].session,
        task=done[1].task,
        datatype="eeg",
        root=root,
        extension=".edf",
    )
    raw = mne_bids.read_raw_bids(path, verbose="error")
    assert raw.info["sfreq"] == 250.0
    with open(root / "participants.tsv", newline="") as f:
        participants = [r["participant_id"] for r in csv.DictReader(f, delimiter="\t")]
    assert participants == [f"sub-{subject}"]
    with open(root / "phenotype" / "gad7.tsv", newline="") as f:
        rows = list(csv.DictReader(f, delimiter="\t"))
    assert [r["participant_id"] for r in rows] == [f"sub-{subject}"] * 3  # not duplicated
    assert [int(r["gad7_total"]) for r in rows] == [15, 11, 7]
    assert sum(int(rows[0][f"gad7_{k}"]) for k in range(1, 8)) == 15
    assert rows[0]["gad7_severity"] == "severe" and rows[0]["date"] == "2026-09-07"
    sidecar = json.loads((root / "phenotype" / "gad7.json").read_text())
    assert sidecar["gad7_4"]["Description"] == "Trouble relaxing"
    assert sidecar["gad7_4"]["Levels"]["3"] == "Nearly every day"
    with open(root / "phenotype" / "phq9.tsv", newline="") as f:
        assert len(list(csv.DictReader(f, delimiter="\t"))) == 3
    assert "intake" not in (root / "phenotype" / "gad7.tsv").read_text()  # notes stay home
    assert stat.S_IMODE((root / "phenotype" / "gad7.tsv").stat().st_mode) == 0o600


def test_summary_csv_has_the_latest_questionnaire_before_each_session(demo, tmp_path):
    from nfb.session.summary import read_summary_csv, session_rows, write_summary_csv

    _, made = demo
    rows = [r for p in made.sessions for r in session_rows(p)]
    out = write_summary_csv(rows, tmp_path / "summary.csv")
    table = read_summary_csv(out)
    sessions = table[table["level"] == "session"]
    # questionnaires before sessions 1 and 3 (same day), the last one after session 4
    assert list(sessions["gad7_total"]) == [15, 15, 11, 11]
    assert list(sessions["phq9_total"]) == [11, 11, 8, 8]
    assert list(sessions["gad7_date"][:2]) == ["2026-09-07", "2026-09-07"]
    with open(out, newline="") as f:
        header = next(csv.reader(f))
    assert {"gad7_total", "gad7_date", "phq9_total", "phq9_date"} <= set(header)
    # a session of a client without a course file: empty cells
    from sessionfactory import make_session

    other = make_session(tmp_path / "other", seconds=6)
    row = session_rows(other)[0]
    assert math.isnan(row["gad7_total"]) and row["gad7_date"] == ""


def test_parse_helpers_refuse_with_the_argument_named():
    with pytest.raises(ConfigError, match="--gad7: the GAD-7 has 7 items, got 3"):
        crs.parse_items("1,2,3", "gad7")
    with pytest.raises(ConfigError, match="--date: '2025-13-01' is not a date"):
        crs.parse_date("2025-13-01")
    assert crs.parse_date(None) == date.today()
