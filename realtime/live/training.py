"""New styles from the live page: a picture sent by the page becomes a user style of the shared network, trained in
the background by a child process (``python -m framestyle add-style ... --json-progress``, at a lower priority), so
torch never loads into the server and the stream keeps its share of the CPU. One training at a time; its progress
is read from the child's JSON lines, and the finished style is handed to ``on_done`` (the server offers it)."""

from __future__ import annotations

import asyncio
import contextlib
import importlib.util
import json
import os
import re
import shutil
import signal
import sys
import tempfile
from collections.abc import Callable, Collection
from dataclasses import asdict, dataclass, field
from pathlib import Path

from framestyle.catalog import StyleModel, bundled_styles, shared_styles, user_style, user_styles_dir
from framestyle.cli.add_style import MIN_PICTURE_SIDE, NAME_PATTERN, trainable_styles
from framestyle.errors import InputError, StyleError
from framestyle.imageio import IMAGE_SUFFIXES, read_rgb

#: The largest picture the page may send.
MAX_PICTURE_BYTES = 20 * 1024 * 1024
#: Niceness of the training process: the stream's frames come first.
TRAINING_NICENESS = 10
#: Seconds a stopped training has to write its checkpoint before it is killed.
STOP_SECONDS = 15.0
_ERROR_PREFIX = "stylize add-style: error: "


@dataclass
class TrainingOptions:
    """How the page's trainings run (no VGG weights: the feature is off)."""

    vgg_weights: Path | None = None
    minutes: float = 15.0
    steps: int = 1500


@dataclass
class Progress:
    """The current (or last) training: ``state`` is idle, running, done or failed (with a one-line ``error``)."""

    state: str = "idle"
    name: str = ""
    step: int = 0
    steps: int = 0
    seconds_left: float | None = None
    losses: dict[str, float] = field(default_factory=dict)
    error: str = ""


def unavailable_reason(options: TrainingOptions) -> str:
    """Why the page cannot train new styles here ("" when it can)."""
    if options.vgg_weights is None:
        return "training new styles is off: start stylize live with --vgg-weights FILE"
    if importlib.util.find_spec("torch") is None:
        return "training new styles needs the [train] extra (torch is missing): pip install 'framestyle[train]'"
    if not trainable_styles():
        return "this installation has no shared network to add a style to"
    return ""


class Trainer:
    """One training at a time in a child process; ``on_done`` gets the finished style, ``report`` one line per
    event."""

    def __init__(self, options: TrainingOptions, on_done: Callable[[StyleModel], None],
                 report: Callable[[str], None]) -> None:
        self.options = options
        self.reason = unavailable_reason(options)
        self.on_done = on_done
        self.report = report
        self.progress = Progress()
        if options.vgg_weights is not None and self.reason:
            report(self.reason)
        self._process: asyncio.subprocess.Process | None = None
        self._watcher: asyncio.Future | None = None

    @property
    def busy(self) -> bool:
        """Whether a training runs (or is being started)."""
        return self.progress.state == "running"

    def refusal(self) -> tuple[int, str] | None:
        """The HTTP status and message refusing a new training now, or None when one can start."""
        if self.reason:
            return 503, self.reason
        if self.busy:
            return 409, (f"the style {self.progress.name!r} is being trained (one at a time); wait until it is "
                         "done")
        return None

    def status(self) -> dict:
        """Whether training is possible, and the current or last training's progress."""
        return {"available": not self.reason, "reason": self.reason, "minutes": self.options.minutes,
                "max_bytes": MAX_PICTURE_BYTES, **asdict(self.progress)}

    async def start(self, name: str, picture: bytes, filename: str, offered: Collection[str]) -> None:
        """Check the name and picture (a ``StyleError`` otherwise) and start training; returns once it runs."""
        refused = self.refusal()
        if refused is not None:
            raise StyleError(refused[1])
        # running from here on, so a second request is refused while this one is checked
        previous, self.progress = self.progress, Progress(state="running", name=name, steps=self.options.steps)
        try:
            path = await asyncio.get_running_loop().run_in_executor(
                None, _prepare, name, picture, filename, set(offered))
            self._process = await self._spawn(path, name)
        except BaseException:
            self.progress = previous
            raise
        self._watcher = asyncio.ensure_future(self._watch(self._process, path.parent, name))
        self.report(f"training the style {name!r} from the page's picture ({self.options.minutes:g} min at most)")

    async def _spawn(self, picture: Path, name: str) -> asyncio.subprocess.Process:
        command = [sys.executable, "-m", "framestyle", "add-style", str(picture), "--name", name,
                   "--vgg-weights", str(self.options.vgg_weights), "--minutes", str(self.options.minutes),
                   "--steps", str(self.options.steps), "--json-progress"]
        process = await asyncio.create_subprocess_exec(
            *command, stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE, start_new_session=True)  # the terminal's Ctrl-C goes to the server
        if hasattr(os, "setpriority"):
            with contextlib.suppress(OSError):
                os.setpriority(os.PRIO_PROCESS, process.pid, TRAINING_NICENESS)
        return process

    async def _watch(self, process: asyncio.subprocess.Process, folder: Path, name: str) -> None:
        """Follow the child's progress lines until it ends; then offer the style, or keep the reason it failed."""
        errors = asyncio.ensure_future(process.stderr.read())  # type: ignore[union-attr]
        try:
            async for line in process.stdout:  # type: ignore[union-attr]
                self._update(line)
            code = await process.wait()
            self._finish(name, code, (await errors).decode(errors="replace"))
        finally:
            shutil.rmtree(folder, ignore_errors=True)
            if self.busy:  # not finished: cancelled
                self.progress.state, self.progress.error = "failed", "training stopped"

    def _update(self, line: bytes) -> None:
        """One line of the child's output: a progress line updates the progress, anything else is ignored."""
        with contextlib.suppress(ValueError, TypeError, KeyError):
            step = json.loads(line)
            self.progress.step, self.progress.steps = int(step["step"]), int(step["steps"])
            self.progress.seconds_left, self.progress.losses = float(step["seconds_left"]), dict(step["losses"])

    def _finish(self, name: str, code: int, errors: str) -> None:
        """Offer the trained style, or keep the last line the child wrote as the reason it failed."""
        progress = self.progress
        if code == 0:
            try:
                self.on_done(user_style(user_styles_dir() / f"{name}.json"))
            except StyleError as error:
                errors = str(error)
            else:
                progress.state, progress.seconds_left = "done", 0.0
                self.report(f"the style {name!r} is trained and offered")
                return
        lines = [line.strip() for line in errors.splitlines() if line.strip()]
        progress.state = "failed"
        progress.error = lines[-1].removeprefix(_ERROR_PREFIX) if lines else f"training stopped (exit status {code})"
        self.report(f"training the style {name!r} failed: {progress.error}")

    async def stop(self) -> None:
        """Stop a running training as Ctrl-C does (it keeps a checkpoint: the same name continues from it later)."""
        process, watcher = self._process, self._watcher
        if process is None or watcher is None or process.returncode is not None:
            return
        process.send_signal(signal.SIGINT if os.name == "posix" else signal.SIGTERM)
        try:
            await asyncio.wait_for(asyncio.shield(watcher), STOP_SECONDS)
        except asyncio.TimeoutError:
            process.kill()
            await watcher


def _prepare(name: str, picture: bytes, filename: str, offered: set[str]) -> Path:
    """Refuse a bad name or picture; the picture saved alone in a new folder, for the training to read."""
    check_name(name, offered)
    if len(picture) > MAX_PICTURE_BYTES:
        raise InputError(f"the picture is larger than {MAX_PICTURE_BYTES // 2**20} MB")
    folder = Path(tempfile.mkdtemp(prefix="framestyle-picture-"))
    path = folder / _picture_name(filename, name)
    path.write_bytes(picture)
    try:
        check_picture(path)
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        raise
    return path


def check_name(name: str, offered: Collection[str]) -> None:
    """Refuse a name add-style would refuse, or one this server offers already."""
    if not NAME_PATTERN.fullmatch(name):
        raise InputError(f"the name {name!r} is not usable: use lower case letters, digits, _ and - (at most 64)")
    if name in offered or name in {style.name for style in [*bundled_styles(), *shared_styles()]}:
        raise InputError(f"{name!r} is the name of a style already offered or bundled; choose another name")
    if (user_styles_dir() / f"{name}.json").exists():
        raise InputError(f"a user style {name!r} exists already; choose another name")


def check_picture(path: Path) -> None:
    """Refuse a file that is not a picture, or is too small to learn a style from."""
    try:
        image = read_rgb(path)
    except InputError:
        raise InputError("the file is not a picture this server can read (JPEG, PNG, WebP, BMP or TIFF)") from None
    if min(image.shape[:2]) < MIN_PICTURE_SIDE:
        raise InputError(f"the picture is {image.shape[1]}x{image.shape[0]}: too small to learn a style from "
                         f"(at least {MIN_PICTURE_SIDE} px a side)")


def _picture_name(filename: str, name: str) -> str:
    """The uploaded file's own name when it is a plain picture name (the card records it), else NAME.png."""
    base = Path(filename.replace("\\", "/")).name
    plain = re.fullmatch(r"[\w .()-]{1,100}", base) and Path(base).suffix.lower() in IMAGE_SUFFIXES
    return base if plain else f"{name}.png"
