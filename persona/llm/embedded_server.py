"""llama.cpp's own OpenAI-compatible server, run in a supervised child process.

`xllamacpp` embeds llama.cpp's `llama-server`. Its native threads die only with the
process (SIGKILL / `os._exit`), so the server lives in a child started as
`python -m persona.llm.embedded_server ...` in its own process group; the parent stops it
with SIGTERM then SIGKILL and a supervisor thread restarts it (with backoff) if it dies.

Wire protocol between parent and child, kept tiny:
- parent -> child stdin: one line, the API key the server must require;
- child -> parent stdout: one JSON line `{"event": "ready", "url": ...}` once listening;
- child stderr: llama.cpp's log, forwarded line by line to the `persona.llm.server` logger.
"""

from __future__ import annotations

import argparse
import atexit
import collections
import contextlib
import json
import logging
import os
import queue
import re
import secrets
import signal
import subprocess
import sys
import threading
import time
import weakref
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import IO, NoReturn

import httpx

from persona.llm.errors import EmbeddedServerError, ModelFileNotFoundError

log = logging.getLogger(__name__)
server_log = logging.getLogger("persona.llm.server")

_GGUF_MAGIC = b"GGUF"
_STOP_GRACE_S = 3.0
_STABLE_RUN_S = 60.0  # a child that ran this long resets the restart backoff
_LOG_LINE = re.compile(r"^\S+ ([DIWE]) (.*)$")
_LOG_LEVELS = {"E": logging.ERROR, "W": logging.WARNING}
# llama.cpp warnings that are expected with our model and usage: logged at debug level.
_BENIGN = (
    "control-looking token",
    "need to evaluate at least 1 token",
    "n_past was set to",
    # LoRA tensors cannot use the repacked CPU layout of the base: llama.cpp falls back, fine.
    "cannot use buft 'CPU_REPACK'",
    # We turn the RAM prompt cache off when adapters are loaded (it ignores the adapter).
    "--cache-idle-slots requires --cache-ram",
)


@dataclass(frozen=True, slots=True)
class EmbeddedServerConfig:
    model_path: Path
    n_ctx: int = 4096  # context per slot; the KV cache holds n_ctx * parallel tokens
    threads: int = 1
    port: int = 0  # 0: the child binds a free port, kept across restarts
    host: str = "127.0.0.1"
    parallel: int = 1
    startup_timeout_s: float = 60.0
    lora_path: Path | None = None  # one GGUF LoRA applied to every request at scale 1
    # GGUF LoRA files loaded at scale 0; a request picks adapters and scales with llama.cpp's
    # `lora` body field ([{"id": position here, "scale": 1.0}], see persona.llm.lora).
    lora_adapters: tuple[Path, ...] = ()
    model_alias: str = "local"  # the name /v1/models reports and requests may use
    # Reuse cached KV chunks of at least this many tokens even after the prompts diverge
    # (KV shifting); the plain common-prefix reuse (cache_prompt) is always on.
    cache_reuse: int = 256
    api_key: str | None = None  # None: a random key per server, see EmbeddedLlamaServer.api_key
    # Speculative decoding: a small GGUF with the same vocabulary drafts tokens that the model
    # verifies in one batch (llama.cpp's --model-draft, --draft-max, --draft-min,
    # --draft-p-min). Replies are the model's own; only the speed changes.
    draft_model_path: Path | None = None
    draft_max: int = 8  # tokens drafted per step at most
    draft_min: int = 0  # draft at least this many tokens, else none
    draft_p_min: float = 0.5  # stop drafting when the draft's top token is less likely
    supervise: bool = True
    max_backoff_s: float = 30.0


class EmbeddedLlamaServer:
    """Start, supervise and stop one llama.cpp server child. Use as a context manager."""

    def __init__(self, config: EmbeddedServerConfig) -> None:
        self.config = config
        self.api_key = config.api_key or secrets.token_urlsafe(24)
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._proc: subprocess.Popen[bytes] | None = None
        self._root_url: str | None = None
        self._port = config.port
        self._supervisor: threading.Thread | None = None
        self._stderr_tail: collections.deque[str] = collections.deque(maxlen=30)
        self.restarts = 0

    # -- public API -----------------------------------------------------------------------

    def start(self) -> str:
        """Start the child, wait until it serves, and return the OpenAI base URL (…/v1)."""
        if self._root_url is not None:
            return self.base_url
        _check_model_file(self.config.model_path)
        if self.config.draft_model_path is not None:
            _check_model_file(self.config.draft_model_path)
        _check_adapter_files(self.config)
        self._stopping.clear()
        proc = self._launch()
        try:
            self._root_url = self._await_ready(proc)
        except BaseException:
            _terminate(proc)
            raise
        log.info("embedded llama server ready", extra={"url": self._root_url, "pid": proc.pid})
        if self.config.lora_adapters:
            try:
                self._check_loaded_adapters()
            except BaseException:
                self.stop()
                raise
        if self.config.supervise:
            self._supervisor = threading.Thread(
                target=self._supervise, name="llama-supervisor", daemon=True
            )
            self._supervisor.start()
        _live_servers.add(self)
        return self.base_url

    def stop(self) -> None:
        """Stop the child (SIGTERM, then SIGKILL after a grace period) and reap it."""
        with self._lock:
            self._stopping.set()
            proc = self._proc
        if proc is not None:
            _terminate(proc)
        if self._supervisor is not None and self._supervisor is not threading.current_thread():
            self._supervisor.join(timeout=_STOP_GRACE_S + 5)
        self._supervisor = None
        self._root_url = None
        self._port = self.config.port
        _live_servers.discard(self)

    @property
    def base_url(self) -> str:
        """OpenAI-compatible base URL, e.g. http://127.0.0.1:PORT/v1."""
        return f"{self.root_url}/v1"

    @property
    def root_url(self) -> str:
        if self._root_url is None:
            raise EmbeddedServerError("the embedded llama server is not running: call start()")
        return self._root_url

    @property
    def port(self) -> int:
        """The port the child listens on (kept across supervised restarts)."""
        return self._port

    @property
    def pid(self) -> int | None:
        proc = self._proc
        return proc.pid if proc is not None and proc.poll() is None else None

    def is_healthy(self, timeout_s: float = 2.0) -> bool:
        """True when the server answers /health with status ok (model loaded)."""
        if self._root_url is None:
            return False
        try:
            response = httpx.get(f"{self._root_url}/health", timeout=timeout_s)
        except httpx.HTTPError:
            return False
        return response.status_code == 200

    def metrics(self, timeout_s: float = 5.0) -> dict[str, float]:
        """llama.cpp's Prometheus counters, e.g. `llamacpp:prompt_tokens_cached_total`."""
        response = httpx.get(
            f"{self.root_url}/metrics",
            headers={"Authorization": f"Bearer {self.api_key}"},
            timeout=timeout_s,
        )
        response.raise_for_status()
        return parse_prometheus(response.text)

    def loaded_adapters(self, timeout_s: float = 5.0) -> list[dict[str, object]]:
        """llama.cpp's `GET /lora-adapters`: id, path and global scale of each adapter."""
        response = httpx.get(
            f"{self.root_url}/lora-adapters",
            headers={"Authorization": f"Bearer {self.api_key}"},
            timeout=timeout_s,
        )
        response.raise_for_status()
        return list(response.json())

    def _check_loaded_adapters(self) -> None:
        # Requests address adapters by position: make sure the server's ids are ours.
        loaded = {int(a["id"]): str(a["path"]) for a in self.loaded_adapters()}  # type: ignore[call-overload]
        expected = {i: str(p) for i, p in enumerate(self.config.lora_adapters)}
        if loaded != expected:
            raise EmbeddedServerError(
                f"the embedded llama server loaded adapters {loaded}, expected {expected}: "
                "check the adapter files"
            )

    def __enter__(self) -> EmbeddedLlamaServer:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # -- child lifecycle ------------------------------------------------------------------

    def _command(self) -> list[str]:
        cfg = self.config
        cmd = [
            sys.executable,
            "-m",
            "persona.llm.embedded_server",
            "--model",
            str(cfg.model_path),
            "--host",
            cfg.host,
            "--port",
            str(self._port),
            "--ctx",
            str(cfg.n_ctx),
            "--threads",
            str(cfg.threads),
            "--parallel",
            str(cfg.parallel),
            "--alias",
            cfg.model_alias,
            "--cache-reuse",
            str(cfg.cache_reuse),
            "--parent-pid",
            str(os.getpid()),
        ]
        if cfg.lora_path is not None:
            cmd += ["--lora", str(cfg.lora_path)]
        for adapter in cfg.lora_adapters:
            cmd += ["--lora-adapter", str(adapter)]
        if cfg.draft_model_path is not None:
            cmd += [
                "--draft-model",
                str(cfg.draft_model_path),
                "--draft-max",
                str(cfg.draft_max),
                "--draft-min",
                str(cfg.draft_min),
                "--draft-p-min",
                str(cfg.draft_p_min),
            ]
        return cmd

    def _launch(self) -> subprocess.Popen[bytes]:
        with self._lock:
            if self._stopping.is_set():
                raise EmbeddedServerError("the embedded llama server is stopping")
            env = dict(os.environ)
            # The child imports this module even when the project is not pip-installed.
            project_root = str(Path(__file__).resolve().parents[2])
            env["PYTHONPATH"] = os.pathsep.join(
                p for p in (project_root, env.get("PYTHONPATH", "")) if p
            )
            proc = subprocess.Popen(
                self._command(),
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                start_new_session=True,  # own process group: signals reach only the child
                close_fds=True,
                env=env,
            )
            self._proc = proc
        assert proc.stdin is not None
        proc.stdin.write(self.api_key.encode() + b"\n")
        proc.stdin.close()
        threading.Thread(
            target=_pump_stderr,
            args=(proc.stderr, self._stderr_tail),
            name=f"llama-log-{proc.pid}",
            daemon=True,
        ).start()
        return proc

    def _await_ready(self, proc: subprocess.Popen[bytes]) -> str:
        deadline = time.monotonic() + self.config.startup_timeout_s
        lines: queue.Queue[bytes] = queue.Queue()
        assert proc.stdout is not None
        threading.Thread(
            target=_pump_stdout, args=(proc.stdout, lines), name="llama-ready", daemon=True
        ).start()
        url: str | None = None
        while url is None:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise EmbeddedServerError(
                    f"the embedded llama server did not start within "
                    f"{self.config.startup_timeout_s:.0f} s: raise startup_timeout_s or check "
                    f"the model file.{self._tail_text()}"
                )
            try:
                line = lines.get(timeout=min(remaining, 0.5))
            except queue.Empty:
                if proc.poll() is not None:
                    self._raise_exited(proc)
                continue
            if not line:  # EOF: the child closed stdout, i.e. it died
                proc.wait(timeout=_STOP_GRACE_S)
                self._raise_exited(proc)
            with contextlib.suppress(ValueError):
                event = json.loads(line)
                if event.get("event") == "ready":
                    url = str(event["url"]).rstrip("/")
        self._port = int(url.rsplit(":", 1)[1])
        while not _health_ok(url):
            if proc.poll() is not None:
                self._raise_exited(proc)
            if time.monotonic() > deadline:
                raise EmbeddedServerError(f"the embedded llama server at {url} never got healthy")
            time.sleep(0.1)
        return url

    def _raise_exited(self, proc: subprocess.Popen[bytes]) -> NoReturn:
        time.sleep(0.1)  # let the stderr pump catch the last lines
        raise EmbeddedServerError(
            f"the embedded llama server exited with code {proc.returncode} while starting: "
            f"check the model file {self.config.model_path} and n_ctx.{self._tail_text()}"
        )

    def _tail_text(self) -> str:
        tail = list(self._stderr_tail)[-8:]
        return ("\nlast server log lines:\n" + "\n".join(tail)) if tail else ""

    def _supervise(self) -> None:
        backoff = 0.5
        proc = self._proc
        started = time.monotonic()
        while proc is not None:
            code = proc.wait()
            if self._stopping.is_set():
                return
            if time.monotonic() - started > _STABLE_RUN_S:
                backoff = 0.5
            log.warning(
                "embedded llama server died, restarting",
                extra={"pid": proc.pid, "code": code, "backoff_s": backoff},
            )
            while True:
                if self._stopping.wait(backoff):
                    return
                backoff = min(backoff * 2, self.config.max_backoff_s)
                try:
                    proc = self._launch()
                    started = time.monotonic()
                    self._await_ready(proc)
                except EmbeddedServerError as exc:
                    if self._stopping.is_set():
                        return
                    log.error(
                        "embedded llama server restart failed",
                        extra={"error": str(exc).splitlines()[0], "backoff_s": backoff},
                    )
                    _terminate(proc)
                    continue
                self.restarts += 1
                log.info(
                    "embedded llama server restarted",
                    extra={"pid": proc.pid, "restarts": self.restarts},
                )
                break


def parse_prometheus(text: str) -> dict[str, float]:
    """Parse Prometheus text exposition (unlabelled samples only, as llama.cpp emits)."""
    values: dict[str, float] = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        name, _, value = line.rpartition(" ")
        with contextlib.suppress(ValueError):
            values[name.strip()] = float(value)
    return values


def _check_model_file(path: Path) -> None:
    if not path.is_file():
        raise ModelFileNotFoundError(
            f"model file {path} not found: set the model path to an existing GGUF file "
            "(PERSONA_LLM_MODEL_PATH), or leave it unset to use the packaged Qwen2.5 0.5B"
        )
    with path.open("rb") as fh:
        magic = fh.read(4)
    if magic != _GGUF_MAGIC:
        raise ModelFileNotFoundError(
            f"model file {path} is not a GGUF file (llama.cpp needs GGUF): convert the "
            "checkpoint with llama.cpp's convert_hf_to_gguf.py, or use the openai backend"
        )


def _check_adapter_files(config: EmbeddedServerConfig) -> None:
    if config.lora_path is not None and config.lora_adapters:
        raise EmbeddedServerError(
            "lora_path (one adapter for every request) and lora_adapters (chosen per "
            "request) exclude each other: list the adapter in lora_adapters instead"
        )
    for adapter in (config.lora_path, *config.lora_adapters):
        if adapter is None:
            continue
        if not adapter.is_file():
            raise ModelFileNotFoundError(
                f"LoRA adapter {adapter} not found: point at a GGUF LoRA file (convert a PEFT "
                "adapter with `python -m persona.tune.gguf_lora ADAPTER_DIR OUT.gguf --base "
                "MODEL.gguf`)"
            )
        with adapter.open("rb") as fh:
            if fh.read(4) != _GGUF_MAGIC:
                raise ModelFileNotFoundError(
                    f"LoRA adapter {adapter} is not a GGUF file: convert the PEFT folder with "
                    "`python -m persona.tune.gguf_lora ADAPTER_DIR OUT.gguf --base MODEL.gguf`"
                )


def _health_ok(root_url: str) -> bool:
    try:
        return httpx.get(f"{root_url}/health", timeout=2.0).status_code == 200
    except httpx.HTTPError:
        return False


def _terminate(proc: subprocess.Popen[bytes]) -> None:
    """SIGTERM the child's process group, SIGKILL it after a grace period, then reap."""
    if proc.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=_STOP_GRACE_S)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()  # reap: no zombie
    for stream in (proc.stdout, proc.stderr):
        if stream is not None:
            with contextlib.suppress(OSError):
                stream.close()


def _pump_stdout(stream: IO[bytes], lines: queue.Queue[bytes]) -> None:
    with contextlib.suppress(OSError, ValueError):
        for line in iter(stream.readline, b""):
            lines.put(line)
    lines.put(b"")


def _pump_stderr(stream: IO[bytes] | None, tail: collections.deque[str]) -> None:
    if stream is None:
        return
    with contextlib.suppress(OSError, ValueError):
        for raw in iter(stream.readline, b""):
            line = raw.decode("utf-8", "replace").rstrip()
            if not line:
                continue
            tail.append(line)
            match = _LOG_LINE.match(line)
            level = _LOG_LEVELS.get(match.group(1), logging.DEBUG) if match else logging.INFO
            if any(text in line for text in _BENIGN):
                level = logging.DEBUG
            server_log.log(level, match.group(2) if match else line)


# Servers still running at interpreter exit are stopped, so no child outlives the app.
_live_servers: weakref.WeakSet[EmbeddedLlamaServer] = weakref.WeakSet()


@atexit.register
def _stop_live_servers() -> None:
    for server in list(_live_servers):
        with contextlib.suppress(Exception):
            server.stop()


# -- the child process ---------------------------------------------------------------------


def _parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="Run llama.cpp's server (internal helper).")
    parser.add_argument("--model", type=Path, required=True)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--ctx", type=int, default=4096)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--parallel", type=int, default=1)
    parser.add_argument("--alias", default="local")
    parser.add_argument("--cache-reuse", type=int, default=256)
    parser.add_argument("--lora", type=Path, default=None)
    parser.add_argument("--lora-adapter", type=Path, action="append", default=[])
    parser.add_argument("--draft-model", type=Path, default=None)
    parser.add_argument("--draft-max", type=int, default=8)
    parser.add_argument("--draft-min", type=int, default=0)
    parser.add_argument("--draft-p-min", type=float, default=0.5)
    parser.add_argument("--parent-pid", type=int, default=None)
    parser.add_argument("--verbosity", type=int, default=3)
    return parser.parse_args(argv)


def _watch_parent(parent_pid: int) -> None:
    # If the parent dies without stopping us, we are re-parented: exit instead of leaking.
    while os.getppid() == parent_pid:
        time.sleep(1.0)
    os._exit(0)


def _set_draft(params: object, args: argparse.Namespace, xllamacpp: object) -> None:
    """llama.cpp's `--model-draft` with its draft-size knobs, on the draft's own threads."""
    spec = params.speculative  # type: ignore[attr-defined]
    spec.types = [xllamacpp.common_speculative_type.COMMON_SPECULATIVE_TYPE_DRAFT_SIMPLE]  # type: ignore[attr-defined]
    draft = spec.draft
    draft.mparams.path = str(args.draft_model)
    draft.n_max = args.draft_max
    draft.n_min = args.draft_min
    draft.p_min = args.draft_p_min
    draft.cpuparams.n_threads = args.threads
    draft.cpuparams_batch.n_threads = args.threads


def main(argv: list[str] | None = None) -> None:
    args = _parse_args(argv)
    api_key = sys.stdin.readline().strip()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: os._exit(0))
    if args.parent_pid:
        threading.Thread(target=_watch_parent, args=(args.parent_pid,), daemon=True).start()

    import xllamacpp  # heavy native module: only the child loads it

    params = xllamacpp.CommonParams()
    params.model.path = str(args.model)
    params.model_alias = {args.alias}
    params.n_ctx = args.ctx * args.parallel
    params.n_parallel = args.parallel
    params.cpuparams.n_threads = args.threads
    params.cpuparams_batch.n_threads = args.threads
    params.hostnames = [args.host]
    params.port = args.port
    params.use_jinja = True
    params.cache_prompt = True
    params.n_cache_reuse = args.cache_reuse
    params.endpoint_metrics = True
    params.endpoint_slots = False  # /slots would expose fans' prompts
    params.ui = False
    params.verbosity = args.verbosity
    if api_key:
        params.api_keys = [api_key]
    if args.lora is not None:
        params.lora_adapters = [xllamacpp.CommonAdapterLoraInfo(str(args.lora), 1.0)]
    elif args.lora_adapter:
        # Scale 0 at start, so a request without a `lora` field gets the base model.
        params.lora_adapters = [
            xllamacpp.CommonAdapterLoraInfo(str(path), 0.0) for path in args.lora_adapter
        ]
        params.lora_init_without_apply = True
        # The RAM prompt cache restores KV by tokens alone, whatever adapter computed it.
        params.cache_ram_mib = 0
    if args.draft_model is not None:
        _set_draft(params, args, xllamacpp)
    try:
        server = xllamacpp.Server(params)
    except RuntimeError as exc:
        print(f"llama server failed to start: {exc}", file=sys.stderr, flush=True)
        os._exit(2)
    print(json.dumps({"event": "ready", "url": server.listening_address}), flush=True)
    while True:  # the HTTP server runs on native threads; signals end us via os._exit
        time.sleep(3600)


if __name__ == "__main__":
    main()
