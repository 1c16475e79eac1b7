"""Advanced hunting for the emulator: table schemas, seeded data and KQL execution on DuckDB.

Per-tenant objects live in ``state.extras["defender"][tenant_id]`` (not persisted): the anchor time every
timestamp is relative to, the incident store (``incidents.IncidentStore``) and the hunting engine
(``engine.HuntingEngine``, built lazily on the first query).
"""

from __future__ import annotations

import datetime as dt

DEFAULT_ROWS = 2000


def tenant_data(state, tenant) -> dict:
    """``{"anchor", "incidents", "engine", "machines"}`` of one tenant, created on first use; the tenant's
    fixture ``data`` section (users' own rows, incidents, devices: userdata.py) is loaded into it then."""
    from ..incidents import IncidentStore
    from .engine import HuntingEngine

    with state.lock:
        per = state.extras.setdefault("defender", {})
        data = per.get(tenant.id)
        if data is None:
            anchor = dt.datetime.now(dt.timezone.utc).replace(second=0, microsecond=0)
            store = IncidentStore(tenant.id, tenant.domain, anchor)
            rows = int(getattr(state.config, "hunting_rows", DEFAULT_ROWS) or DEFAULT_ROWS)
            engine = HuntingEngine(tenant.id, tenant.domain, rows, anchor, store.alerts)
            data = per[tenant.id] = {"anchor": anchor, "incidents": store, "engine": engine, "machines": []}
            section = tenant.spec.get("data")
            if section:  # the fixture's own test data (validated when the fixture was loaded)
                from . import userdata

                userdata.apply(data, userdata.validate(section, tenant))
        return data
