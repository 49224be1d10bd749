"""The built wheel installs one import root, carries every module and data file of the source folders (the bundled
models, their recipes, the live page), builds without a packaging warning, and its CLI runs from it; the sdist
builds the same wheel. (.ci/wheel_smoke runs the installed wheel in fresh environments on every Python claimed.)"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def tracked_files() -> list[str]:
    """The files git tracks in the checkout that are present in the working tree."""
    listing = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, text=True, check=True)
    return [name for name in listing.stdout.split("\0") if name and (ROOT / name).is_file()]


@pytest.fixture(scope="module")
def source(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the checkout's tracked files as they are in the working tree: a build there sees no stale build/
    folder and no untracked file, as a clean clone would."""
    copy = tmp_path_factory.mktemp("source")
    for name in tracked_files():
        (copy / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / name, copy / name)
    return copy


@pytest.fixture(scope="module")
def build(source: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """The wheel built from the checkout's tracked files, and what the build printed."""
    out = tmp_path_factory.mktemp("wheel")
    result = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", "-w", str(out),
                             str(source)], capture_output=True, text=True)
    if result.returncode != 0:
        pytest.fail(f"pip wheel failed: {result.stderr[-2000:]}")
    (path,) = out.glob("framestyle-*.whl")
    return path, result.stdout + result.stderr


@pytest.fixture(scope="module")
def wheel(build: tuple[Path, str]) -> Path:
    return build[0]


def test_build_prints_no_packaging_warning(build: tuple[Path, str]) -> None:
    assert "absent from the `packages` configuration" not in build[1]


#: Source folders and the names they install under (setup.py's mapping).
ROOTS = {"realtime": "framestyle", "kernels": "framestyle/kernels", "models": "framestyle/models"}
#: Tracked folders that do not ship: training checkpoints and the recipes of experiments and comparisons.
NOT_SHIPPED = ("models/training/", "models/recipes/experiments/", "models/recipes/comparisons/")


def shipped_files() -> list[str]:
    """The installed name of every tracked file in the source folders that the wheel must carry."""
    names = []
    for path in tracked_files():
        if not path.startswith(tuple(f"{root}/" for root in ROOTS)) or path.startswith(NOT_SHIPPED):
            continue
        folder, rest = path.split("/", 1)
        names.append(f"{ROOTS[folder]}/{rest}")
    return names


def test_wheel_carries_every_tracked_module_and_data_file(wheel: Path) -> None:
    names = set(zipfile.ZipFile(wheel).namelist())
    shipped = shipped_files()
    missing = [name for name in shipped if name not in names]
    assert not missing, f"missing from the wheel: {missing}"
    extra = [name for name in names if ".dist-info/" not in name and name not in shipped]
    assert not extra, f"in the wheel but not in the source folders: {extra}"
    assert not [name for name in names if "/training/" in name or "/experiments/" in name]


def test_sdist_builds_the_same_wheel(source: Path, wheel: Path, tmp_path: Path) -> None:
    subprocess.run([sys.executable, "-m", "build", "--sdist", "--no-isolation", "-o", str(tmp_path), str(source)],
                   capture_output=True, check=True)
    (sdist,) = tmp_path.glob("framestyle-*.tar.gz")
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--quiet",
                    "-w", str(tmp_path / "from_sdist"), str(sdist)], capture_output=True, check=True)
    (rebuilt,) = (tmp_path / "from_sdist").glob("framestyle-*.whl")

    def contents(path: Path) -> set[str]:
        return {n for n in zipfile.ZipFile(path).namelist() if ".dist-info/" not in n}

    assert contents(rebuilt) == contents(wheel)


def test_wheel_holds_only_the_framestyle_root_the_models_and_recipes(wheel: Path) -> None:
    names = zipfile.ZipFile(wheel).namelist()
    roots = {name.split("/")[0] for name in names if not name.split("/")[0].endswith(".dist-info")}
    assert roots == {"framestyle"}
    assert "framestyle/models/starry_night.onnx" in names
    cards = {Path(name).stem for name in names if name.startswith("framestyle/models/") and name.endswith(".json")
             and name.count("/") == 2}  # the single-style networks' cards (the shared network's are in shared/)
    recipes = {Path(name).stem for name in names if name.startswith("framestyle/models/recipes/")}
    assert "starry_night" in cards and cards <= recipes
    assert any(name.startswith("framestyle/kernels/") for name in names)
    for page_file in ("index.html", "live.js", "live.css", "thumb_source.jpg"):  # the live page ships whole
        assert f"framestyle/live/static/{page_file}" in names


def test_cli_runs_from_the_installed_wheel(wheel: Path, tmp_path: Path) -> None:
    site = tmp_path / "site"
    subprocess.run([sys.executable, "-m", "pip", "install", "--no-deps", "--quiet", "--target", str(site), str(wheel)],
                   check=True)
    env = {**os.environ, "PYTHONPATH": str(site)}
    result = subprocess.run([sys.executable, "-m", "framestyle", "styles", "--json"], cwd=tmp_path, env=env,
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "starry_night" in result.stdout
    code = ("import sys, framestyle; from framestyle.cli import build_parser; build_parser(); "
            "from framestyle.stylizer import Stylizer; print(framestyle.__file__, 'torch' in sys.modules)")
    check = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, env=env, capture_output=True, text=True)
    location, torch_loaded = check.stdout.split()
    assert location.startswith(str(site)) and torch_loaded == "False"
