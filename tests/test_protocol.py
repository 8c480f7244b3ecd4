"""Protocols: presets, validation with one-line errors, overrides, channel mapping."""

import numpy as np
import pytest

from nfb.errors import ConfigError
from nfb.montage import map_channels
from nfb.protocol import apply_overrides, list_protocols, load_protocol, protocols_dir
from nfb.session.runner import SessionRunner
from nfb.sources import BoardLayout

PRESETS = ["alpha-up", "alpha-beta-up", "smr-up", "alpha-theta", "frontal-asymmetry"]


def layout(ch_names, sfreq=250.0):
    n = len(ch_names)
    return BoardLayout(
        board_id=None,
        sfreq=sfreq,
        n_rows=n + 3,
        eeg_rows=tuple(range(1, n + 1)),
        ch_names=tuple(ch_names),
        counter_row=0,
        counter_modulo=None,
        timestamp_row=n + 1,
        marker_row=n + 2,
        rail_uv=187500.0,
    )


MUSE = layout(["TP9", "AF7", "AF8", "TP10"], 256.0)
CYTON = layout(["Fp1", "Fp2", "C3", "C4", "P7", "P8", "O1", "O2"])
GANGLION = layout(["Fp1", "Fp2", "O1", "O2"], 200.0)
DAISY = layout(
    [
        "Fp1",
        "Fp2",
        "C3",
        "C4",
        "P7",
        "P8",
        "O1",
        "O2",
        "F7",
        "F8",
        "F3",
        "F4",
        "T7",
        "T8",
        "P3",
        "P4",
    ],
    125.0,
)


def test_required_presets_exist():
    names = {p.stem for p in list_protocols()}
    assert set(PRESETS) <= names


@pytest.mark.parametrize("name", PRESETS)
@pytest.mark.parametrize(
    "board", [MUSE, CYTON, GANGLION, DAISY], ids=["muse", "cyton", "ganglion", "daisy"]
)
@pytest.mark.parametrize("mains", [50, 60])
def test_every_preset_runs_on_every_board(name, board, mains):
    proto = load_protocol(name, ["script.baseline_eyes_open=0.05", "script.block_min=0.1"])
    runner = SessionRunner(proto, board, mains_hz=mains)
    # every requested label is mapped to a channel the board has
    assert set(runner.channel_map.values()) <= set(board.ch_names)
    rng = np.random.default_rng(0)
    rows = runner.feed(rng.standard_normal((len(board.ch_names), int(board.sfreq * 5))) * 10, 0)
    assert len(rows) > 0 and np.isfinite(rows[:, 3]).any()


def test_muse_maps_occipital_to_temporal_and_says_so(caplog):
    mapping = map_channels(["O1", "O2"], MUSE.ch_names)
    assert mapping == {"O1": "TP9", "O2": "TP10"}
    assert "no O1" in caplog.text


def test_bipolar_pair_never_collapses():
    mapping = map_channels(["Cz", "Pz"], GANGLION.ch_names, distinct=True)
    assert mapping["Cz"] != mapping["Pz"]


def test_overrides_use_toml_syntax_and_are_recorded():
    proto = load_protocol(
        "alpha-beta-up",
        [
            "reward.target_rate=0.7",
            'signal.channels=["O1","O2"]',
            "feedback.estimator=fft",
            "inhibit.0.max_uv=80",
        ],
    )
    assert proto.data["reward"]["target_rate"] == 0.7
    assert proto.data["signal"]["channels"] == ["O1", "O2"]
    assert proto.data["feedback"]["estimator"] == "fft"
    assert proto.data["inhibit"][0]["max_uv"] == 80
    assert proto.to_dict()["reward"]["target_rate"] == 0.7


@pytest.mark.parametrize(
    ("overrides", "needle"),
    [
        (["reward.target_rate=1.5"], "reward.target_rate"),
        (["reward.target_rate=abc"], "reward.target_rate"),
        (["feedback.estimator=wavelet"], "feedback.estimator"),
        (["feedback.direction=sideways"], "feedback.direction"),
        (["signal.notch_hz=55"], "signal.notch_hz"),
        (["signal.bandpass_hz=[40, 1]"], "signal.bandpass_hz"),
        (["signal.channels=[]"], "signal.channels"),
        (['signal.channels="../etc"'], "signal.channels"),
        (["script.blocks=0"], "script.blocks"),
        (["reward.nonsense=1"], "reward.nonsense"),
        (['feedback.feature="alpha / gamma2"'], "gamma2"),
        (["inhibit.9.max_uv=1"], "inhibit"),
        (["novalue"], "KEY=VALUE"),
        (["bands.alpha=[12, 8]"], "alpha"),
        (['signal.channels="Cz-Cz"'], "signal.channels"),
        (['feedback.feature="alpha@Cz-Cz"'], "same electrode twice"),
        (["signal.bandpass_hz.0.x=1"], "is a value"),
        (["signal=1"], "'signal' must be a table"),
        (
            [
                "feedback.zscore=true",
                "script.baseline_eyes_open=0",
                "script.baseline_eyes_closed=0",
            ],
            "needs a baseline",
        ),
    ],
)
def test_bad_values_name_the_field(overrides, needle):
    with pytest.raises(ConfigError) as err:
        SessionRunner(load_protocol("alpha-beta-up", overrides), CYTON)
    msg = str(err.value)
    assert needle in msg and "\n" not in msg


def test_unknown_protocol_lists_the_available_ones(tmp_path, monkeypatch):
    monkeypatch.setenv("NFB_CONFIG_DIR", str(tmp_path))
    with pytest.raises(ConfigError, match=r"unknown protocol 'nope'; available: .*alpha-up") as e:
        load_protocol("nope")
    # a newcomer who installed the wheel has no protocols/ folder: the line says where theirs go
    assert f"(your own go in {tmp_path / 'protocols'} as NAME.toml)" in str(e.value)
    assert "\n" not in str(e.value)


def test_malformed_toml_names_the_file(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text('name = "x"\n[signal\nchannels = ["Pz"]\n')
    with pytest.raises(ConfigError, match=r"bad\.toml: malformed TOML"):
        load_protocol(str(bad))


def test_missing_field_names_the_field(tmp_path):
    bad = tmp_path / "nofeature.toml"
    bad.write_text('name = "x"\n[signal]\nchannels = ["Pz"]\n')
    with pytest.raises(ConfigError, match=r"missing field 'feedback\.feature'"):
        load_protocol(str(bad))


def test_bad_inhibit_kind(tmp_path):
    bad = tmp_path / "inh.toml"
    bad.write_text(
        'name = "x"\n[signal]\nchannels = ["Pz"]\n[feedback]\nfeature = "alpha"\n'
        '[[inhibit]]\nkind = "sneeze"\n'
    )
    with pytest.raises(ConfigError, match=r"inhibit\[0\]\.kind' must be one of"):
        load_protocol(str(bad))


def test_apply_overrides_does_not_touch_the_original():
    data = {"reward": {"target_rate": 0.5}}
    apply_overrides(data, ["reward.target_rate=0.6"])
    assert data["reward"]["target_rate"] == 0.5


@pytest.mark.parametrize(
    "extra,first",
    [
        ('[[inhibit]]\nkind = "amplitude"\nmax_uv = 40\n', "amplitude"),
        ('[[inhibit]]\nkind = "band"\nband = "theta"\n[[inhibit]]\nkind = "band"\nband = "theta"\n',
         "band theta"),
    ],
)  # fmt: skip
def test_a_repeated_inhibit_is_refused(tmp_path, extra, first):
    """Only one rule per kind (per band) is applied: a second one must not load silently."""
    path = tmp_path / "dup.toml"
    text = (protocols_dir() / "alpha-beta-up.toml").read_text()
    path.write_text(text + "\n" + extra)
    with pytest.raises(ConfigError, match=f"repeats the '{first}' inhibit") as err:
        load_protocol(path)
    assert "\n" not in str(err.value) and "dup.toml" in str(err.value)


@pytest.mark.parametrize(
    ("feature", "message"),
    [
        ("alpha / 0", "divides by zero: '0' is always 0"),
        ("alpha / (beta - beta)", "divides by zero: 'beta - beta' is always 0"),
        ("alpha / (0.1*beta + 0.2*beta - 0.3*beta)", "is always 0"),  # rounding, not a value
        ("alpha / ln(beta / beta)", "divides by zero: 'ln(beta / beta)' is always 0"),
        ("alpha / (abs(theta) - theta)", "is always 0"),  # band values are positive
        ("1 / (alpha / 0)", "divides by zero: '0'"),
        ("alpha - alpha", "is a constant (0): it follows no band"),
        ("alpha * 0 + 3", "is a constant (3)"),
        ("sqrt(-alpha)", "is never a finite number"),
        ("ln(beta - beta)", "is never a finite number"),
        ("+".join(["alpha"] * 65), "has more than 64 terms (bands and numbers); at most 64"),
        ("(" * 17 + "alpha" + ")" * 17, "nests parentheses 17 deep; at most 16 levels"),
        ("-" * 17 + "alpha", "nests functions and signs more than 16 deep"),
        ("x" * 501, "the expression has 501 characters; at most 500"),
    ],
)
def test_a_feature_that_cannot_work_is_refused_at_load(feature, message):
    with pytest.raises(ConfigError) as err:
        load_protocol("alpha-beta-up", [f"feedback.feature={feature!r}"])
    text = str(err.value)
    assert "\n" not in text and len(text) < 400, text
    assert "alpha-beta-up.toml: feedback.feature: " in text and message in text, text


@pytest.mark.parametrize(
    "feature",
    [
        "alpha / beta",
        "theta / (alpha + beta)",
        "ln(alpha@F4) - ln(alpha@F3)",
        "alpha / (beta - theta)",  # zero only where beta equals theta
        "alpha / 1e-20",
        "+".join(["alpha"] * 64),
        "(" * 16 + "alpha" + ")" * 16,
        "-" * 16 + "alpha",
    ],
)
def test_features_at_the_limits_load(feature):
    protocol = load_protocol("alpha-beta-up", [f"feedback.feature={feature!r}"])
    assert protocol["feedback"]["feature"] == feature
