"""Pseudonymous client ids: names live only in the store's index."""

from __future__ import annotations

import json
import stat
import threading

import pytest

from nfb.errors import ConfigError, SessionError
from nfb.session.clients import (
    INDEX_FILE,
    ClientIndex,
    client_names,
    resolve_client,
    validate_client,
)


def test_a_name_gets_a_random_id_and_keeps_it(tmp_path):
    cid = resolve_client("Jane Doe", tmp_path)
    assert cid.startswith("c") and len(cid) == 9 and cid.isalnum()
    validate_client(cid)
    # the same person, however typed, is the same id; another person another id
    assert resolve_client("  jane   DOE ", tmp_path) == cid
    assert resolve_client(cid, tmp_path) == cid
    other = resolve_client("John Roe", tmp_path)
    assert other != cid
    index = ClientIndex(tmp_path)
    assert index.clients() == {cid: "Jane Doe", other: "John Roe"}
    assert index.name(cid) == "Jane Doe"
    path = tmp_path / INDEX_FILE
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert json.loads(path.read_text())["clients"][cid]["name"] == "Jane Doe"


def test_names_never_become_paths(tmp_path):
    for name in ("Jane Doe", "Zoë", "O'Brien, M.", "名前"):
        cid = resolve_client(name, tmp_path)
        assert "/" not in cid and "." not in cid and cid.isascii()
    assert sorted(p.name for p in tmp_path.iterdir()) == [f".{INDEX_FILE}.lock", INDEX_FILE]


def test_folders_from_before_the_index_keep_their_id(tmp_path):
    (tmp_path / "demo").mkdir()
    assert resolve_client("demo", tmp_path) == "demo"
    assert ClientIndex(tmp_path).clients() == {}


def test_unknown_client_without_create(tmp_path):
    resolve_client("Jane Doe", tmp_path)
    with pytest.raises(ConfigError, match="no such client"):
        resolve_client("Nobody", tmp_path, create=False)
    with pytest.raises(ConfigError, match="a client name or id is needed"):
        resolve_client("   ", tmp_path)


def test_corrupted_index_is_a_clear_error_and_kept(tmp_path):
    (tmp_path / INDEX_FILE).write_text('{"format": "nfb-clients", "clients": {"../x": {}}}')
    before = (tmp_path / INDEX_FILE).read_bytes()
    with pytest.raises(SessionError, match=f"{INDEX_FILE} is corrupted"):
        resolve_client("Jane", tmp_path)
    assert (tmp_path / INDEX_FILE).read_bytes() == before


def test_concurrent_consoles_agree_on_a_new_name(tmp_path):
    got: list[str] = []
    threads = [
        threading.Thread(target=lambda: got.append(resolve_client("Same Person", tmp_path)))
        for _ in range(8)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(set(got)) == 1 and len(ClientIndex(tmp_path).clients()) == 1


@pytest.mark.parametrize("name", ["../evil", "a/b", "a\\b", ".hidden", "x" * 101, "bell\x07"])
def test_path_like_names_are_refused_and_nothing_is_written(tmp_path, name):
    with pytest.raises(ConfigError, match="client name") as err:
        resolve_client(name, tmp_path)
    assert "\n" not in str(err.value)
    assert not (tmp_path / INDEX_FILE).exists()
    assert sorted(p.name for p in tmp_path.iterdir()) in ([], [f".{INDEX_FILE}.lock"])


def test_client_names_lists_index_names_and_older_folders(tmp_path):
    cid = resolve_client("Jane Doe", tmp_path)
    (tmp_path / cid).mkdir()
    (tmp_path / "legacy-client").mkdir()
    assert client_names(tmp_path) == ["Jane Doe", "legacy-client"]


def test_the_python_api_takes_a_name_too(tmp_path):
    from sessionfactory import make_session

    import nfb

    cid = resolve_client("Jane Doe", tmp_path)
    path = make_session(tmp_path, seconds=2, client=cid)
    assert [s["path"] for s in nfb.list_sessions(tmp_path, client="jane  DOE")] == [path]
    assert [s["path"] for s in nfb.list_sessions(tmp_path, client=cid)] == [path]
    table = nfb.summary_table(client="Jane Doe", sessions_dir=tmp_path, as_frame=False)
    assert set(table["client"]) == {cid}
    with pytest.raises(SessionError, match="invalid client id"):
        nfb.list_sessions(tmp_path, client="../x")
