"""Shared fixtures for the emulator's tests: one real emulator (real TLS on loopback) per test session.

Fixtures (stable interface, used by the token-service, Graph and Defender tests):

``emulator`` (session)
    An :class:`EmulatorHandle`: ``.endpoints`` (the endpoints-file dict), ``.state`` (the live
    ``EmulatorState``), ``.server`` (the ``EmulatorServer``), ``.ca_path``, ``.base_url``, ``.proxy_url``,
    ``.control_url``, ``.request_log_path``, ``.url(path)``, ``.tenant(i=0)`` (``endpoints["tenants"][i]``),
    ``.session()`` (a new ``requests.Session`` trusting the CA, ``trust_env=False``), ``.proxied_session()``
    (same, through the CONNECT proxy, for real Microsoft URLs), ``.control(method, path, json=None, **kw)``
    (a request to ``/_emulator/<path>``, returns the ``requests.Response``), ``.stats()``, ``.set_faults(**faults)``
    (PATCH), ``.set_config(**values)`` (PATCH), ``.log(n=100)``, ``.reset()``.
``fresh_emulator`` (function)
    Resets the emulator (start-up fixture, no faults, start-up config, zero stats, empty log) before the test
    and yields the same handle. Use it as a parameter, or ``pytestmark = pytest.mark.usefixtures(
    "fresh_emulator")`` in a module.
``emulator_factory`` (function)
    ``emulator_factory(fixture=None, config=None, **server_kwargs)`` starts an extra, private emulator (own
    ports and state directory; e.g. another start-up config, ``persist=``) and returns its handle; every one
    is stopped when the test ends. Costs about 0.2 s: prefer ``emulator`` + ``set_config`` when that is enough.
``requests_session`` (function)
    A ``requests.Session`` with ``verify=<ca.pem>`` and ``trust_env=False`` (environment proxies and
    ``REQUESTS_CA_BUNDLE`` ignored).
``proxied_session`` (function)
    The same, with ``proxies={"https": proxy_url}``: ``https://graph.microsoft.com/...`` reaches the emulator.
"""

from __future__ import annotations

import pytest
import requests

from mtp_emulator.server import EmulatorServer
from mtp_emulator.state import EmulatorConfig

CONTROL_TIMEOUT = 30


class EmulatorHandle:
    def __init__(self, server: EmulatorServer) -> None:
        self.server = server
        self._control = self.session()

    # --- facts --------------------------------------------------------------------------------------
    @property
    def endpoints(self) -> dict:
        return self.server.endpoints

    @property
    def state(self):
        return self.server.state

    @property
    def ca_path(self) -> str:
        return self.server.ca_path

    @property
    def base_url(self) -> str:
        return self.server.base_url

    @property
    def request_log_path(self) -> str:
        """The JSON-lines request log of this session's emulator (secrets masked)."""
        return self.server.config.request_log

    @property
    def proxy_url(self) -> str | None:
        return self.server.endpoints["proxy_url"]

    @property
    def control_url(self) -> str:
        return self.server.endpoints["control_url"]

    def url(self, path: str) -> str:
        return self.server.url(path)

    def tenant(self, index: int = 0) -> dict:
        return self.endpoints["tenants"][index]

    # --- HTTP ---------------------------------------------------------------------------------------
    def session(self) -> requests.Session:
        s = requests.Session()
        s.verify = self.ca_path
        s.trust_env = False
        return s

    def proxied_session(self) -> requests.Session:
        s = self.session()
        s.proxies = {"https": self.proxy_url}
        return s

    def control(self, method: str, path: str, json=None, **kwargs) -> requests.Response:
        kwargs.setdefault("timeout", CONTROL_TIMEOUT)
        url = f"{self.control_url}/{path.lstrip('/')}"
        return self._control.request(method, url, json=json, **kwargs)

    def _ok(self, resp: requests.Response) -> dict:
        assert resp.status_code == 200, f"control plane {resp.request.method} {resp.url}: {resp.status_code} " \
                                        f"{resp.text[:500]}"
        return resp.json()

    def stats(self) -> dict:
        return self._ok(self.control("GET", "stats"))

    def set_faults(self, **faults) -> dict:
        return self._ok(self.control("PATCH", "faults", json=faults))

    def set_config(self, **values) -> dict:
        return self._ok(self.control("PATCH", "config", json=values))

    def log(self, n: int = 100) -> list[dict]:
        return self._ok(self.control("GET", "log", params={"n": n}))["entries"]

    def reset(self) -> None:
        self._ok(self.control("POST", "reset"))


@pytest.fixture(scope="session")
def emulator(tmp_path_factory):
    state_dir = tmp_path_factory.mktemp("mtp-emulator-state")
    server = EmulatorServer(config=EmulatorConfig(), state_dir=str(state_dir),
                            request_log=str(state_dir / "requests.jsonl"))
    server.start()
    try:
        yield EmulatorHandle(server)
    finally:
        server.stop()


@pytest.fixture
def emulator_factory(tmp_path_factory):
    started: list[EmulatorServer] = []

    def factory(fixture=None, config: EmulatorConfig | None = None, **server_kwargs) -> EmulatorHandle:
        server_kwargs.setdefault("state_dir", str(tmp_path_factory.mktemp("mtp-emulator-extra")))
        server = EmulatorServer(fixture=fixture, config=config or EmulatorConfig(), **server_kwargs)
        server.start()
        started.append(server)
        return EmulatorHandle(server)

    try:
        yield factory
    finally:
        for server in reversed(started):
            server.stop()


@pytest.fixture
def fresh_emulator(emulator):
    emulator.reset()
    yield emulator


@pytest.fixture
def requests_session(emulator):
    with emulator.session() as s:
        yield s


@pytest.fixture
def proxied_session(emulator):
    with emulator.proxied_session() as s:
        yield s
