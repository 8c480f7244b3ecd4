#!/usr/bin/env bash
# System packages the GUI and sound tests need: a virtual X server, PulseAudio (a null sink
# to record what the app plays) and the X/EGL libraries Qt loads. Installed with apt-get when
# running as root; otherwise the tests that need them skip with a message naming the package.
# desktop-file-utils: tests/test_packaging.py validates the launcher `nfb desktop-entry` writes.
set -u
PKGS="xvfb pulseaudio pulseaudio-utils libpulse0 libpulse-mainloop-glib0 libegl1 libgl1 \
libxkbcommon-x11-0 libxcb-cursor0 libxcb-icccm4 libxcb-keysyms1 libxcb-image0 \
libxcb-render-util0 libxcb-shape0 libxcb-xinerama0 libxcb-randr0 libxcb-xfixes0 \
libfontconfig1 libdbus-1-3 desktop-file-utils"
missing=""
for p in $PKGS; do
    dpkg -s "$p" >/dev/null 2>&1 || missing="$missing $p"
done
[ -z "$missing" ] && exit 0
if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null; then
    echo "system-deps: not root or no apt-get; GUI/sound tests will skip (missing:$missing)" >&2
    exit 0
fi
echo "system-deps: installing$missing" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq >/dev/null && apt-get install -y -qq --no-install-recommends $missing >/dev/null \
    || echo "system-deps: apt-get failed; GUI/sound tests will skip" >&2
exit 0
