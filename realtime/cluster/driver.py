"""A whole ``stylize video --ray`` job on the driver: check, plan, spread the chunks over the cluster, record them
as they finish, join, and clean up."""

from __future__ import annotations

import dataclasses
import shutil
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any, TextIO

from framestyle.catalog import resolve_style
from framestyle.errors import ClusterError, InputError, OutputError, StyleError
from framestyle.media.writer import CONTAINERS, open_writer

from .connect import check_nodes, connect
from .join import join_chunks
from .manifest import Manifest
from .plan import VideoPlan, VideoScan, auto_chunk_seconds, plan_chunks, scan_video
from .progress import ClusterProgress, FrameCounter, summary
from .task import ChunkResult, RenderSettings, chunk_path, render_chunk

#: Times Ray runs a chunk again after its worker process or node died.
TASK_RETRIES = 3
#: Seconds between two updates of the progress line.
POLL = 0.5


@dataclass(frozen=True)
class JobOptions:
    """How the job is spread: the cluster (None: a local instance), the warm-up frames before each chunk and the
    least chunk length in seconds (chunks end at the first keyframe after it; None: chosen for the cluster's
    CPUs by :func:`auto_chunk_seconds`)."""

    address: str | None
    warmup: int
    chunk_seconds: float | None = None


@dataclass(frozen=True)
class JobReport:
    """What a finished job did."""

    frames: int
    seconds: float
    scan_seconds: float
    connect_seconds: float
    join_seconds: float
    chunks: int
    resumed: int
    nodes: int
    lines: tuple[str, ...]

    @property
    def fps(self) -> float:
        """Frames per second end to end (resumed chunks included)."""
        return self.frames / self.seconds if self.seconds > 0 else 0.0


def work_folder(output: Path) -> Path:
    """The folder beside ``output`` that holds the chunk files and the manifest until the join."""
    return output.parent / f".{output.name}.stylize"


def render_video(source: Path, output: Path, settings: RenderSettings, options: JobOptions, *,
                 progress: bool, stream: TextIO | None = None) -> JobReport:
    """Render ``source`` into ``output`` on a Ray cluster; see the module's docstring. Raises a
    :class:`StyleError` with one line for any bad input, before any work is spread. Both paths are made absolute
    first: the tasks run in other folders, on other nodes."""
    stream = stream or sys.stderr
    started = time.monotonic()
    source, output = source.absolute(), output.absolute()
    if output.suffix.lower() not in CONTAINERS:
        raise OutputError(f"{output}: --ray writes video files ({', '.join(CONTAINERS)})")
    resolve_style(settings.style)
    if options.warmup < 0 or (options.chunk_seconds is not None and options.chunk_seconds <= 0):
        raise InputError("--warmup must be 0 or more and --chunk-seconds more than 0")
    scan = scan_video(source)
    _check_output(scan, output, settings)
    work = work_folder(output)
    scan_seconds = time.monotonic() - started
    ray = connect(options.address)
    connect_seconds = time.monotonic() - started - scan_seconds
    manifest: Manifest | None = None
    try:
        try:
            try:
                work.mkdir(exist_ok=True)
            except OSError as error:
                raise OutputError(f"{work}: cannot create the work folder ({error.strerror})") from error
            manifest = Manifest(work, _job_key(scan, settings, options, output.suffix))
            slots = int(ray.cluster_resources().get("CPU", 1))
            manifest.chunk_seconds = manifest.chunk_seconds or options.chunk_seconds or auto_chunk_seconds(
                scan.seconds, slots)
            plan = plan_chunks(scan, chunk_seconds=manifest.chunk_seconds, warmup=options.warmup)
            if not manifest.resumed:
                manifest.save()
            nodes = check_nodes(ray, source, work, settings.style)
            resumed = sorted(manifest.finished)
            results = _run_chunks(ray, plan, settings, work, output.suffix, manifest, progress, stream)
        finally:
            ray.shutdown()
        join_started = time.monotonic()
        joined = join_chunks([chunk_path(work, chunk, output.suffix) for chunk in plan.chunks], source, output)
        join_seconds = time.monotonic() - join_started
        if joined != plan.frames:
            output.unlink(missing_ok=True)
            raise ClusterError(f"the joined video holds {joined} frames, the input {plan.frames}")
    except StyleError as error:
        raise _settled(error, work, manifest) from error
    shutil.rmtree(work, ignore_errors=True)
    frames = {index: entry["frames"] for index, entry in manifest.finished.items()}
    return JobReport(plan.frames, time.monotonic() - started, scan_seconds, connect_seconds, join_seconds,
                     len(plan.chunks), len(resumed),
                     len(nodes), tuple(summary(results, resumed, frames)))


def _settled(error: StyleError, work: Path, manifest: Manifest | None) -> StyleError:
    """After a failed job: the work folder removed when it holds no finished chunk (nothing to resume), or the
    error with a note on the chunks kept there."""
    if manifest is None or not manifest.finished:
        shutil.rmtree(work, ignore_errors=True)
        return error
    note = (f"{len(manifest.finished)} finished chunks are kept in {work}: the same command resumes from them "
            "(remove that folder to start over)")
    return type(error)(f"{error}; {note}")


def _check_output(scan: VideoScan, output: Path, settings: RenderSettings) -> None:
    """Open (and drop) a writer for the output, so a bad name, folder or encoder option fails here."""
    writer = open_writer(output, width=scan.width, height=scan.height, time_base=scan.time_base,
                         frame_rate=scan.frame_rate, source=scan.path, crf=settings.crf, codec=settings.codec,
                         preset=settings.preset)
    writer.abort()


def _job_key(scan: VideoScan, settings: RenderSettings, options: JobOptions, suffix: str) -> dict[str, Any]:
    """Everything that shapes the chunk files (with the chunk length the manifest keeps): a manifest of another
    key is not resumed."""
    stat = scan.path.stat()
    return {"input": str(scan.path.resolve()), "input_bytes": stat.st_size, "input_mtime_ns": stat.st_mtime_ns,
            "frames": len(scan.times), "settings": dataclasses.asdict(settings), "warmup": options.warmup,
            "chunk_seconds": options.chunk_seconds, "suffix": suffix.lower()}


def _run_chunks(ray: ModuleType, plan: VideoPlan, settings: RenderSettings, work: Path, suffix: str,
                manifest: Manifest, progress: bool, stream: TextIO) -> list[ChunkResult]:
    """Submit every unfinished chunk, record each as it finishes, and show the progress; on any error or Ctrl-C
    the tasks still running are left to end with the driver's connection (cancelling them one by one can crash Ray
    2.60's driver when a task finishes meanwhile)."""
    counter = ray.remote(num_cpus=0)(FrameCounter).remote()
    task = ray.remote(num_cpus=1, max_retries=TASK_RETRIES)(_render_remote)
    plan_ref = ray.put(plan)
    todo = [chunk for chunk in plan.chunks if chunk.index not in manifest.finished]
    pending = {task.remote(plan_ref, chunk, settings, work, suffix, counter): chunk for chunk in todo}
    already = sum(entry["frames"] for entry in manifest.finished.values())
    meter = ClusterProgress(stream, plan.frames, already) if progress else None
    results: list[ChunkResult] = []
    try:
        while pending:
            ready, _ = ray.wait(list(pending), num_returns=1, timeout=POLL)  # each chunk recorded as it ends
            for ref in ready:
                chunk = pending.pop(ref)
                results.append(_result(ray, ref, chunk.index))
                manifest.record(results[-1])
            if meter:
                running = ray.get(counter.snapshot.remote())
                done = {result.index for result in results}
                rendered = sum(result.frames for result in results) + sum(
                    frames for index, frames in running.items() if index not in done)
                meter.show(rendered, len(manifest.finished), len(plan.chunks))
    except BaseException as error:  # the tasks still running end with the driver's connection (ray.shutdown)
        if meter:
            meter.end()
        if isinstance(error, KeyboardInterrupt):
            print(f"stylize video: {len(manifest.finished)} of {len(plan.chunks)} chunks are finished and kept; the "
                  "same command resumes from them", file=stream)
        raise
    if meter:
        meter.end()
    return results


def _result(ray: ModuleType, ref: Any, index: int) -> ChunkResult:
    try:
        return ray.get(ref)
    except ray.exceptions.RayTaskError as error:
        cause = error.cause
        if isinstance(cause, StyleError):
            raise cause from None
        raise ClusterError(f"chunk {index} failed: {type(cause).__name__}: {cause}") from None
    except ray.exceptions.RayError as error:
        raise ClusterError(f"chunk {index} failed after {TASK_RETRIES} retries: "
                           f"{str(error).strip().splitlines()[0]}") from None


def _render_remote(plan: VideoPlan, chunk: Any, settings: RenderSettings, work: Path, suffix: str,
                   counter: Any) -> ChunkResult:
    """The Ray task: render one chunk, reporting its frames to the driver's counter."""
    import ray

    result = render_chunk(plan, chunk, settings, work, suffix,
                          lambda index, frames: counter.report.remote(index, frames))
    node = f"{ray.util.get_node_ip_address()} {ray.get_runtime_context().get_node_id()[:8]}"
    return dataclasses.replace(result, node=node)
