"""A real Synapse homeserver for integration tests.

Synapse is installed from PyPI into its own virtual environment, cached
between runs (``ensure_synapse_venv``), and run as a subprocess on a free
loopback port with SQLite, no federation, relaxed rate limits and
registration by shared secret (``SynapseServer``).

Only the standard library is imported here, so importing this module is
cheap; Synapse itself never enters the test process.

Wiring it into a conftest as a session-scoped fixture::

    from collections.abc import Iterator

    import pytest

    from tests.fakes.synapse import SynapseServer, synapse_fixture

    @pytest.fixture(scope="session")
    def synapse(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SynapseServer]:
        yield from synapse_fixture(tmp_path_factory)

    def test_something(synapse: SynapseServer) -> None:
        bot = synapse.register("bot", "botpass")
        ...  # AsyncClient(synapse.url, bot.user_id) ...

The first run installs Synapse (~15-30 s, needs PyPI); later runs reuse the
virtualenv. Cache location, in order of precedence: the ``cache_dir``
argument, ``$PPLBOT_TEST_CACHE``, ``$XDG_CACHE_HOME/pplbot-tests``,
``~/.cache/pplbot-tests``.
"""

from __future__ import annotations

import atexit
import base64
import contextlib
import fcntl
import hashlib
import hmac
import json
import os
import secrets
import shutil
import signal
import socket
import string
import subprocess
import sys
import time
import urllib.error
import urllib.request
import weakref
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import IO, TYPE_CHECKING, Any, Self

if TYPE_CHECKING:
    import pytest

__all__ = [
    "SYNAPSE_VERSION",
    "RegisteredUser",
    "SynapseError",
    "SynapseHTTPError",
    "SynapseServer",
    "default_cache_dir",
    "ensure_synapse_venv",
    "synapse_fixture",
]

SYNAPSE_VERSION = "1.163.2"
SERVER_NAME = "localhost"

START_TIMEOUT = 60.0
STOP_TIMEOUT = 10.0
INSTALL_TIMEOUT = 900.0

_MARKER_NAME = ".pplbot-install-complete"
_LOG_TAIL_LINES = 40

# Every rate limiter Synapse 1.163 reads (synapse/config/ratelimiting.py),
# relaxed so tests never hit HTTP 429 (nio would silently sleep and retry).
_RELAXED = "{per_second: 1000, burst_count: 1000}"
_RATE_LIMITS = f"""\
rc_message: {_RELAXED}
rc_registration: {_RELAXED}
rc_login:
  address: {_RELAXED}
  account: {_RELAXED}
  failed_attempts: {_RELAXED}
rc_joins:
  local: {_RELAXED}
  remote: {_RELAXED}
rc_joins_per_room: {_RELAXED}
rc_invites:
  per_room: {_RELAXED}
  per_user: {_RELAXED}
  per_issuer: {_RELAXED}
rc_admin_redaction: {_RELAXED}
rc_3pid_validation: {_RELAXED}
rc_key_requests: {_RELAXED}
rc_room_creation: {_RELAXED}
rc_media_create: {_RELAXED}
rc_profile: {_RELAXED}
rc_presence:
  per_user: {_RELAXED}
rc_delayed_event_mgmt: {_RELAXED}
rc_reports: {_RELAXED}
rc_user_directory: {_RELAXED}
"""


class SynapseError(RuntimeError):
    """Synapse could not be installed, started or stopped."""


class SynapseHTTPError(SynapseError):
    """A request to the homeserver answered with an HTTP error status."""

    def __init__(self, method: str, url: str, status: int, body: str) -> None:
        super().__init__(f"{method} {url} -> HTTP {status}: {body[:2000]}")
        self.method = method
        self.url = url
        self.status = status
        self.body = body

    def json(self) -> Any:
        """The error body parsed as JSON (``errcode``, ``error``, ...)."""
        return json.loads(self.body)


@dataclass(frozen=True)
class RegisteredUser:
    """A user created through the shared-secret registration API."""

    user_id: str
    access_token: str
    device_id: str
    password: str

    @property
    def localpart(self) -> str:
        return self.user_id[1:].split(":", 1)[0]


# ---------------------------------------------------------------------------
# Installation
# ---------------------------------------------------------------------------


def default_cache_dir() -> Path:
    """``$PPLBOT_TEST_CACHE``, else ``$XDG_CACHE_HOME/pplbot-tests``, else
    ``~/.cache/pplbot-tests``."""
    explicit = os.environ.get("PPLBOT_TEST_CACHE")
    if explicit:
        return Path(explicit).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME")
    base = Path(xdg).expanduser() if xdg else Path.home() / ".cache"
    return base / "pplbot-tests"


def _venv_python(venv_dir: Path) -> Path:
    return venv_dir / "bin" / "python"


def _child_env() -> dict[str, str]:
    """The environment for Synapse's interpreter: ours, minus anything that
    would make it pick up the test process's packages or stop it from caching
    bytecode in its venv (without .pyc files every start spends ~5 s compiling)."""
    env = dict(os.environ)
    for var in (
        "PYTHONPATH",
        "PYTHONHOME",
        "VIRTUAL_ENV",
        "PYTHONSTARTUP",
        "PYTHONDONTWRITEBYTECODE",
        "PYTHONPYCACHEPREFIX",
    ):
        env.pop(var, None)
    env["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"
    env["PIP_NO_INPUT"] = "1"
    return env


def _tail(path: Path, lines: int = _LOG_TAIL_LINES) -> str:
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return f"<{path} not readable>"
    return "\n".join(text.splitlines()[-lines:]) or f"<{path} is empty>"


def _run_logged(cmd: list[str], log: Path, *, cwd: Path | None = None, timeout: float) -> None:
    """Run ``cmd`` with output appended to ``log``; raise with the log tail on failure."""
    with log.open("ab") as out:
        out.write(f"\n$ {' '.join(cmd)}\n".encode())
        out.flush()
        try:
            result = subprocess.run(
                cmd,
                cwd=cwd,
                env=_child_env(),
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                timeout=timeout,
                check=False,
            )
        except subprocess.TimeoutExpired:
            raise SynapseError(
                f"{' '.join(cmd)} timed out after {timeout:.0f} s; tail of {log}:\n{_tail(log)}"
            ) from None
    if result.returncode != 0:
        raise SynapseError(f"{' '.join(cmd)} failed with exit code {result.returncode}; tail of {log}:\n{_tail(log)}")


def ensure_synapse_venv(cache_dir: Path | None = None) -> Path:
    """Install ``matrix-synapse==SYNAPSE_VERSION`` into a cached virtualenv.

    The venv lives at ``<cache_dir>/synapse-<version>``. A marker file is
    written only after a successful install, so an interrupted install is
    wiped and redone. An ``fcntl`` lock serialises parallel test processes
    (e.g. pytest-xdist workers). Returns the venv's ``python``.
    """
    cache = (cache_dir if cache_dir is not None else default_cache_dir()).expanduser()
    cache.mkdir(parents=True, exist_ok=True)
    venv_dir = cache / f"synapse-{SYNAPSE_VERSION}"
    marker = venv_dir / _MARKER_NAME
    python = _venv_python(venv_dir)

    if marker.is_file() and python.exists():  # fast path, no lock needed
        return python

    lock_path = cache / f"synapse-{SYNAPSE_VERSION}.lock"
    with lock_path.open("a") as lock:
        fcntl.flock(lock.fileno(), fcntl.LOCK_EX)
        try:
            if marker.is_file() and python.exists():  # another process finished it
                return python
            if venv_dir.exists():
                shutil.rmtree(venv_dir)  # a half-finished install
            log = cache / f"synapse-{SYNAPSE_VERSION}-install.log"
            log.write_text("", encoding="utf-8")
            _run_logged([sys.executable, "-m", "venv", str(venv_dir)], log, timeout=INSTALL_TIMEOUT)
            _run_logged(
                [
                    str(python),
                    "-m",
                    "pip",
                    "install",
                    "--quiet",
                    # Byte-compiling all ~3900 modules takes a long time on a
                    # small machine; the import check below compiles (and
                    # caches) the ~1100 that a start needs.
                    "--no-compile",
                    f"matrix-synapse=={SYNAPSE_VERSION}",
                ],
                log,
                timeout=INSTALL_TIMEOUT,
            )
            _run_logged([str(python), "-c", "import synapse.app.homeserver"], log, timeout=120)
            marker.write_text(f"matrix-synapse=={SYNAPSE_VERSION}\n", encoding="utf-8")
        finally:
            fcntl.flock(lock.fileno(), fcntl.LOCK_UN)
    return python


# ---------------------------------------------------------------------------
# The server
# ---------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


# Loopback only: never route through $http_proxy.
_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def _yaml_str(value: str | Path) -> str:
    return json.dumps(str(value))  # a JSON string is a valid YAML scalar


_RUNNING: weakref.WeakSet[SynapseServer] = weakref.WeakSet()


@atexit.register
def _stop_leftovers() -> None:
    """Don't leave a homeserver behind if the test process exits abruptly."""
    for server in list(_RUNNING):
        with contextlib.suppress(Exception):
            server.stop()


class SynapseServer:
    """One Synapse process on ``127.0.0.1`` with its files in ``workdir``.

    ``start()`` / ``stop()`` / ``restart()`` (same port, same database), or use
    it as a context manager. ``port=None`` picks a free port on first start.
    """

    def __init__(self, workdir: Path, python: Path, port: int | None = None) -> None:
        self.workdir = Path(workdir)
        self.python = Path(python)
        self._port = port
        self._pick_port = port is None  # until the first successful start
        self.registration_shared_secret = secrets.token_hex(16)
        self._macaroon_secret = secrets.token_hex(16)
        self._form_secret = secrets.token_hex(16)
        self._proc: subprocess.Popen[bytes] | None = None
        self._output: IO[bytes] | None = None

    # -- paths / properties -------------------------------------------------

    @property
    def server_name(self) -> str:
        return SERVER_NAME

    @property
    def port(self) -> int:
        if self._port is None:
            raise SynapseError("the server has no port yet; call start() first")
        return self._port

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc is not None else None

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    @property
    def config_path(self) -> Path:
        return self.workdir / "homeserver.yaml"

    @property
    def log_path(self) -> Path:
        """Synapse's own log (``log.config`` -> file handler)."""
        return self.workdir / "homeserver.log"

    @property
    def output_path(self) -> Path:
        """stdout/stderr of the Synapse process."""
        return self.workdir / "synapse.out"

    def user_id(self, localpart: str) -> str:
        return f"@{localpart}:{SERVER_NAME}"

    # -- lifecycle ----------------------------------------------------------

    def start(self, timeout: float = START_TIMEOUT) -> None:
        """Write the config, generate keys on first start, run Synapse and
        wait until ``/_matrix/client/versions`` answers."""
        if self._proc is not None:
            raise SynapseError(f"Synapse is already running (pid {self._proc.pid})")
        self.workdir.mkdir(parents=True, exist_ok=True)
        attempts = 3 if self._pick_port else 1
        for attempt in range(1, attempts + 1):
            if self._port is None:
                self._port = _free_port()
            try:
                self._start_once(timeout)
                self._pick_port = False  # restart() keeps this port
                return
            except SynapseError as exc:
                # Another process grabbed the port between probe and bind.
                if attempt < attempts and "Address already in use" in str(exc):
                    self._port = None
                    continue
                raise

    def _start_once(self, timeout: float) -> None:
        self._write_config()
        self._ensure_signing_key()
        self._output = self.output_path.open("ab")
        self._output.write(f"\n--- starting Synapse on {self.url} at {time.ctime()}\n".encode())
        self._output.flush()
        self._proc = subprocess.Popen(
            [str(self.python), "-m", "synapse.app.homeserver", "-c", str(self.config_path)],
            cwd=self.workdir,
            env=_child_env(),
            stdin=subprocess.DEVNULL,
            stdout=self._output,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # Ctrl-C in pytest must not kill it before stop()
        )
        _RUNNING.add(self)
        try:
            self._wait_ready(timeout)
        except BaseException:
            self.stop()
            raise

    def _wait_ready(self, timeout: float) -> None:
        assert self._proc is not None
        url = f"{self.url}/_matrix/client/versions"
        deadline = time.monotonic() + timeout
        while True:
            code = self._proc.poll()
            if code is not None:
                raise SynapseError(f"Synapse exited with code {code} during startup.\n{self._log_tails()}")
            try:
                with _OPENER.open(url, timeout=2) as resp:
                    if resp.status == 200:
                        return
            except (urllib.error.URLError, OSError):
                pass
            if time.monotonic() > deadline:
                raise SynapseError(f"Synapse did not answer {url} within {timeout:.0f} s.\n{self._log_tails()}")
            time.sleep(0.05)

    def stop(self) -> None:
        """SIGTERM the process we started, SIGKILL it after 10 s."""
        proc, self._proc = self._proc, None
        _RUNNING.discard(self)
        if proc is not None and proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=STOP_TIMEOUT)
        if self._output is not None:
            self._output.close()
            self._output = None

    def restart(self, timeout: float = START_TIMEOUT) -> None:
        """Stop and start again on the same port with the same database."""
        self.stop()
        self.start(timeout)

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def __repr__(self) -> str:
        return f"<SynapseServer port={self._port} pid={self.pid} workdir={self.workdir}>"

    # -- config -------------------------------------------------------------

    def _write_config(self) -> None:
        wd = self.workdir
        (wd / "media_store").mkdir(exist_ok=True)
        log_config = f"""\
version: 1
formatters:
  precise:
    format: '%(asctime)s - %(name)s - %(lineno)d - %(levelname)s - %(request)s - %(message)s'
handlers:
  file:
    class: logging.FileHandler
    formatter: precise
    filename: {_yaml_str(self.log_path)}
loggers:
  synapse.storage.SQL:
    level: WARNING
root:
  level: INFO
  handlers: [file]
disable_existing_loggers: false
"""
        homeserver = f"""\
# Generated by tests/fakes/synapse.py: loopback only, SQLite, no federation.
server_name: {_yaml_str(SERVER_NAME)}
public_baseurl: {_yaml_str(self.url + "/")}
pid_file: {_yaml_str(wd / "homeserver.pid")}
report_stats: false
listeners:
  - port: {self.port}
    bind_addresses: ["127.0.0.1"]
    type: http
    tls: false
    x_forwarded: false
    resources:
      - names: [client]
        compress: false
database:
  name: sqlite3
  args:
    database: {_yaml_str(wd / "homeserver.db")}
log_config: {_yaml_str(wd / "log.config")}
media_store_path: {_yaml_str(wd / "media_store")}
signing_key_path: {_yaml_str(wd / "signing.key")}
registration_shared_secret: {_yaml_str(self.registration_shared_secret)}
macaroon_secret_key: {_yaml_str(self._macaroon_secret)}
form_secret: {_yaml_str(self._form_secret)}
enable_registration: false
bcrypt_rounds: 4  # default 12 costs ~0.3 s per register/password login
federation_domain_whitelist: []
trusted_key_servers: []
suppress_key_server_warning: true
presence:
  enabled: false
enable_metrics: false
url_preview_enabled: false
{_RATE_LIMITS}"""
        (wd / "log.config").write_text(log_config, encoding="utf-8")
        self.config_path.write_text(homeserver, encoding="utf-8")

    def _ensure_signing_key(self) -> None:
        """Generate the server's signing key on first start.

        Same file ``--generate-keys`` writes (signedjson format:
        ``ed25519 <key id> <unpadded base64 of the 32-byte seed>``), made with
        the stdlib to save a ~1-3 s Synapse process per fresh server.
        """
        path = self.workdir / "signing.key"
        if path.exists():
            return
        key_id = "a_" + "".join(secrets.choice(string.ascii_letters) for _ in range(4))
        seed = base64.b64encode(secrets.token_bytes(32)).decode().rstrip("=")
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w", encoding="ascii") as out:
            out.write(f"ed25519 {key_id} {seed}\n")

    def _log_tails(self) -> str:
        return (
            f"--- tail of {self.output_path}:\n{_tail(self.output_path)}\n"
            f"--- tail of {self.log_path}:\n{_tail(self.log_path)}"
        )

    # -- HTTP helpers ---------------------------------------------------------

    def _request(
        self,
        method: str,
        path: str,
        token: str | None = None,
        body: dict[str, Any] | None = None,
        timeout: float = 30.0,
    ) -> dict[str, Any]:
        url = self.url + path
        headers = {"Accept": "application/json"}
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        if token is not None:
            headers["Authorization"] = f"Bearer {token}"
        req = urllib.request.Request(url, data=data, headers=headers, method=method)
        try:
            with _OPENER.open(req, timeout=timeout) as resp:
                raw = resp.read()
        except urllib.error.HTTPError as err:
            text = err.read().decode("utf-8", errors="replace")
            raise SynapseHTTPError(method, url, err.code, text) from None
        if not raw:
            return {}
        result = json.loads(raw)
        if not isinstance(result, dict):
            raise SynapseError(f"{method} {url}: expected a JSON object, got {raw[:200]!r}")
        return result

    def admin_request(
        self,
        method: str,
        path: str,
        token: str,
        body: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        """Call an admin (or any client) API path, e.g.
        ``admin_request("POST", "/_synapse/admin/v1/users/@bot:localhost/override_ratelimit",
        admin.access_token, {"messages_per_second": 0, "burst_count": 0})``.
        Raises ``SynapseHTTPError`` on an HTTP error status."""
        if not path.startswith("/"):
            path = "/" + path
        return self._request(method.upper(), path, token, body)

    def register(self, username: str, password: str, admin: bool = False) -> RegisteredUser:
        """Create a user through ``/_synapse/admin/v1/register`` (shared secret,
        HMAC-SHA1 over ``nonce\\0user\\0password\\0admin|notadmin``)."""
        path = "/_synapse/admin/v1/register"
        nonce = self._request("GET", path)["nonce"]
        mac = hmac.new(self.registration_shared_secret.encode(), digestmod=hashlib.sha1)
        mac.update(
            b"\x00".join(
                [
                    str(nonce).encode(),
                    username.encode(),
                    password.encode(),
                    b"admin" if admin else b"notadmin",
                ]
            )
        )
        resp = self._request(
            "POST",
            path,
            body={
                "nonce": nonce,
                "username": username,
                "password": password,
                "admin": admin,
                "mac": mac.hexdigest(),
            },
        )
        return RegisteredUser(
            user_id=str(resp["user_id"]),
            access_token=str(resp["access_token"]),
            device_id=str(resp["device_id"]),
            password=password,
        )


# ---------------------------------------------------------------------------
# pytest glue
# ---------------------------------------------------------------------------


def synapse_fixture(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SynapseServer]:
    """Body of a session-scoped ``synapse`` fixture (see the module docstring):
    install (cached), start on a free port in a fresh temp dir, stop at the end."""
    python = ensure_synapse_venv()
    server = SynapseServer(tmp_path_factory.mktemp("synapse"), python)
    server.start()
    try:
        yield server
    finally:
        server.stop()
