"""The Ganglion's impedance mode: raw packets, and the rows BrainFlow makes of them.

Packets are built by hand from OpenBCI's Ganglion data format (id 201-205, ASCII value, 'Z';
BLE pads a notification to its length). No Ganglion and no Bluetooth adapter here: the live
path is driven by a source that delivers what BrainFlow's Ganglion driver documents it makes
of those packets (``ganglion_native.cpp`` ``read_data``: a row per impedance packet, the
packet id in the package counter, the five held values in the resistance rows, EEG rows
zero; ``config_board("z")``/``("Z")`` switch the stream between impedance and EEG).
Waiting is on sample counts, never on sleeps.
"""

import logging
import math
import re

import numpy as np
import pytest
from brainflow.board_shim import BoardIds, BoardShim

from nfb import ganglion_impedance as gz
from nfb import impedance
from nfb.devices import load_profile
from nfb.errors import DeviceError
from nfb.sources import board_layout
from nfb.stream import DeviceStream


def pkt(pid: int, text: bytes, pad: int = 0) -> bytes:
    return bytes([pid]) + text + b"\x00" * pad


# a recording of two rounds of the test (channels 1-4, reference), with malformed packets
# between them; the first round still settling (higher values)
RECORDED = [
    pkt(203, b"400Z"),  # the firmware goes on from the input it tested last
    pkt(204, b"20Z"),
    pkt(205, b"30Z", pad=16),
    pkt(201, b"90Z"),
    pkt(202, b"60Z"),
    pkt(203, b"250Z"),
    pkt(203, b"25"),  # cut short: no 'Z'
    pkt(204, b"-3Z"),  # the firmware's correction below zero: a near-short
    pkt(204, b"1x2Z"),  # corrupted
    pkt(205, b"12Z", pad=16),
    pkt(201, b"8Z"),
    pkt(202, b"44Z"),
    pkt(203, b"251Z"),
    pkt(204, b"0Z"),
]
NAMES = ["Fp1", "Fp2", "O1", "O2"]


def test_parse_packet_reads_each_input_and_pads():
    assert gz.parse_packet(pkt(201, b"8Z")) == (0, 8.0)
    assert gz.parse_packet(pkt(204, b"1234Z")) == (3, 1234.0)
    assert gz.parse_packet(pkt(205, b"12Z", pad=16)) == (4, 12.0)  # the reference, padded
    assert gz.parse_packet(pkt(202, b"-3Z")) == (1, -3.0)
    assert gz.parse_packet(bytearray(pkt(203, b"99999Z"))) == (2, 99999.0)


@pytest.mark.parametrize(
    ("packet", "reason"),
    [
        (b"", "empty"),
        (pkt(200, b"5Z"), r"id 200 is not an impedance id \(201-205\)"),  # a 19-bit EEG packet
        (pkt(206, b"5Z"), "id 206 is not an impedance id"),  # part of an ASCII message
        (pkt(201, b"12"), "201: no 'Z' after the value"),
        (pkt(201, b"Z"), "201: no digits before the 'Z'"),
        (pkt(201, b"-Z"), "201: no digits before the 'Z'"),
        (pkt(202, b"1a2Z"), "202: value '1a2' is not up to 5 ASCII digits"),
        (pkt(202, b"123456Z"), "202: value '123456' is not up to 5 ASCII digits"),
        (pkt(202, b" 12Z"), "value ' 12' is not"),
        (pkt(202, b"\xff\xfeZ"), "202: value .*xff.*xfe.* is not up to 5"),
    ],
)
def test_parse_packet_refuses_malformed_packets_in_one_line(packet, reason):
    with pytest.raises(ValueError, match=reason) as err:
        gz.parse_packet(packet)
    assert "\n" not in str(err.value) and str(err.value).startswith("Ganglion impedance packet")


def test_a_recording_gives_each_electrode_and_the_reference(caplog):
    readings = gz.Readings(NAMES)
    with caplog.at_level(logging.WARNING, logger="nfb"):
        for i, packet in enumerate(RECORDED):
            readings.add_packet(packet)
            if i == 9:  # the reference read twice, channels 1 and 2 only once
                assert not readings.complete and readings.missing() == ["Fp1", "Fp2"]
    assert readings.complete
    assert sum("skipped" in r.getMessage() for r in caplog.records) == 2
    result = readings.result()
    assert [r.name for r in result] == [*NAMES, "REF"]
    # the newest reading, halved (input to D_G in series), a negative reading is 0
    assert [r.kohm for r in result] == [4.0, 22.0, 125.5, 0.0, 6.0]
    assert [r.verdict for r in result] == ["good", "check", "bad", "good", "good"]
    assert gz.electrode_kohm(-3) == 0.0 and gz.electrode_kohm(20) == 10.0


def test_an_input_never_read_is_bad_and_infinite():
    readings = gz.Readings(NAMES, rounds=1)
    for packet in RECORDED[:2]:
        readings.add_packet(packet)
    result = {r.name: r for r in readings.result()}
    assert result["O1"].kohm == 200.0 and result["O1"].verdict == "bad"
    assert math.isinf(result["Fp1"].kohm) and result["Fp1"].verdict == "bad"
    with pytest.raises(ValueError, match="4 channels"):
        gz.Readings(["Fp1"])


def test_resistance_rows_are_brainflow_s():
    for board in (BoardIds.GANGLION_BOARD, BoardIds.GANGLION_NATIVE_BOARD):
        rows = gz.resistance_rows(int(board))
        assert rows == list(BoardShim.get_resistance_channels(int(board))) and len(rows) == 5


class GanglionDriverOutput:
    """What BrainFlow's Ganglion driver delivers, from the raw packets it receives.

    EEG mode: 19-bit packets (ids 101-200, two samples each). After ``z``: one row per
    packet of ``packets`` (one packet per read); values held between packets as the driver
    holds them, starting from a previous test's (``held``). After ``Z``: EEG again.
    """

    def __init__(self, packets, *, held=999.0, board=BoardIds.GANGLION_NATIVE_BOARD):
        self.layout = board_layout(int(board), NAMES)
        self.resist = BoardShim.get_resistance_channels(int(board))
        self.packets = list(packets)
        self.held = [held] * 5
        self.mode = "eeg"
        self.commands: list[str] = []
        self.rows_by_mode = {"eeg": 0, "impedance": 0}
        self.skip_next = 0  # EEG samples to lose after the next read
        self._k = 0

    def open(self):
        pass

    def close(self):
        pass

    def insert_marker(self, value):
        pass

    def send_config(self, command: str) -> str:
        self.commands.append(command)
        self.mode = {"z": "impedance", "Z": "eeg"}.get(command[:1], self.mode)
        return ""

    def _driver_parse(self, packet: bytes):
        # the driver: the text up to a 'Z' in bytes 1-5, std::stoi (its leading sign and
        # digits); a failure drops the packet
        end = next((i for i in range(1, 6) if i < len(packet) and packet[i] == ord("Z")), 6)
        m = re.match(rb"\s*[-+]?\d+", packet[1:end])
        return int(m.group()) if m else None

    def read(self) -> np.ndarray:
        lay = self.layout
        if self.mode == "impedance":
            if not self.packets:
                return np.zeros((lay.n_rows, 0))
            packet = self.packets.pop(0)
            value = self._driver_parse(packet)
            if value is None:
                return np.zeros((lay.n_rows, 0))
            self.held[packet[0] % 10 - 1] = float(value)
            out = np.zeros((lay.n_rows, 1))
            out[lay.counter_row] = packet[0]
            out[self.resist] = np.array(self.held)[:, None]
            self.rows_by_mode["impedance"] += 1
            return out
        n = 4
        k = self._k + np.arange(n)
        self._k += n
        if self.skip_next:  # lost on the way: their counters never arrive
            self._k += self.skip_next
            self.skip_next = 0
        out = np.zeros((lay.n_rows, n))
        out[lay.counter_row] = 101 + (k // 2) % 100
        out[list(lay.eeg_rows)] = 10 * np.sin(2 * np.pi * 10 * k / lay.sfreq)
        out[self.resist] = np.array(self.held)[:, None]  # the driver leaves them as they were
        self.rows_by_mode["eeg"] += n
        return out


def test_measure_through_brainflow_rows_and_back_to_streaming(caplog):
    profile = load_profile("ganglion-native")
    source = GanglionDriverOutput(RECORDED)
    with DeviceStream(profile, source=source) as stream:
        assert stream.acquisition.wait_samples(200, timeout=30)
        with caplog.at_level(logging.WARNING, logger="nfb"):
            result = impedance.measure(stream)  # dispatches on the board
            eeg_before = source.rows_by_mode["eeg"]
            n = stream.n_samples
            assert stream.acquisition.wait_samples(n + 100, timeout=30)
        assert source.mode == "eeg" and source.rows_by_mode["eeg"] > eeg_before + 50
        # the packet ids 201-205 were no lost samples; back in EEG, losses count again
        assert stream.n_dropped == 0 and not any(
            "dropped" in r.getMessage() for r in caplog.records
        )
        source.skip_next = 6  # the radio loses three BLE packets (6 samples)
        n = stream.n_samples
        assert stream.acquisition.wait_samples(n + 100, timeout=30)
        assert stream.n_dropped == 6
    assert source.commands == ["z", "Z"]
    assert [r.name for r in result] == [*NAMES, "REF"]
    # done once channel 2 was read twice (its "44"); BrainFlow's stoi kept what parse_packet
    # refuses: channel 3's cut-short "25" and channel 4's corrupted "1x2" (as 1)
    assert [r.kohm for r in result] == [4.0, 22.0, 12.5, 0.5, 6.0]
    assert [r.verdict for r in result] == ["good", "check", "check", "good", "good"]
    assert "REF" in impedance.format_table(result)


def test_measure_stops_the_test_when_an_input_never_answers():
    profile = load_profile("ganglion-native")
    source = GanglionDriverOutput([p for p in RECORDED if p[0] != 205])
    with DeviceStream(profile, source=source) as stream:
        assert stream.acquisition.wait_samples(20, timeout=30)
        with pytest.raises(DeviceError, match="sent no impedance for REF within 2 s"):
            gz.measure(stream, timeout=2.0)
        n = stream.n_samples
        assert stream.acquisition.wait_samples(n + 20, timeout=30)
    assert source.commands == ["z", "Z"] and source.mode == "eeg"
