"""The wheel is the whole app, and the Python range it declares is true.

``test_wheel_as_a_newcomer`` builds the wheel, installs it into a fresh virtual environment
outside the repository and uses it from an empty folder with a fresh ``HOME``, as a new user
would. The environment gets nfb from the wheel only (``--no-deps``); its dependencies come
from this test run's environment through one ``.pth`` line (that folder's own ``.pth`` files,
such as the editable install's finder, are not run), so the test takes seconds instead of
downloading a scientific Python stack. ``make check-wheels`` checks that the dependencies
resolve as wheels for Windows and macOS.
"""

from __future__ import annotations

import ast
import json
import os
import re
import shutil
import site
import subprocess
import sys
import tomllib
import venv
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())


def _floor() -> tuple[int, int]:
    spec = PYPROJECT["project"]["requires-python"]
    m = re.fullmatch(r">=\s*3\.(\d+)", spec)
    assert m, f"requires-python should be a plain floor, got {spec!r}"
    return 3, int(m.group(1))


def test_python_range_is_true():
    floor = _floor()
    assert sys.version_info[:2] >= floor
    # ruff's checks (pyupgrade) assume the same floor
    assert PYPROJECT["tool"]["ruff"]["target-version"] == f"py3{floor[1]}"
    deps = " ".join(PYPROJECT["project"]["dependencies"])
    for path in sorted((ROOT / "nfb").rglob("*.py")):
        source = path.read_text(encoding="utf-8")
        # every module parses under the grammar of the lowest declared version
        tree = ast.parse(source, filename=str(path), feature_version=floor)
        for node in ast.walk(tree):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            for name in names:
                # tomllib is 3.11+: fine only with a floor of 3.11, or tomli declared
                if name == "tomllib":
                    assert floor >= (3, 11) or "tomli" in deps, path
                assert name != "tomli", f"{path}: tomli is not a dependency"


def test_the_package_list_is_every_package():
    listed = set(PYPROJECT["tool"]["setuptools"]["packages"])
    found = {
        ".".join(p.parent.relative_to(ROOT).parts) for p in (ROOT / "nfb").rglob("__init__.py")
    }
    data = set(PYPROJECT["tool"]["setuptools"]["package-dir"])
    assert listed == found | data
    assert PYPROJECT["tool"]["setuptools"]["package-dir"] == {
        "nfb.builtin_devices": "devices",
        "nfb.builtin_protocols": "protocols",
    }


def test_builtin_presets_come_from_the_package(monkeypatch):
    import importlib.resources

    from nfb import paths

    monkeypatch.delenv("NFB_DEVICES_DIR", raising=False)
    monkeypatch.delenv("NFB_PROTOCOLS_DIR", raising=False)
    for kind, package in paths.BUILTIN_PACKAGES.items():
        assert paths.builtin_dir(kind) == Path(os.fspath(importlib.resources.files(package)))
        assert paths.builtin_dir(kind).resolve() == (ROOT / kind).resolve()


GUI_CHECK = """
import importlib.metadata as m, json, pathlib, pkgutil, sys, importlib
import nfb
eps = {e.name: (e.group, e.value) for e in m.distribution("nfb").entry_points}
root = pathlib.Path(nfb.__file__).parent
mods = [i.name for i in pkgutil.walk_packages([str(root)], "nfb.")]
for name in mods:
    if not name.startswith("nfb.builtin_"):
        importlib.import_module(name)
print(json.dumps({"eps": eps, "nfb": str(root), "modules": len(mods)}))
"""


@pytest.mark.skipif(
    shutil.which("desktop-file-validate") is None,
    reason="desktop-file-validate missing (apt-get install desktop-file-utils; make system-deps)",
)
def test_the_desktop_entry_is_valid(tmp_path):
    # Debian 12's desktop-file-validate (0.26) refused "Version=1.5" as unknown, and hinted
    # that three categories with two main ones list the app twice; a path with a space, a
    # quote and a dollar (a user's home) is quoted as the spec asks
    from nfb.commands.desktop_entry import desktop_file

    entry = tmp_path / "nfb.desktop"
    entry.write_text(desktop_file('/home/Ann Lee/"nfb" $env/bin/nfb-gui'), encoding="utf-8")
    proc = subprocess.run(
        ["desktop-file-validate", str(entry)], capture_output=True, text=True, timeout=30
    )
    assert proc.returncode == 0 and proc.stdout.strip() == "", proc.stdout + proc.stderr


def test_brainflow_gets_the_pkg_resources_it_needs():
    # pipx's environment on Python 3.11 had setuptools 84 (no pkg_resources since 82), and
    # BrainFlow could not load its library: every command that touches a board failed
    from packaging.requirements import Requirement

    without = (
        "import sys; sys.modules['pkg_resources'] = None\n"
        "from brainflow.board_shim import BoardShim\n"
        "BoardShim.get_board_descr(-1)\n"
    )
    proc = subprocess.run([sys.executable, "-c", without], capture_output=True, text=True)
    if proc.returncode == 0:
        return  # this BrainFlow on this Python finds its library without pkg_resources
    assert "pkg_resources" in proc.stderr, proc.stderr
    py = {"python_version": f"{sys.version_info[0]}.{sys.version_info[1]}"}
    pins = [
        r
        for r in map(Requirement, PYPROJECT["project"]["dependencies"])
        if r.name == "setuptools" and (r.marker is None or r.marker.evaluate(py))
    ]
    assert pins, "BrainFlow needs pkg_resources here: declare setuptools<82 for this Python"
    assert not any(p.specifier.contains("82.0.0") for p in pins), pins
    import setuptools  # the one installed by the declared range

    assert any(p.specifier.contains(setuptools.__version__) for p in pins), setuptools.__version__


FAKE_PKG_RESOURCES = """
import importlib.util, os, warnings
warnings.warn("pkg_resources is deprecated as an API. (setuptools 80-81's words)", UserWarning,
              stacklevel=2)
def resource_filename(module, path):
    package = importlib.util.find_spec(module.rpartition(".")[0])
    return os.path.join(os.path.dirname(package.origin), path)
"""


@pytest.mark.skipif(sys.version_info >= (3, 12), reason="BrainFlow uses pkg_resources on 3.11")
@pytest.mark.parametrize(("first", "warned"), [("import nfb.sources", False), ("pass", True)])
def test_brainflow_pkg_resources_warning_stays_off_the_terminal(tmp_path, first, warned):
    # the setuptools that still has pkg_resources warns when BrainFlow imports it: each nfb
    # command printed two lines of setuptools' advice; the last case shows the warning is real
    (tmp_path / "pkg_resources").mkdir()
    (tmp_path / "pkg_resources" / "__init__.py").write_text(FAKE_PKG_RESOURCES)
    code = f"{first}\nfrom brainflow.board_shim import BoardShim\nBoardShim.get_board_descr(-1)\n"
    env = {**os.environ, "PYTHONPATH": str(tmp_path)}
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, cwd=tmp_path
    )
    assert proc.returncode == 0, proc.stderr
    assert ("pkg_resources is deprecated" in proc.stderr) is warned, proc.stderr


def _run(cmd, cwd, env, timeout=120):
    proc = subprocess.run(
        [str(c) for c in cmd], cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout
    )
    assert "Traceback" not in proc.stderr, proc.stderr
    return proc


@pytest.mark.slow
def test_wheel_as_a_newcomer(tmp_path):
    dist = tmp_path / "dist"
    build = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", str(ROOT), "-w", dist],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert build.returncode == 0, build.stderr
    (wheel,) = dist.glob("nfb-*.whl")
    # the wheel's modules are the source's: none left over in build/ from an earlier build
    with zipfile.ZipFile(wheel) as whl:
        names = whl.namelist()
    packed = {n for n in names if n.endswith(".py") and not n.startswith("nfb/builtin_")}
    source = {p.relative_to(ROOT).as_posix() for p in (ROOT / "nfb").rglob("*.py")}
    assert packed == source, f"stale build/ (make wheel removes it): {sorted(packed ^ source)}"

    env_dir = tmp_path / "venv"
    venv.EnvBuilder(with_pip=False).create(env_dir)
    bindir = env_dir / ("Scripts" if os.name == "nt" else "bin")
    py = bindir / "python"
    # the dependencies of this test run, without its nfb (an editable install's finder is a
    # .pth file of that folder, and .pth files of a folder named in a .pth line are not run)
    where = "import sysconfig; print(sysconfig.get_paths()['purelib'])"
    purelib = Path(subprocess.check_output([py, "-c", where], text=True).strip())
    (purelib / "_deps_of_the_test_run.pth").write_text(
        "\n".join(p for p in site.getsitepackages() if "site-packages" in p) + "\n"
    )
    pip = subprocess.run(
        [sys.executable, "-m", "pip", "--python", py, "install", "--no-deps", "--quiet", wheel],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert pip.returncode == 0, pip.stderr

    home = tmp_path / "home"
    home.mkdir()
    empty = tmp_path / "empty"
    empty.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("NFB_", "XDG_"))}
    env.update(HOME=str(home), NFB_NO_PROGRESS="1", QT_QPA_PLATFORM="offscreen")
    nfb = bindir / "nfb"

    # nfb comes from the wheel, every module imports, both launchers are declared
    proc = _run([py, "-c", GUI_CHECK], empty, env)
    assert proc.returncode == 0, proc.stderr
    info = json.loads(proc.stdout)
    assert Path(info["nfb"]).is_relative_to(env_dir)
    assert info["eps"]["nfb"] == ["console_scripts", "nfb.cli:main"]
    assert info["eps"]["nfb-gui"] == ["gui_scripts", "nfb.cli:gui_main"]
    assert (bindir / "nfb-gui").is_file() and os.access(bindir / "nfb-gui", os.X_OK)

    # the built-in profiles are in the wheel
    proc = _run([nfb, "devices"], empty, env)
    assert proc.returncode == 0, proc.stderr
    table = proc.stdout.split("\n\n")[0].splitlines()[1:]
    rows = {line.split()[0]: line.split()[1] for line in table}
    assert {"synthetic", "cyton", "muse-2", "ganglion"} <= set(rows)
    assert set(rows.values()) == {"built-in"}
    config = home / ".config" / "nfb"
    assert f"Your own profiles: {config / 'devices'}" in proc.stdout

    # a profile dropped in the config folder appears; one with a built-in's name replaces it
    (config / "devices").mkdir(parents=True)
    (config / "devices" / "clinic-cyton.toml").write_text(
        'description = "Our Cyton"\nboard = "CYTON_BOARD"\nmains_hz = 60\n'
        '[connection]\nserial_port = ""\n'
    )
    (config / "devices" / "synthetic.toml").write_text(
        'description = "Synthetic at 60 Hz mains"\nboard = "SYNTHETIC_BOARD"\nmains_hz = 60\n'
    )
    proc = _run([nfb, "devices", "--json"], empty, env)
    assert proc.returncode == 0, proc.stderr
    by_name = {p["name"]: p for p in json.loads(proc.stdout)}
    assert by_name["clinic-cyton"]["origin"] == "user"
    assert by_name["synthetic"]["origin"] == "user (replaces built-in)"
    assert by_name["synthetic"]["mains_hz"] == 60
    assert by_name["cyton"]["origin"] == "built-in"

    # a 4 s synthetic session lands in the per-user data folder, not in the current one
    run = ["run", "--device", "synthetic", "--protocol", "alpha-up", "--client", "newcomer"]
    proc = _run([nfb, *run, "--duration", "4"], empty, env)
    assert proc.returncode == 0, proc.stderr
    folder = Path(proc.stdout.strip().splitlines()[-1])
    store = home / ".local" / "share" / "nfb" / "sessions"
    assert folder.is_relative_to(store), folder
    meta = json.loads((folder / "session.json").read_text())
    assert meta["status"] == "stopped"  # by --duration
    assert 4 * 250 <= meta["n_samples"] < 5 * 250
    assert meta["device"]["mains_hz"] == 60  # the user's profile, recorded
    assert list(empty.iterdir()) == []

    # nfb desktop-entry points the launcher at this installation's nfb-gui
    proc = _run([nfb, "desktop-entry", "--print"], empty, env)
    assert proc.returncode == 0, proc.stderr
    apps = home / ".local" / "share" / "applications"
    assert proc.stdout.splitlines()[0] == f"# would write {apps / 'nfb.desktop'}"
    assert f'Exec="{bindir / "nfb-gui"}"' in proc.stdout
    assert not apps.exists()
    proc = _run([nfb, "desktop-entry"], empty, env)
    assert proc.returncode == 0, proc.stderr
    assert "Type=Application" in (apps / "nfb.desktop").read_text()

    # a store an older version left in ./sessions is pointed out, once, and left alone
    old = empty / "sessions" / "c-0001" / "20250101-120000-alpha-up"
    old.mkdir(parents=True)
    (old / "session.json").write_text("{}")
    proc = _run([nfb, "recover"], empty, env)
    assert proc.returncode == 0, proc.stderr
    notices = [line for line in proc.stderr.splitlines() if "older nfb versions" in line]
    assert len(notices) == 1, proc.stderr
    assert f"--sessions-dir {empty / 'sessions'}" in notices[0] and str(store) in notices[0]
    assert (old / "session.json").read_text() == "{}"
