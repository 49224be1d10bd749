"""The built wheel installs one import root, carries the bundled models and their recipes, builds without a packaging
warning, and its CLI runs from it."""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def build(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """The wheel built from the checkout, and what the build printed."""
    out = tmp_path_factory.mktemp("wheel")
    result = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", "-w", str(out), str(ROOT)],
                            capture_output=True, text=True)
    if result.returncode != 0:
        pytest.fail(f"pip wheel failed: {result.stderr[-2000:]}")
    (path,) = out.glob("framestyle-*.whl")
    return path, result.stdout + result.stderr


@pytest.fixture(scope="module")
def wheel(build: tuple[Path, str]) -> Path:
    return build[0]


def test_build_prints_no_packaging_warning(build: tuple[Path, str]) -> None:
    assert "absent from the `packages` configuration" not in build[1]


def test_wheel_holds_only_the_framestyle_root_the_models_and_recipes(wheel: Path) -> None:
    names = zipfile.ZipFile(wheel).namelist()
    roots = {name.split("/")[0] for name in names if not name.split("/")[0].endswith(".dist-info")}
    assert roots == {"framestyle"}
    assert "framestyle/models/starry_night.onnx" in names
    cards = {Path(name).stem for name in names if name.startswith("framestyle/models/") and name.endswith(".json")}
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
                            capture_output=True, text=True, check=True)
    assert "starry_night" in result.stdout
    code = ("import sys, framestyle; from framestyle.cli import build_parser; build_parser(); "
            "from framestyle.stylizer import Stylizer; print(framestyle.__file__, 'torch' in sys.modules)")
    check = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, env=env, capture_output=True, text=True)
    location, torch_loaded = check.stdout.split()
    assert location.startswith(str(site)) and torch_loaded == "False"
