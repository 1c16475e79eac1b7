"""``/directory/deletedItems``: deleted applications (list, GET, ``restore``, permanent DELETE)."""

from __future__ import annotations

from flask import Response, request

from .. import graph_odata as odata
from .common import (APP_FILTER, APP_FILTER_COLLECTIONS, APP_PROPS, APP_READ, APP_WRITE, Ctx, app_view, bad_request,
                     json_response, list_response, method_not_allowed, no_content, not_found, select_from_args,
                     unknown_segment)


# --- deleted items ------------------------------------------------------------------------------------------

def deleted_view(obj: dict, select: list[str] | None = None) -> dict:
    out = {"@odata.type": "#microsoft.graph.application"}
    out.update(app_view(obj, select))
    return out


def deleted_items(ctx: Ctx, segs: list, method: str) -> Response:
    rest = segs[2:]
    if not rest:
        raise bad_request("A type cast segment is required, for example "
                          "/directory/deletedItems/microsoft.graph.application.")
    first, first_key = rest[0]
    if first_key is not None:
        raise unknown_segment(first)
    if first.lower().startswith("microsoft.graph."):
        if len(rest) > 1:
            raise unknown_segment(rest[1][0])
        if method != "GET":
            raise method_not_allowed()
        ctx.require(APP_READ)
        kind = first[len("microsoft.graph."):]
        if kind not in ("application", "servicePrincipal", "user", "group"):
            raise unknown_segment(first)
        query = odata.parse_query(request.args, request.headers, "application", APP_FILTER, APP_PROPS,
                                  APP_FILTER_COLLECTIONS)
        items = list(ctx.dir.iter("application", include_deleted=True, replicated_only=False)) \
            if kind == "application" else []
        return list_response(ctx, items, query, f"directory/deletedItems/{first}", app_view)
    obj_id = first
    if len(rest) == 1:
        if method == "GET":
            ctx.require(APP_READ)
            obj = ctx.dir.get(obj_id, "application", replicated_only=False, include_deleted=True)
            if obj is None:
                raise not_found(obj_id)
            return json_response(dict({"@odata.context": ctx.context("directoryObjects/$entity")},
                                      **deleted_view(obj, select_from_args(APP_PROPS, "application"))))
        if method == "DELETE":
            ctx.require(APP_WRITE)
            with ctx.state.lock:
                if ctx.dir.get(obj_id, "application", replicated_only=False, include_deleted=True) is None:
                    raise not_found(obj_id)
                del ctx.dir.objects[obj_id]
            return no_content()
        raise method_not_allowed()
    if len(rest) == 2 and rest[1] == ("restore", None):
        if method != "POST":
            raise method_not_allowed()
        ctx.require(APP_WRITE)
        with ctx.state.lock:
            obj = ctx.dir.get(obj_id, "application", replicated_only=False, include_deleted=True)
            if obj is None:
                raise not_found(obj_id)
            obj.pop("_deleted", None)
            obj["deletedDateTime"] = None
        return json_response(dict({"@odata.context": ctx.context("directoryObjects/$entity")},
                                  **deleted_view(obj)))
    raise unknown_segment(rest[-1][0])
