"""The head map widget on its own: 10-20 placement, verdict colours, labels off the 10-20 grid."""

import math

import pytest

from nfb.gui.headmap import VERDICT_COLOURS, HeadMap, head_position
from nfb.impedance import ElectrodeImpedance


def test_10_20_positions_seen_from_above():
    cz, fpz, oz, t7, t8 = (head_position(n) for n in ("Cz", "Fpz", "Oz", "T7", "T8"))
    assert math.hypot(*cz) < 0.1  # the top of the head is the centre
    assert fpz[1] == pytest.approx(1.0, abs=0.1) and abs(fpz[0]) < 0.05  # nose up
    assert oz[1] == pytest.approx(-1.0, abs=0.15)
    assert t7[0] == pytest.approx(-1.0, abs=0.1) and t8[0] == pytest.approx(1.0, abs=0.1)
    f3, fz = head_position("F3"), head_position("fz")  # any case
    assert f3[0] < 0 < f3[1] and 0.3 < math.hypot(*f3) < 0.85 and fz[1] > 0.3
    assert head_position("REF") is None and head_position("VEOG") is None


def test_colours_values_and_the_row_of_other_inputs(qtbot, tmp_path):
    head = HeadMap()
    qtbot.addWidget(head)
    head.resize(300, 330)
    head.set_electrodes(["Fp1", "Fp2", "O1", "O2"])
    assert [e.verdict for e in head.electrodes] == [None] * 4  # not measured yet
    result = [
        ElectrodeImpedance("Fp1", 4.0, "good"),
        ElectrodeImpedance("Fp2", 22.0, "check"),
        ElectrodeImpedance("O1", math.inf, "bad"),
        ElectrodeImpedance("REF", 6.0, "good"),  # a Ganglion's reference
    ]
    head.set_impedance(result)
    assert [e.name for e in head.electrodes] == ["Fp1", "Fp2", "O1", "O2", "REF"]
    assert [e.text for e in head.electrodes] == ["4.0 kΩ", "22.0 kΩ", "∞", "—", "6.0 kΩ"]
    assert head.electrode("REF").xy is None
    with pytest.raises(KeyError):
        head.electrode("Cz")
    image = head.grab().toImage()
    image.save(str(tmp_path / "head.png"))
    ratio = image.width() / head.width()

    def colour(name):
        at = head.electrode_centre(name)
        return image.pixelColor(round(at.x() * ratio), round(at.y() * ratio)).name()

    assert [colour(n) for n in ("Fp1", "Fp2", "O1", "O2", "REF")] == [
        VERDICT_COLOURS[v] for v in ("good", "check", "bad", None, "good")
    ]
    ref, o1 = head.electrode_centre("REF"), head.electrode_centre("O1")
    assert ref.y() > o1.y() + head.dot_radius()  # under the head
    assert head.electrode_centre("Fp1").y() < o1.y()  # the nose is up
