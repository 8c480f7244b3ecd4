"""What the console says: errors in the practitioner's words, the help texts.

The engine's errors name what the command line calls a thing (``--client: a client name or
id is needed, got ''``), which is right in a terminal and wrong in a window, where the
practitioner sees a field called *Client*. :func:`plain_error` rewords an error for the
console: the option becomes the field's label and the common cases get a sentence that says
what to do. The engine's text stays in the log, so nothing is lost.
"""

from __future__ import annotations

import re

#: Command-line options and the console fields that set them.
FIELD_OF_OPTION = {
    "--client": "Client",
    "--protocol": "Protocol",
    "--device": "Profile",
    "--serial-port": "Serial port",
    "--mac-address": "MAC address",
    "--file": "File",
    "--ip-address": "IP address",
    "--ip-port": "IP port",
    "--stream": "LSL stream",
    "--mains-hz": "Mains",
    "--threshold": "Threshold",
    "--note": "Marker note",
    "--sessions": "Session store",
}

#: Whole sentences for the errors a practitioner meets most (matched at the start).
_REWORDED = (
    (
        re.compile(r"--client: a client name or id is needed"),
        "Type or choose the client's name first.",
    ),
    (
        re.compile(r"connect a device first"),
        "Connect a device first (Connect, at the top of the Connect tab).",
    ),
)

_OPTION = re.compile(r"(?<![\w-])(--[a-z][a-z-]*)")


def plain_error(text: str) -> str:
    """The console's wording of an error message.

    Parameters
    ----------
    text : str
        The engine's one-line message.

    Returns
    -------
    text : str
        The same message in the console's words: a known case as a sentence saying what to
        do, otherwise every command-line option replaced by the label of its field.
    """
    text = text.strip()
    for pattern, sentence in _REWORDED:
        if pattern.match(text):
            return sentence
    return _OPTION.sub(lambda m: FIELD_OF_OPTION.get(m.group(1), m.group(1)), text)


#: The Help menu's "How a session runs".
HOW_A_SESSION_RUNS = """
<h3>How a session runs</h3>
<ol>
<li><b>Connect.</b> Choose the board's profile (Scan finds OpenBCI dongles and Bluetooth
headsets), fill in its port, address or stream if it asks for one, and press Connect. The raw
traces appear on the right.</li>
<li><b>Check the electrodes.</b> <i>Check signal</i> rates the last 5 s of each channel
(noise, mains hum, flat or railed channels) and gives a verdict on the electrodes the chosen
protocol trains. On a Cyton or Ganglion, <i>Electrode impedance</i> measures each contact in
kΩ. Fix what is marked BAD before you start.</li>
<li><b>Choose client and protocol</b> in the Session tab, and ask for the client's anxiety
rating (0–10) before the session.</li>
<li><b>Start</b> (F5). The script runs by itself: an eyes-open and an eyes-closed baseline
set the threshold, then training blocks with rests between them. The client's screen says
what to do at each step; the header above the plots says where the session is.</li>
<li><b>During training</b>, the client is rewarded (the bar rises, the tone plays) while the
trained feature is past the threshold and no artefact inhibit is active. The threshold
follows the protocol's rule (auto); untick <i>auto</i> to set it by hand. Pause with Space,
mark a moment with M (a note is optional), skip to the next step with Ctrl+N.</li>
<li><b>Stop</b> (Ctrl+.) ends the session early; it also ends by itself after the last block.
Ask for the after rating; <i>Open report</i> shows the blocks, rewards and signal quality.</li>
</ol>
<p>Everything is recorded in the session store: the raw signal, every frame, every threshold
change and marker, so a session can be replayed exactly.</p>
<p><b>nfb supports supervised use by a practitioner. It is not a medical device.</b></p>
"""
