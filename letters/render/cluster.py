"""The cluster renderer: letters rendered on a Dask cluster, results in submission order.

`ClusterRenderer` has the interface of the local pool (`BatchRenderer`), so the coordinator keeps
the exactly-once logic either way: it reserves a letter, sends a pure render task (a `RenderJob`
in, a `RenderedPdf` or a `RenderFailure` out; a unique key, so never a cached result), then writes
the file and commits as results arrive. A worker that dies mid-letter only means Dask runs the
task again elsewhere; a letter that kills every worker it is given (`KilledWorker`) or gives no
result within `timeout` seconds of being next in line fails alone (its stuck worker is replaced).

Templates travel with the run, never as a path: every file under the templates folder is read
once into a bundle with its SHA-256 and installed on each worker as a worker plugin (which Dask
also gives to workers that join or restart later). The worker checks the hash and the code (the
same `letters` sources and rendering libraries as the run, so the bytes are those of the local
pool), writes the files to a private folder in its scratch space and keeps a warm `Renderer` per
thread.

`local:N` starts N single-thread worker processes that die with the run (Dask closes them when
the run's process goes away, however it goes) and leave Ctrl-C to the run; `tcp://HOST:PORT`
joins an existing scheduler. Losing the scheduler mid-batch stops the run (`ClusterLost`): the
letters reserved but not committed are rendered again when the batch is resumed.
"""

from __future__ import annotations

import contextlib
import gc
import hashlib
import os
import platform
import re
import shutil
import signal
import tempfile
import threading
import uuid
from collections import deque
from collections.abc import Iterable, Iterator
from concurrent.futures import CancelledError
from importlib.metadata import version
from pathlib import Path
from typing import Any

from distributed import Client, Future, LocalCluster, WorkerPlugin, get_worker
from distributed.comm.core import CommClosedError
from distributed.scheduler import KilledWorker
from distributed.utils import silence_logging_cmgr
from weasyprint.text.ffi import pango

import letters
from letters.errors import ExitCode, LettersError, TemplateError, UsageError, os_error_text
from letters.intake.envelope import DEFAULT_PROFILE, OutputConfig, WindowProfile
from letters.render.pool import Lifetime, Outcome, RenderFailure, RenderJob, render_job
from letters.render.renderer import STYLESHEET_NAME, Renderer

CONNECT_SECONDS = 10.0  # to reach the scheduler, for a first worker, for the scheduler to answer
CLOSE_SECONDS = 10.0  # to disconnect, or to stop a local cluster
IN_FLIGHT_PER_THREAD = 4  # letters sent ahead per worker thread: busy workers, flat memory
RETRIES = 3  # runs of a task on workers not ready (Dask also re-runs one whose worker died)
RECYCLE_AFTER = 400  # letters a worker thread renders before it builds a fresh `Renderer`
WORKER_SIDE = ("folder", "_installed", "_local")  # RenderSettings' state on a worker only
QUIET = 100  # above every logging level: Dask's log lines are never shown (the CLI reports)
LOCAL_SPEC = re.compile(r"local:([1-9][0-9]{0,3})")
HOST = r"\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?"  # [IPv6], IPv4 or a name
TCP_SPEC = re.compile(rf"tcp://({HOST}):(\d{{1,5}})")
# what the client raises when the scheduler does not answer (futures: cancelled by Dask)
SCHEDULER_GONE = (OSError, TimeoutError, CommClosedError, CancelledError)


class ClusterLost(LettersError):
    """The scheduler went away mid-batch: the run stops; it resumes on the pool or a new cluster."""

    exit_code = ExitCode.INTERRUPTED


class ClusterUnavailable(LettersError):
    """No scheduler answered, no worker joined, or the workers cannot render the run's letters."""

    exit_code = ExitCode.FATAL


def parse_cluster(spec: str) -> str:
    """`tcp://HOST:PORT` or `local:N` (N >= 1), as given; anything else is a usage error."""
    tcp = TCP_SPEC.fullmatch(spec)
    if LOCAL_SPEC.fullmatch(spec) or (tcp and 0 < int(tcp.group(2)) < 65536):
        return spec
    raise UsageError(f"--cluster: expected tcp://HOST:PORT or local:N, got {spec!r}")


def _digest(files: Iterable[tuple[str, bytes]]) -> str:
    digest = hashlib.sha256()
    for name, data in sorted(files):
        digest.update(f"{name}\0{len(data)}\0".encode() + data)
    return digest.hexdigest()


def read_templates(templates_dir: Path) -> tuple[tuple[str, bytes], ...]:
    """Every plain file under the folder by relative path; symbolic links are left out, as the
    renderer refuses them."""
    root = templates_dir.resolve()
    if not (root / STYLESHEET_NAME).is_file():
        raise TemplateError(f"{root}: no {STYLESHEET_NAME} in templates folder")
    files: list[tuple[str, bytes]] = []
    for folder, subfolders, names in os.walk(root):
        here = Path(folder)
        subfolders[:] = sorted(d for d in subfolders if not (here / d).is_symlink())
        for path in (here / name for name in sorted(names)):
            if path.is_file() and not path.is_symlink():
                name = path.relative_to(root).as_posix()
                try:
                    files.append((name, path.read_bytes()))
                except OSError as exc:
                    raise TemplateError(f"{name}: cannot be read: {os_error_text(exc)}") from None
    return tuple(files)


def render_environment() -> str:
    """What the bytes of a PDF depend on besides the templates and fonts: the `letters` sources,
    Python and the rendering libraries (a worker must match the run)."""
    package_dir = Path(letters.__file__).parent
    sources = [(p.relative_to(package_dir).as_posix(), p.read_bytes())
               for p in package_dir.rglob("*.py")]  # fmt: skip
    libraries = [f"{n} {version(n)}" for n in ("weasyprint", "pydyf", "fonttools", "jinja2")]
    pango_version = f"pango {pango.pango_version()}"
    return f"python {platform.python_version()}, {', '.join(libraries)}, {pango_version}, " + (
        f"letters sources {_digest(sources)[:12]}"
    )


class WorkerNotReady(RuntimeError):
    """A worker cannot render the run's letters (yet, or any more): Dask retries the task."""


class RenderSettings(WorkerPlugin):
    """What a worker needs to render a run's letters: the templates and the layout options."""

    def __init__(self, templates_dir: Path, profile: WindowProfile, output: OutputConfig):
        self.files = read_templates(templates_dir)
        self.digest = _digest(self.files)
        self.environment = render_environment()
        self.profile = profile
        self.output = output
        self.name = f"letters-render-{self.digest[:12]}-{uuid.uuid4().hex[:8]}"
        self.__setstate__({})

    def __getstate__(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if k not in WORKER_SIDE}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self.folder: Path | None = None
        self._installed = threading.Event()
        self._local = threading.local()

    def setup(self, worker: Any) -> None:
        """Check the templates' hash and the code, then write the templates into a folder only
        this user can read, inside the worker's scratch space (which Dask purges if it dies)."""
        try:
            if _digest(self.files) != self.digest:
                raise ValueError("the templates arrived damaged (SHA-256 mismatch)")
            here = render_environment()
            if here != self.environment:
                raise ValueError(f"the worker has {here}; the run has {self.environment}")
            scratch = getattr(worker, "local_directory", None)
            folder = Path(tempfile.mkdtemp(prefix="letters-templates-", dir=scratch))  # 0700
            for name, data in self.files:
                path = folder / name
                path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
                path.write_bytes(data)
                path.chmod(0o600)
            self.folder = folder
            # as in the local pool's workers: the long-lived renderer out of the collector's walk
            gc.collect()
            gc.freeze()
            gc.set_threshold(50_000, 20, 20)
        finally:
            self._installed.set()  # failed or not: tasks stop waiting for it

    def teardown(self, worker: Any) -> None:
        """Forget the renderers and remove the folder."""
        self._local = threading.local()
        if self.folder is not None:
            shutil.rmtree(self.folder, ignore_errors=True)
            self.folder = None

    def renderer(self) -> Renderer:
        """This thread's warm renderer, built afresh every RECYCLE_AFTER letters."""
        state = self._local
        if getattr(state, "renderer", None) is None or state.count >= RECYCLE_AFTER:
            # a task can reach a worker that is still installing the templates, or removing
            # them as it closes: then it is run again elsewhere, never a letter's failure
            if not self._installed.wait(CONNECT_SECONDS) or self.folder is None:
                raise WorkerNotReady("the run's templates are not installed on this worker")
            state.renderer, state.count = Renderer(self.folder, self.profile, self.output), 0
        state.count += 1
        renderer: Renderer = state.renderer
        return renderer


class LocalWorker(WorkerPlugin):
    """A `local:N` worker leaves the terminal's Ctrl-C to the run, which stops the cluster itself
    (otherwise each worker prints a traceback while the run is still committing a letter)."""

    name = "letters-local-worker"

    def setup(self, worker: Any) -> None:
        """Ignore SIGINT (a worker's event loop runs in its process's main thread)."""
        if threading.current_thread() is threading.main_thread():
            signal.signal(signal.SIGINT, signal.SIG_IGN)


def render_task(settings_name: str, job: RenderJob) -> Outcome:
    """On a worker: one letter with the run's templates (a failing template fails its letter)."""
    settings = get_worker().plugins.get(settings_name)
    if not isinstance(settings, RenderSettings):
        raise WorkerNotReady("the run's templates are not installed on this worker")
    try:
        return render_job(settings.renderer(), job)
    except WorkerNotReady:
        raise
    except Exception as exc:  # template code can raise anything; it is one letter's error
        if settings.folder is None:  # unless the templates were removed under it
            raise WorkerNotReady("the worker closed while rendering") from None
        return RenderFailure(f"render_error: {type(exc).__name__}: {exc}")


def _exit_soon(dask_worker: Any) -> None:
    """On a worker stuck on a letter: exit once this call has answered, if a nanny restarts it."""
    if dask_worker.nanny:
        threading.Timer(0.1, os._exit, (1,)).start()


class ClusterRenderer(Lifetime):
    """Renders many letters on a Dask cluster; results come back in submission order."""

    def __init__(
        self,
        spec: str,
        templates_dir: Path,
        profile: WindowProfile = DEFAULT_PROFILE,
        output: OutputConfig | None = None,
        timeout: float | None = None,
    ) -> None:
        output = output or OutputConfig()
        self.spec = self.address = parse_cluster(spec)
        self.timeout = float(timeout or output.render_timeout_seconds)
        self.settings = RenderSettings(templates_dir, profile, output)  # read before any start
        self.jobs = 1
        self._run = uuid.uuid4().hex[:12]
        self._sent = 0
        self._quiet = contextlib.ExitStack()
        self._cluster: LocalCluster | None = None
        self._client: Client | None = None
        try:
            self._quiet.enter_context(silence_logging_cmgr(QUIET))
            self._client = self._connect()
            self.jobs = self._install(self._client)
        except BaseException:
            self.terminate()
            raise

    def _connect(self) -> Client:
        """Start the local cluster, or reach the scheduler."""
        local = LOCAL_SPEC.fullmatch(self.spec)
        if local:
            self._cluster = LocalCluster(  # type: ignore[no-untyped-call]
                n_workers=int(local.group(1)),
                threads_per_worker=1,
                processes=True,
                host="127.0.0.1",
                # the scheduler always serves HTTP (health checks); a free local port, no dashboard
                dashboard_address="127.0.0.1:0",
                scheduler_kwargs={"dashboard": False},
                silence_logs=QUIET,
            )
            self.address = str(self._cluster.scheduler_address)
        try:
            client: Client = Client(  # type: ignore[no-untyped-call]
                self.address, timeout=CONNECT_SECONDS, set_as_default=False
            )
        except (OSError, TimeoutError):
            raise ClusterUnavailable(
                f"{self.address}: no Dask scheduler answered within {CONNECT_SECONDS:g}s"
            ) from None
        return client

    def _install(self, client: Client) -> int:
        """Wait for a worker, install the run's templates on every worker; the worker threads."""
        try:
            client.wait_for_workers(1, timeout=CONNECT_SECONDS)
        except TimeoutError:
            raise ClusterUnavailable(
                f"{self.address}: no Dask worker joined within {CONNECT_SECONDS:g}s"
            ) from None
        try:
            if self._cluster is not None:
                client.register_plugin(LocalWorker(), name=LocalWorker.name)
            client.register_plugin(self.settings, name=self.settings.name)
        except Exception as exc:  # often raised by a worker: one line of it is enough
            with contextlib.suppress(Exception):  # workers that join later must not get it
                client.unregister_worker_plugin(self.settings.name)  # type: ignore[no-untyped-call]
            first = str(exc).splitlines()[0] if str(exc) else ""
            raise ClusterUnavailable(
                f"{self.address}: a Dask worker cannot render this run's letters: "
                f"{type(exc).__name__}: {first}"
            ) from None
        return max(1, sum(client.nthreads().values()))  # type: ignore[no-untyped-call]

    def render_all(self, jobs: Iterable[RenderJob], small: bool = False) -> Iterator[Outcome]:
        """Render every job, yielding each result in order; `small` sends fewer letters ahead."""
        window = IN_FLIGHT_PER_THREAD * (1 if small else self.jobs)
        source = iter(jobs)
        in_flight: deque[Future[Outcome]] = deque()
        try:
            while True:
                while len(in_flight) < window:
                    upcoming = next(source, None)
                    if upcoming is None:
                        break
                    in_flight.append(self._submit(upcoming))
                if not in_flight:
                    return
                yield self._outcome(in_flight.popleft())
        finally:
            self._cancel(in_flight)  # the caller stopped early, or the cluster is gone

    def _submit(self, job: RenderJob) -> Future[Outcome]:
        if self._client is None or self._client.status != "running":
            raise self._lost()
        self._sent += 1
        key = f"letters-render-{self._run}-{self._sent}"  # unique: never a cached result
        try:
            return self._client.submit(
                render_task, self.settings.name, job, key=key, pure=False, retries=RETRIES
            )
        except SCHEDULER_GONE:
            raise self._lost() from None

    def _outcome(self, future: Future[Outcome]) -> Outcome:
        """A letter's result, waited for at most `timeout` seconds from when it is next in line."""
        try:
            return future.result(timeout=self.timeout)
        except KilledWorker as exc:
            return RenderFailure(
                f"render_error: the render worker died ({exc.allowed_failures + 1} workers "
                "tried this letter and each died)"
            )
        except TimeoutError:
            self._abandon(future)
            return RenderFailure(f"render_error: no result within {self.timeout:.0f}s")
        except SCHEDULER_GONE:
            raise self._lost() from None
        except Exception as exc:  # Dask could not run the task at all: that letter fails
            return RenderFailure(f"render_error: {type(exc).__name__}: {exc}")

    def _abandon(self, future: Future[Outcome]) -> None:
        """Cancel a letter that took too long and end the worker process stuck on it (a thread
        cannot be stopped; its nanny starts a fresh one). A letter that never started means the
        cluster ran nothing of this run's: the run stops rather than fail every letter."""
        client = self._client
        assert client is not None
        try:  # the scheduler's own call, not code of ours: it may not have `letters` installed
            processing = client.processing()  # type: ignore[no-untyped-call]
            stuck = [worker for worker, keys in processing.items() if future.key in keys]
            future.cancel()  # type: ignore[no-untyped-call]
            if stuck:
                client.run(_exit_soon, workers=stuck, on_error="ignore")
        except SCHEDULER_GONE:
            raise self._lost() from None
        if not stuck:
            raise ClusterLost(
                f"the Dask cluster at {self.address} started no letter within "
                f"{self.timeout:.0f}s (no worker free); run again (with --resume BATCH) on the "
                "local pool or a new cluster"
            )

    def _cancel(self, futures: Iterable[Future[Outcome]]) -> None:
        pending = [f for f in futures if not f.done()]  # type: ignore[no-untyped-call]
        if pending and self._client is not None and self._client.status == "running":
            with contextlib.suppress(Exception):
                self._client.cancel(pending)  # type: ignore[no-untyped-call]

    def _lost(self) -> ClusterLost:
        return ClusterLost(
            f"the Dask scheduler at {self.address} went away; run again (with --resume BATCH) "
            "on the local pool or a new cluster"
        )

    def close(self) -> None:
        """Take the run's templates off a remote cluster's workers, then let go of the cluster."""
        client = self._client
        if client is not None and client.status == "running" and self._cluster is None:
            with contextlib.suppress(Exception):
                client.unregister_worker_plugin(self.settings.name)  # type: ignore[no-untyped-call]
        self.terminate()

    def terminate(self) -> None:
        """Disconnect now, and stop a local cluster (its worker processes end with it)."""
        client, cluster = self._client, self._cluster
        self._client = self._cluster = None
        if client is not None:
            with contextlib.suppress(Exception):
                client.close(timeout=CLOSE_SECONDS)  # type: ignore[no-untyped-call]
        if cluster is not None:
            with contextlib.suppress(Exception):
                cluster.close(timeout=CLOSE_SECONDS)
        self._quiet.close()
