"""StyleBank: one network per style, loaded once and shared by every stylizer made from it, with one cap on the
frames in the networks at once."""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np
import pytest

from framestyle.bank import StyleBank
from framestyle.catalog import resolve_style
from framestyle.errors import ModelError

from .tiny_models import write_invert_model

FRAME = np.full((24, 32, 3), 10, np.uint8)


@pytest.fixture()
def bank(tmp_path: Path) -> StyleBank:
    invert = resolve_style(str(write_invert_model(tmp_path / "invert.onnx")))
    return StyleBank([invert], max_concurrent=1)


def test_stylizers_share_the_one_network_but_not_their_history(bank: StyleBank) -> None:
    first, second = bank.stylizer("invert", temporal=0.8), bank.stylizer("invert", strength=0.5, temporal=0.0)
    assert first.engine is second.engine is bank.engine("invert")
    assert first.temporal is not second.temporal
    assert np.array_equal(first(FRAME), 255 - FRAME)
    assert np.allclose(second(FRAME), (FRAME.astype(int) + 245) / 2, atol=1)


def test_the_cap_holds_across_every_stylizer_of_the_bank(bank: StyleBank) -> None:
    engine = bank.engine("invert")
    run = engine._session.run
    inside, most = 0, 0
    count = threading.Lock()
    another = threading.Event()

    def watched_run(*args: object, **kwargs: object) -> object:
        nonlocal inside, most
        with count:
            inside += 1
            most = max(most, inside)
            if inside > 1:
                another.set()
        another.wait(0.2)  # each run waits here for a second one: a broken cap lets one in, a cap of 1 never does
        with count:
            inside -= 1
        return run(*args, **kwargs)

    engine._session.run = watched_run  # type: ignore[method-assign]
    stylizers = [bank.stylizer("invert", temporal=0.0) for _ in range(4)]
    threads = [threading.Thread(target=lambda s=s: [s(FRAME) for _ in range(2)]) for s in stylizers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert most == 1


def test_an_unknown_style_names_the_offered_ones(bank: StyleBank) -> None:
    with pytest.raises(ModelError, match="unknown style 'nope'; offered: invert"):
        bank.stylizer("nope")


def test_a_style_given_twice_is_refused(tmp_path: Path) -> None:
    invert = resolve_style(str(write_invert_model(tmp_path / "invert.onnx")))
    with pytest.raises(ModelError, match="given twice"):
        StyleBank([invert, invert])
