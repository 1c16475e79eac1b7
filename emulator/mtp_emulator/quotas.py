"""API call quotas, one module for every API family (Defender MTP and MDE, Graph security, Graph directory).

A quota is a list of sliding windows ``(calls, seconds)`` per tenant and quota name; ``config.quota_scale``
multiplies every limit. :func:`check_quota` counts one call or raises a 429 with ``Retry-After`` in the error
shape of the family that asked (``api``: ``"mtp"``, ``"mde"`` or ``"graph"``). The windows live in
``state.extras["defender_quota"]`` (the name predates this module; tests and ``POST /_emulator/reset`` rely on
it), keyed ``(tenant_id, name, seconds)``.

The figures and the 429 texts: docs/developer/reference/defender-api.md §2.4-§2.5 (45 hunting
calls a minute and 1500 an hour) and its incident sections (50 list/update calls and 100 gets a minute).
"""

from __future__ import annotations

import collections
import math
import time

from .errors import GraphError, MtpError

STORE_KEY = "defender_quota"

# name -> ((calls, window seconds), ...) before quota_scale
QUOTAS = {
    "hunting": ((45, 60), (1500, 3600)),
    "incidents.list": ((50, 60), (1500, 3600)),
    "incidents.get": ((100, 60), (1500, 3600)),
    "incidents.update": ((50, 60), (1500, 3600)),
    "mde.alerts": ((100, 60), (1500, 3600)),  # MDE /api/alerts list, get and update
    # Graph /security incidents and alerts_v2, per app and tenant: the published figure is 150 requests a minute for
    # alert operations (docs/developer/reference/defender-api.md §4.4); none is published for incidents, so the
    # emulator applies the same one to both.
    "graph.security": ((150, 60),),
    # MDE machines, machine actions, live response (docs/developer/reference/response-and-content.md §1.1)
    "machines": ((100, 60), (1500, 3600)),
    "machines.package": ((2, 60), (120, 3600)),
    "machines.liveresponse": ((10, 60), (1500, 3600)),
    # indicators (§4.1) and custom detection rules (§5)
    "indicators": ((100, 60), (1500, 3600)),
    "indicators.import": ((30, 60),),
    "indicators.batchdelete": ((30, 60), (1500, 3600)),
    "detections.list": ((10, 60),),
    "detections.create": ((10, 60),),
    "detections.item": ((100, 60), (1500, 3600)),
}


def fmt_window(seconds: int) -> str:
    """``60`` -> ``"00:01:00"``, as the Defender 429 message writes a window."""
    return time.strftime("%H:%M:%S", time.gmtime(seconds))


def quota_error(api: str, limit: int, span: int, retry: int):
    """The 429 of one family: Graph ``TooManyRequests``, Defender code ``"429"``; both with ``Retry-After``."""
    message = f"API calls quota exceeded! maximum allowed {limit} per {fmt_window(span)}"
    headers = {"Retry-After": str(retry)}
    if api == "graph":
        return GraphError(429, "TooManyRequests", message, headers=headers)
    return MtpError(429, "429", message, headers=headers)


def check_quota(state, tenant, name: str, api: str) -> None:
    """Count one call against the tenant's *name* quotas; raise 429 (Retry-After) when one is exhausted."""
    scale = float(getattr(state.config, "quota_scale", 1.0) or 1.0)
    now = time.monotonic()
    with state.lock:
        windows = state.extras.setdefault(STORE_KEY, {})
        for calls, span in QUOTAS[name]:
            limit = max(1, int(calls * scale))
            q = windows.setdefault((tenant.id, name, span), collections.deque())
            while q and q[0] <= now - span:
                q.popleft()
            if len(q) >= limit:
                retry = max(1, math.ceil(q[0] + span - now))
                state.stats.incr(f"{name}.throttled")
                raise quota_error(api, limit, span, retry)
        for calls, span in QUOTAS[name]:
            windows[(tenant.id, name, span)].append(now)
