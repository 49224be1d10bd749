"""Every test sees an empty folder of user styles, never the user's own (stylize add-style writes there)."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(autouse=True)
def _user_styles(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path_factory.mktemp("user-styles")
    monkeypatch.setenv("FRAMESTYLE_STYLES_DIR", str(folder))
    return folder
