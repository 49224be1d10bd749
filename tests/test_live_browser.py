"""``stylize live`` end to end in a real Chromium with a fake camera (a Y4M clip made from the shipped sample,
each frame stamped with its number): stylized frames arrive and match the style, the page's style picker and
sliders change the output, the mixer blends two styles of a shared network and its pad four, snapshots save PNGs, a
closed tab leaves the server serving the others, a picture dropped on the page is trained into a style that appears
in the picker, and every failure (camera refused or busy, a page beyond the cap, an unknown style, the server
stopped) shows its message. Skipped, with the reason, where Debian's chromium or the playwright
package is missing (.ci/run installs both)."""

from __future__ import annotations

import base64
import json
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest

from framestyle.crossfade import DEFAULT_FADE
from framestyle.live.stamp import read_stamp, stamp_box
from framestyle.stylizer import Stylizer

from .live_browser import camera_frames, grab, launch, live_server, make_camera_clip, missing_browser, wait_for
from .tiny_models import STYLES as SHARED_STYLES
from .tiny_models import bundled_in_subprocesses, write_tiny_shared

pytestmark = pytest.mark.browser

if (_REASON := missing_browser()) is not None:
    pytest.skip(_REASON, allow_module_level=True)
pytest.importorskip("aiortc", reason="the [live] extra (aiortc) is not installed")

from playwright.sync_api import sync_playwright  # noqa: E402

STYLES = ("composition_vii", "great_wave")
STREAMING = "live.state === 'streaming' && live.remoteStamps > 5"


@pytest.fixture(scope="module")
def camera(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_camera_clip(tmp_path_factory.mktemp("camera") / "camera.y4m")


@pytest.fixture(scope="module")
def frames() -> list[np.ndarray]:
    return list(camera_frames())


@pytest.fixture(scope="module")
def playwright() -> Iterator[Any]:
    with sync_playwright() as driver:
        yield driver


@pytest.fixture(scope="module")
def browser(playwright: Any, camera: Path) -> Iterator[Any]:
    chromium = launch(playwright, camera)
    yield chromium
    chromium.close()


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    with live_server("--measure", "--temporal", "0", *(f"--style={name}" for name in STYLES)) as (_, url):
        yield url


def _status(url: str) -> dict:
    with urllib.request.urlopen(url.rstrip("/") + "/api/status", timeout=10) as response:
        return json.load(response)


def _wait_pages(url: str, count: int, timeout: float = 60) -> None:
    """Wait until the server serves ``count`` pages."""
    deadline = time.monotonic() + timeout
    while _status(url)["pages"] != count:
        assert time.monotonic() < deadline, f"the server still serves {_status(url)['pages']} pages"
        time.sleep(0.25)


def _keeps_streaming(page: Any, frames: int = 10) -> None:
    """New stylized frames keep coming to the page (at whatever rate the machine allows), and they change."""
    shown, before = page.evaluate("live.shown"), grab(page, "#remote")
    wait_for(page, f"live.shown >= {shown + frames}")
    assert not np.array_equal(grab(page, "#remote"), before) and page.evaluate("live.state") == "streaming"


def _error_against(page: Any, frames: list[np.ndarray], stylizers: dict[str, Stylizer]) -> dict[str, float]:
    """The mean difference between the shown stylized frame and the camera frame it came from, plain and
    stylized in each style (the stamp's corner left out)."""
    for _ in range(40):
        shown = grab(page, "#remote")
        counter = read_stamp(shown)
        if counter is not None and counter < len(frames):
            break
        time.sleep(0.1)
    else:
        raise AssertionError("no stamped frame on the stylized video")
    source = frames[counter]
    height, width = stamp_box(source.shape[1])
    mask = np.ones(source.shape[:2], bool)
    mask[:height, :width] = False
    candidates = {"input": source, **{name: stylizer(source) for name, stylizer in stylizers.items()}}
    return {name: float(np.abs(shown.astype(np.int16) - image.astype(np.int16))[mask].mean())
            for name, image in candidates.items()}


def _settle(page: Any, expression: str) -> None:
    wait_for(page, expression)
    time.sleep(DEFAULT_FADE)  # a new style fades in over this long
    shown = page.evaluate("live.shown")
    wait_for(page, f"live.shown > {shown + 3}")  # a few frames made with the new settings


def test_stylized_frames_arrive_match_the_style_and_follow_the_page_controls(
        browser: Any, server: str, frames: list[np.ndarray], tmp_path: Path) -> None:
    stylizers = {name: Stylizer(name, temporal=0.0) for name in STYLES}
    page = browser.new_page(accept_downloads=True)
    try:
        page.goto(server)
        wait_for(page, STREAMING)
        assert page.is_visible("#mixer")  # the bundled styles mix, through the shared network's styles
        assert page.evaluate("[document.querySelector('#remote').videoWidth, document.querySelector('#remote')"
                             ".videoHeight]") == [640, 360]
        errors = _error_against(page, frames, stylizers)
        # The default style keeps the subject, so its frames lie nearer the camera's than another style's do;
        # the video codec's own error is part of every figure.
        assert errors["composition_vii"] < 0.75 * errors["input"], errors
        assert errors["composition_vii"] < 0.6 * errors["great_wave"], errors

        page.click("#styles button[data-style='great_wave']")
        _settle(page, "live.applied && live.applied.style === 'great_wave'")
        errors = _error_against(page, frames, stylizers)
        assert errors["great_wave"] < 0.6 * errors["composition_vii"], errors
        assert "great wave" in page.inner_text("#remote-caption")

        page.fill("#strength", "0")
        page.dispatch_event("#strength", "input")
        _settle(page, "live.applied && live.applied.strength === 0")
        errors = _error_against(page, frames, stylizers)
        assert errors["input"] < 0.5 * errors["great_wave"], errors

        readout = page.inner_text("#readout")
        assert "frames/s" in readout and "glass-to-glass" in readout and " ms" in readout
        # Only the newest frame is stylized: a camera frame never comes back after a later one (the camera clip
        # starts again from its first frame when it ends: a step forward modulo its length).
        stamps = [stamp for _, _, stamp in page.evaluate("live.latencies")]
        steps = zip(stamps, stamps[1:], strict=False)
        backwards = [(a, b) for a, b in steps if (b - a) % len(frames) > len(frames) // 2]
        assert len(stamps) > 5 and not backwards, backwards

        with page.expect_download() as download:
            page.click("#snapshot")
        saved = tmp_path / download.value.suggested_filename
        download.value.save_as(saved)
        assert saved.suffix == ".png" and saved.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    finally:
        page.close()


def test_the_camera_is_sent_at_about_the_rate_the_server_stylizes(browser: Any, server: str) -> None:
    page = browser.new_page()
    try:
        page.goto(server)
        wait_for(page, STREAMING)
        # 1.5x the server's rate plus 2, between 8 and 30 frames/s; changes under 2 frames/s are left out
        rates = page.evaluate("[[4, 30], [12, 30], [12, 21], [25, 20], [40, 20], [0.5, 30]].map("
                              "([fps, now]) => sendRateFor(fps, now))")
        assert rates == [8, 20, 21, 30, 30, 8]
        # the server reporting a slow stylizer (its real reports held back meanwhile): Chrome is told to send the
        # camera at the lower rate
        asked, applied = page.evaluate("(async () => { const pace = paceCamera; paceCamera = () => {}; "
                                       "await pace(4); const asked = live.sendRate; "
                                       "const applied = sender.getParameters().encodings[0].maxFramerate; "
                                       "paceCamera = pace; return [asked, applied]; })()")
        assert asked == applied == 8
        _keeps_streaming(page)
    finally:
        page.close()


def test_a_tab_closed_mid_stream_leaves_the_server_serving_the_others(browser: Any, server: str) -> None:
    _wait_pages(server, 0)  # the page of the test before has gone
    first, second = browser.new_page(), browser.new_page()
    first.goto(server)
    second.goto(server)
    wait_for(first, STREAMING)
    wait_for(second, STREAMING)
    assert _status(server)["pages"] == 2
    first.close()  # mid-stream, no goodbye
    _keeps_streaming(second)
    _wait_pages(server, 1)  # the server frees the closed tab's place
    _keeps_streaming(second)
    third = browser.new_page()
    third.goto(server)
    wait_for(third, STREAMING)
    third.close()
    second.close()


def test_a_page_beyond_the_cap_and_an_unknown_style_get_messages(browser: Any) -> None:
    with live_server("--max-pages", "1") as (_, url):
        first, second = browser.new_page(), browser.new_page()
        first.goto(url)
        wait_for(first, STREAMING.split(" && ")[0])
        second.goto(url)
        message = wait_for(second, "live.error")
        assert "already serves 1 page" in message and "--max-pages" in message
        assert second.is_visible("#message") and "close one of them" in second.inner_text("#message")
        first.close()
        _wait_pages(url, 0)
        second.goto(url + "?style=nope")
        assert "unknown style 'nope'" in wait_for(second, "live.error")
        second.goto(url)
        wait_for(second, STREAMING.split(" && ")[0])
        second.close()


def test_the_server_stopping_mid_call_shows_a_message(playwright: Any) -> None:
    # Chromium's own camera pattern carries no frame stamp, so the readout gives its estimate
    unstamped = launch(playwright, None)
    try:
        page = unstamped.new_page()
        with live_server() as (process, url):
            page.goto(url)
            wait_for(page, "live.state === 'streaming' && live.shown > 10")
            assert "ms (estimated)" in wait_for(page, "document.querySelector('#readout').textContent.includes('≈') "
                                                "&& document.querySelector('#readout').textContent", 20)
        assert process.returncode == 0
        assert "Start it again and reload" in wait_for(page, "live.error", 30)
    finally:
        unstamped.close()


def test_a_refused_or_busy_camera_shows_what_to_do(playwright: Any, browser: Any, camera: Path) -> None:
    with live_server() as (_, url):
        strict = launch(playwright, camera, allow_camera=False)
        try:
            # without --use-fake-ui-for-media-stream a headless Chromium refuses the camera, as a user can
            page = strict.new_page()
            page.goto(url)
            assert "Camera permission was refused" in wait_for(page, "live.error")
        finally:
            strict.close()
        page = browser.new_page()
        # the error Chromium gives when another program holds the camera
        page.add_init_script("navigator.mediaDevices.getUserMedia = () => "
                             "Promise.reject(new DOMException('Could not start video source', 'NotReadableError'))")
        page.goto(url)
        assert "camera is busy" in wait_for(page, "live.error")
        page.close()


@contextmanager
def _shared_styles_page(browser: Any, tmp_path: Path, query: str = "") -> Iterator[tuple[Any, str]]:
    """A page streaming from a server that offers the tiny shared network's styles (red, green, blue), and the
    server's address."""
    cards = write_tiny_shared(tmp_path)
    with live_server("--measure", "--temporal", "0", *(f"--style={cards[name]}" for name in SHARED_STYLES)) \
            as (_, url):
        page = browser.new_page()
        try:
            page.goto(url + query)
            wait_for(page, STREAMING)
            yield page, url
        finally:
            page.close()


def _wait_mix_thumbnail(page: Any, spec: str) -> None:
    """Wait until the mixer shows the loaded thumbnail of the mix ``spec``."""
    wait_for(page, "(() => { const thumb = document.querySelector('#mix-thumb'); return !thumb.hidden && "
             "thumb.complete && thumb.naturalWidth > 0 && "
             f"decodeURIComponent(thumb.src).includes('/api/thumb/{spec}.jpg'); }})()")


def test_the_mixer_blends_two_styles_of_a_shared_network(browser: Any, tmp_path: Path) -> None:
    with _shared_styles_page(browser, tmp_path) as (page, url):
        assert page.is_visible("#mixer") and page.is_disabled("#balance")
        assert page.eval_on_selector_all("#mix-with option", "all => all.map((o) => o.value)") == [
            "", "green", "blue"]
        page.select_option("#mix-with", "blue")
        _settle(page, "live.applied && live.applied.style === 'red=0.5,blue=0.5'")
        page.focus("#balance")
        shown = page.evaluate("live.shown")
        for _ in range(20):  # from the middle to 30% blue, a step at a time, as a user's arrow key does
            page.keyboard.press("ArrowLeft")
        _settle(page, "live.applied && live.applied.style === 'red=0.7,blue=0.3'")
        assert [page["style"] for page in _status(url)["settings"]] == ["red=0.7,blue=0.3"]
        assert page.evaluate("live.shown") > shown and page.evaluate("live.state") == "streaming"
        assert "70% red + 30% blue" in page.inner_text("#remote-caption")
        _wait_mix_thumbnail(page, "red=0.7,blue=0.3")
        page.click("#styles button[data-style='green']")  # the picked style changes, the mixed one stays
        _settle(page, "live.applied && live.applied.style === 'green=0.7,blue=0.3'")


def test_a_mix_of_three_styles_is_named_in_full_and_the_mixer_replaces_it(browser: Any, tmp_path: Path) -> None:
    with _shared_styles_page(browser, tmp_path, "?style=red=0.4,green=0.3,blue=0.3") as (page, url):
        assert [page["style"] for page in _status(url)["settings"]] == ["red=0.4,green=0.3,blue=0.3"]
        assert page.is_visible("#mix-note")
        assert "40% red + 30% green + 30% blue" in page.inner_text("#mix-note")
        page.select_option("#mix-with", "blue")
        _settle(page, "live.applied && live.applied.style === 'red=0.5,blue=0.5'")
        assert not page.is_visible("#mix-note")


def test_the_pad_mixes_four_corners_by_where_the_point_is(browser: Any, tmp_path: Path) -> None:
    with _shared_styles_page(browser, tmp_path) as (page, url):
        page.select_option("#mix-with", "blue")
        page.eval_on_selector("#balance", "(slider) => { slider.value = 0.3; "
                              "slider.dispatchEvent(new Event('input')); }")
        _settle(page, "live.applied && live.applied.style === 'red=0.7,blue=0.3'")
        page.click("#pad-open")  # the pad opens on the mix shown: the point on the top edge, nothing changes
        assert page.is_visible("#pad") and not page.is_visible("#two-mix")
        assert page.input_value("#pad-1") == "blue" and page.inner_text("#pad-0") == "red"
        assert page.eval_on_selector("#pad-dot", "(dot) => [dot.style.left, dot.style.top]") == ["30%", "0%"]
        # the other corners take the other partners in turn (three styles for four corners: blue twice)
        assert [page.input_value(f"#pad-{corner}") for corner in (2, 3)] == ["green", "blue"]
        page.click("#pad")  # the middle: a quarter each corner
        _settle(page, "live.applied && live.applied.style === 'red=0.25,blue=0.5,green=0.25'")
        assert "25% red + 50% blue + 25% green" in page.inner_text("#remote-caption")
        assert page.get_attribute("#pad", "aria-valuetext") == "25% red + 50% blue + 25% green"
        page.focus("#pad")
        for _ in range(10):  # to the bottom edge with the arrow keys: the top corners' shares go
            page.keyboard.press("ArrowDown")
        _settle(page, "live.applied && live.applied.style === 'blue=0.5,green=0.5'")
        assert [entry["style"] for entry in _status(url)["settings"]] == ["blue=0.5,green=0.5"]
        _wait_mix_thumbnail(page, "blue=0.5,green=0.5")
        page.select_option("#pad-3", "green")  # a corner changed: green on both bottom corners
        _settle(page, "live.applied && live.applied.style === 'green'")
        page.click("#pad-open")  # back to two styles: the slider's mix again
        _settle(page, "live.applied && live.applied.style === 'red=0.7,blue=0.3'")
        assert page.is_visible("#two-mix") and not page.is_visible("#pad")


_DROP = """(png) => {
    const data = new DataTransfer();
    data.items.add(new File([Uint8Array.from(atob(png), (c) => c.charCodeAt(0))], "Tiny One.png", {type: "image/png"}));
    document.body.dispatchEvent(new DragEvent("drop", {dataTransfer: data, bubbles: true, cancelable: true}));
}"""


def test_a_picture_from_the_page_is_trained_into_a_style_of_the_picker(browser: Any, tmp_path: Path) -> None:
    torch = pytest.importorskip("torch")
    from framestyle.train.vgg import Vgg16

    models = tmp_path / "models"
    models.mkdir()
    write_tiny_shared(models)
    torch.manual_seed(0)
    torch.save(Vgg16().features.state_dict(), tmp_path / "vgg.pth")
    painting = tmp_path / "Water Lilies.png"
    cv2.imwrite(str(painting), np.random.default_rng(0).integers(0, 256, (80, 96, 3), dtype=np.uint8))
    tiny = base64.b64encode(cv2.imencode(".png", np.zeros((40, 300, 3), np.uint8))[1].tobytes()).decode()
    env = {"PYTHONPATH": bundled_in_subprocesses(models, tmp_path / "site")}
    with live_server("--temporal", "0", "--vgg-weights", str(tmp_path / "vgg.pth"), "--train-steps", "2",
                     env=env) as (_, url):
        page = browser.new_page()
        try:
            page.goto(url)
            wait_for(page, "live.state === 'streaming'")
            assert page.is_visible("#trainer") and page.is_hidden("#train-progress")
            page.evaluate(_DROP, tiny)  # dropped on the page: the control takes it and suggests a name
            assert page.input_value("#train-name") == "tiny_one"
            page.click("#train-start")
            assert "too small" in wait_for(page, "live.trainError")
            assert page.get_attribute("#train-status", "class") == "error"
            page.set_input_files("#train-picture", str(painting))
            page.fill("#train-name", "lilies")
            page.click("#train-start")
            wait_for(page, "!document.querySelector('#train-progress').hidden")
            assert page.is_disabled("#train-start")
            wait_for(page, "document.querySelector(\"#styles button[data-style='lilies']\")", 300)
            assert "lilies is ready" in page.inner_text("#train-status") and page.is_hidden("#train-progress")
            page.click("#styles button[data-style='lilies']")
            wait_for(page, "live.applied && live.applied.style === 'lilies'")
            assert page.is_visible("#mixer")  # a style of the shared network: it mixes with red, green and blue
            assert page.evaluate("live.state") == "streaming"
        finally:
            page.close()
