"""In-memory state of the emulated cloud: tenants, their directory, users, stats and fault settings.

Every route module reads and writes through :class:`EmulatorState`. Objects in a tenant's directory are
stored as plain dicts in the Graph v1.0 shape (camelCase keys).  Keys starting with ``_`` are private to the
emulator (creation time, secret hashes, soft-delete marker) and are stripped by :func:`public_view`.

Replication lag: ``state.config.replication_lag`` seconds.  An object (or credential, or role assignment) whose
``_created`` time is younger than the lag is *not yet replicated*: reads and references must not see it.
"""

from __future__ import annotations

import copy
import hashlib
import json
import os
import threading
import time
import uuid
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import Any, Iterable

# The well-known first-party resource application ids.
MTP_APP_ID = "8ee8fdad-f234-4243-8f3b-15c294843740"
WDATP_APP_ID = "fc780465-2017-40d4-a0c5-307022471b92"
GRAPH_APP_ID = "00000003-0000-0000-c000-000000000000"


def new_id() -> str:
    return str(uuid.uuid4())


def hash_secret(value: str) -> str:
    return hashlib.sha256(value.encode("utf-8")).hexdigest()


def public_view(obj: dict) -> dict:
    """A deep copy of a stored object without the emulator's private ``_`` keys (also inside lists)."""

    def strip(value):
        if isinstance(value, dict):
            return {k: strip(v) for k, v in value.items() if not k.startswith("_")}
        if isinstance(value, list):
            return [strip(v) for v in value]
        return value

    return strip(obj)


@dataclass
class FaultConfig:
    """Faults applied by the fault middleware (see faults.py). Mutable at run time via the control plane."""

    latency_ms: int = 0
    # route pattern (fnmatch on "METHOD /path") -> probability of a 503
    error_rate: dict[str, float] = field(default_factory=dict)
    # route pattern -> "before" | "after": drop the connection before / after the handler commits
    reset: dict[str, str] = field(default_factory=dict)
    # route pattern -> number of upcoming requests answered 429 (with Retry-After: throttle_retry_after)
    throttle: dict[str, int] = field(default_factory=dict)
    throttle_retry_after: int = 1


@dataclass
class EmulatorConfig:
    token_lifetime: int = 3599
    replication_lag: float = 0.0
    quota_scale: float = 1.0
    # device-code flow: seconds between polls the client is told to keep, and the code's lifetime
    device_code_interval: int = 1
    device_code_lifetime: int = 900
    faults: FaultConfig = field(default_factory=FaultConfig)
    # Where persistence writes (None = memory only)
    state_file: str | None = None
    # Base URL the emulator is reached at (set by the server once the port is known)
    base_url: str = "https://127.0.0.1"


class Stats:
    """Thread-safe counters. ``snapshot()`` is what ``GET /_emulator/stats`` returns."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.reset()

    def reset(self) -> None:
        with self._lock:
            self.requests: dict[str, Counter] = defaultdict(Counter)  # "METHOD rule" -> {status: n}
            self.by_host: Counter = Counter()
            self.tokens: Counter = Counter()  # client_id -> tokens issued
            self.token_requests: Counter = Counter()  # grant_type -> requests (success or not)
            self.counters: Counter = Counter()  # free-form named counters (hunting.runs, incidents.patch, ...)
            self.proxy_refused: list[str] = []

    def record_request(self, method: str, rule: str, status: int, host: str = "") -> None:
        with self._lock:
            self.requests[f"{method} {rule}"][str(status)] += 1
            if host:
                self.by_host[host] += 1

    def record_token(self, client_id: str) -> None:
        with self._lock:
            self.tokens[client_id] += 1

    def record_token_request(self, grant: str) -> None:
        with self._lock:
            self.token_requests[grant] += 1

    def incr(self, name: str, n: int = 1) -> None:
        with self._lock:
            self.counters[name] += n

    def snapshot(self) -> dict:
        with self._lock:
            by_method: Counter = Counter()
            graph_writes = 0
            for key, statuses in self.requests.items():
                method = key.split(" ", 1)[0]
                total = sum(statuses.values())
                by_method[method] += total
                if method != "GET" and key.split(" ", 1)[1].startswith("/v1.0/") and "/security/" not in key:
                    if not key.endswith("/$batch"):
                        graph_writes += total
            return {
                "requests": {k: dict(v) for k, v in self.requests.items()},
                "requests_by_method": dict(by_method),
                "requests_total": sum(by_method.values()),
                "graph_directory_writes": graph_writes,
                "by_host": dict(self.by_host),
                "tokens_issued": dict(self.tokens),
                "tokens_issued_total": sum(self.tokens.values()),
                "token_requests": dict(self.token_requests),
                "counters": dict(self.counters),
                "proxy_refused": list(self.proxy_refused),
            }


class Directory:
    """One tenant's directory objects, keyed by object id.

    ``objects`` maps id -> dict with ``@odata.type``-less Graph properties plus private keys:
    ``_kind`` ("application" | "servicePrincipal" | "appRoleAssignment" | "oauth2PermissionGrant" | "user"),
    ``_created`` (epoch seconds), ``_deleted`` (epoch seconds when soft-deleted, else absent).
    Password credentials keep ``_secretHash`` and ``_created``; key credentials keep ``_created``.
    """

    def __init__(self, state: "EmulatorState") -> None:
        self._state = state
        self.objects: dict[str, dict] = {}

    # --- lag --------------------------------------------------------------------------------------
    def replicated(self, obj: dict) -> bool:
        lag = self._state.config.replication_lag
        return lag <= 0 or (time.time() - obj.get("_created", 0)) >= lag

    # --- generic ----------------------------------------------------------------------------------
    def add(self, kind: str, obj: dict) -> dict:
        obj.setdefault("id", new_id())
        obj["_kind"] = kind
        obj["_created"] = time.time()
        self.objects[obj["id"]] = obj
        return obj

    def iter(self, kind: str, include_deleted: bool = False, replicated_only: bool = True) -> Iterable[dict]:
        for obj in list(self.objects.values()):
            if obj.get("_kind") != kind:
                continue
            if ("_deleted" in obj) != include_deleted:
                continue
            if replicated_only and not self.replicated(obj):
                continue
            yield obj

    def get(self, object_id: str, kind: str | None = None, replicated_only: bool = True,
            include_deleted: bool = False) -> dict | None:
        obj = self.objects.get(object_id)
        if obj is None or (kind and obj.get("_kind") != kind):
            return None
        if ("_deleted" in obj) != include_deleted:
            return None
        if replicated_only and not self.replicated(obj):
            return None
        return obj

    def find(self, kind: str, prop: str, value: Any, replicated_only: bool = True,
             include_deleted: bool = False, case_insensitive: bool = False) -> dict | None:
        for obj in self.iter(kind, include_deleted=include_deleted, replicated_only=replicated_only):
            current = obj.get(prop)
            if case_insensitive and isinstance(current, str) and isinstance(value, str):
                if current.lower() == value.lower():
                    return obj
            elif current == value:
                return obj
        return None

    # --- convenience used by the token service and the Graph routes ---------------------------------
    def application_by_app_id(self, app_id: str, replicated_only: bool = True) -> dict | None:
        return self.find("application", "appId", app_id, replicated_only=replicated_only, case_insensitive=True)

    def service_principal_by_app_id(self, app_id: str, replicated_only: bool = True) -> dict | None:
        return self.find("servicePrincipal", "appId", app_id, replicated_only=replicated_only,
                         case_insensitive=True)

    def app_role_assignments(self, principal_id: str | None = None, resource_id: str | None = None,
                             replicated_only: bool = True) -> list[dict]:
        out = []
        for a in self.iter("appRoleAssignment", replicated_only=replicated_only):
            if principal_id and a.get("principalId") != principal_id:
                continue
            if resource_id and a.get("resourceId") != resource_id:
                continue
            out.append(a)
        return out

    def granted_roles(self, client_app_id: str, resource_app_id: str) -> list[str]:
        """The ``roles`` claim of an app-only token: role values assigned to the client's SP on the resource."""
        client_sp = self.service_principal_by_app_id(client_app_id)
        resource_sp = self.service_principal_by_app_id(resource_app_id)
        if not client_sp or not resource_sp:
            return []
        by_id = {r["id"]: r["value"] for r in resource_sp.get("appRoles", []) if r.get("isEnabled", True)}
        roles = []
        for a in self.app_role_assignments(principal_id=client_sp["id"], resource_id=resource_sp["id"]):
            value = by_id.get(a.get("appRoleId"))
            if value and value not in roles:
                roles.append(value)
        return sorted(roles)

    def delegated_scopes(self, client_app_id: str, resource_app_id: str, user_id: str | None) -> list[str]:
        """Scopes consented for a client on a resource, tenant-wide (AllPrincipals) or for one user."""
        client_sp = self.service_principal_by_app_id(client_app_id)
        resource_sp = self.service_principal_by_app_id(resource_app_id)
        if not client_sp or not resource_sp:
            return []
        scopes: list[str] = []
        for g in self.iter("oauth2PermissionGrant"):
            if g.get("clientId") != client_sp["id"] or g.get("resourceId") != resource_sp["id"]:
                continue
            if g.get("consentType") == "Principal" and g.get("principalId") != user_id:
                continue
            for s in (g.get("scope") or "").split():
                if s not in scopes:
                    scopes.append(s)
        return scopes


class Tenant:
    def __init__(self, state: "EmulatorState", spec: dict) -> None:
        self.id: str = spec["id"]
        self.domain: str = spec["domain"]
        self.display_name: str = spec.get("display_name", self.domain)
        self.cloud: str = spec.get("cloud", "commercial")
        self.spec = spec
        self.directory = Directory(state)
        # refresh tokens, device codes etc. live in route modules' own dicts keyed by tenant id

    def matches(self, key: str) -> bool:
        key = key.lower()
        return key == self.id.lower() or key == self.domain.lower()


class EmulatorState:
    """Everything the emulator knows. Route modules keep their own extra state in ``extras[name]``."""

    def __init__(self, config: EmulatorConfig | None = None) -> None:
        self.lock = threading.RLock()
        self.config = config or EmulatorConfig()
        self.stats = Stats()
        self.tenants: dict[str, Tenant] = {}
        self.fixture: dict = {}
        self.extras: dict[str, Any] = {}
        # hooks run after load_fixture (route modules register seeding functions here)
        self.seeders: list = []
        # start-up fixture, faults and config that POST /_emulator/reset restores (routes_control.register)
        self.startup: dict = {"fixture": {}, "faults": FaultConfig(), "config": {}}

    # --- tenants ----------------------------------------------------------------------------------
    def tenant(self, key: str) -> Tenant | None:
        if not key:
            return None
        for t in self.tenants.values():
            if t.matches(key):
                return t
        return None

    def load_fixture(self, fixture: dict) -> None:
        """Replace all state by the given fixture (see fixtures/default.yaml for the shape)."""
        with self.lock:
            self.fixture = copy.deepcopy(fixture)
            self.tenants = {}
            self.extras = {}
            for spec in fixture.get("tenants", []):
                tenant = Tenant(self, spec)
                self.tenants[tenant.id] = tenant
            for seeder in list(self.seeders):
                seeder(self)
            self.stats.reset()

    def reset(self) -> None:
        self.load_fixture(self.fixture)

    # --- persistence ------------------------------------------------------------------------------
    def save(self, path: str | None = None) -> None:
        path = path or self.config.state_file
        if not path:
            return
        with self.lock:
            data = {
                "fixture": self.fixture,
                "directories": {tid: t.directory.objects for tid, t in self.tenants.items()},
                "extras": {k: v for k, v in self.extras.items() if _jsonable(v)},
            }
            tmp = f"{path}.tmp{os.getpid()}"
            with open(tmp, "w", encoding="utf-8") as fh:
                json.dump(data, fh)
            os.replace(tmp, path)

    def restore(self, path: str) -> bool:
        if not os.path.exists(path):
            return False
        with open(path, encoding="utf-8") as fh:
            data = json.load(fh)
        with self.lock:
            self.load_fixture(data["fixture"])
            for tid, objects in data.get("directories", {}).items():
                if tid in self.tenants:
                    self.tenants[tid].directory.objects = objects
            self.extras.update(data.get("extras", {}))
        return True


def _jsonable(value: Any) -> bool:
    try:
        json.dumps(value)
        return True
    except (TypeError, ValueError):
        return False
