#!/usr/bin/env bash
# Every dependency of nfb resolves as binary wheels on the desktops practitioners use:
# Windows x86-64, macOS on Apple silicon (14+) and on Intel (10.15+), for the lowest Python
# nfb supports and a recent one. Run by `make check-wheels` (and so by `make test` and CI).
#
# uv resolves for another platform with that platform's environment markers; pip's
# `--platform` keeps the host's markers, so on Linux it looks for bleak's Linux-only
# dependency (dbus-fast) as a Windows wheel and fails for a reason no Windows user has.
# Needs PyPI: where it is unreachable this says SKIPPED on one line and succeeds, unless
# NFB_REQUIRE_WHEEL_CHECK=1.
set -euo pipefail
BIN=${BIN:-.venv/bin}
PYTHONS=${PYTHONS:-"3.11 3.13"}
dist=$(mktemp -d)
trap 'rm -rf "$dist"' EXIT

if ! "$BIN/python" -c 'import urllib.request as u; u.urlopen("https://pypi.org/simple/pip/", timeout=15)' 2>/dev/null; then
    echo "check-wheels: SKIPPED: PyPI is unreachable, so the Windows and macOS wheels were not checked" >&2
    [ "${NFB_REQUIRE_WHEEL_CHECK:-}" = 1 ] && exit 1
    exit 0
fi
"$BIN/python" -m pip wheel --quiet --no-deps . -w "$dist" 2>&1 | grep -v '^WARNING: Location' || true
wheel=$(ls "$dist"/nfb-*.whl)

fail=0
# uv's target triple, the wheel tag it stands for, the oldest macOS it must run on
TARGETS=${TARGETS:-"x86_64-pc-windows-msvc:win_amd64:- aarch64-apple-darwin:macosx_14_0_arm64:14.0 x86_64-apple-darwin:macosx_10_15_x86_64:10.15"}
for target in $TARGETS; do
    IFS=: read -r triple tag macos <<<"$target"
    for py in $PYTHONS; do
        log="$dist/$tag-$py.log"
        deployment=()
        [ "$macos" != - ] && deployment=("MACOSX_DEPLOYMENT_TARGET=$macos")
        if env "${deployment[@]}" "$BIN/uv" pip install --dry-run --quiet --no-config --only-binary :all: \
            --python-platform "$triple" --python-version "$py" --target "$dist/t" \
            "$wheel" >"$log" 2>&1; then
            echo "check-wheels: $tag, Python $py: every dependency has a binary wheel"
        else
            echo "check-wheels: $tag, Python $py: FAILED:" >&2
            sed 's/^/    /' "$log" >&2
            fail=1
        fi
    done
done
exit $fail
