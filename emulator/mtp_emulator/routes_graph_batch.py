"""Microsoft Graph JSON batching: ``POST /v1.0/$batch``.

Each item ``{id, method, url, headers?, body?, dependsOn?}`` is run as a real sub-request through the same Flask
app (so faults, stats, auth and throttling apply per item), carrying the caller's ``Authorization`` header.
At most 20 items; ``Content-Type`` is required on items with a body; ``dependsOn`` orders items and a failed
dependency (status >= 400, or itself failed) answers 424 for its dependants. Responses come back in a shuffled
order, as the real service does not keep request order.
"""

from __future__ import annotations

import json
import random
import re
from urllib.parse import quote

from flask import current_app, request

from .app import Route, add_routes
from .errors import GraphError
from .graph_directory.common import GRAPH_AUDIENCES, json_response, read_body

MAX_REQUESTS = 20
HEADER_NAME = re.compile(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")
METHODS = {"GET", "POST", "PATCH", "PUT", "DELETE"}
ITEM_KEYS = {"id", "method", "url", "headers", "body", "dependsOn", "atomicityGroup"}
PASS_HEADERS = ("Content-Type", "Location", "Retry-After", "Preference-Applied", "OData-Version",
                "Cache-Control", "request-id", "client-request-id", "WWW-Authenticate")


def _bad(message: str) -> GraphError:
    return GraphError(400, "BadRequest", message)


def _header_ok(name, value) -> bool:
    if not isinstance(name, str) or not HEADER_NAME.match(name) or not isinstance(value, str):
        return False
    try:
        value.encode("latin-1")
    except UnicodeEncodeError:
        return False
    return "\n" not in value and "\r" not in value


def _validate(body: dict) -> list[dict]:
    requests_ = body.get("requests")
    if not isinstance(requests_, list) or not requests_:
        raise _bad("Invalid batch payload format.")
    if len(requests_) > MAX_REQUESTS:
        raise _bad("Number of requests inside batch exceeds the limit.")
    ids: set[str] = set()
    for item in requests_:
        if not isinstance(item, dict) or not all(k in ITEM_KEYS for k in item):
            raise _bad("Invalid batch payload format.")
        item_id = item.get("id")
        if not isinstance(item_id, (str, int)) or str(item_id) == "":
            raise _bad("Invalid batch payload format: every request needs an id.")
        if str(item_id) in ids:
            raise _bad(f"Batch request id '{item_id}' is duplicated.")
        ids.add(str(item_id))
        method = item.get("method")
        if not isinstance(method, str) or method.upper() not in METHODS:
            raise _bad(f"Invalid method '{method}' in batch request id : {item_id}.")
        url = item.get("url")
        if not isinstance(url, str) or not url or "://" in url:
            raise _bad(f"Invalid request URL in batch request id : {item_id}. Use a relative URL.")
        if url.lstrip("/").split("?", 1)[0].lower().endswith("$batch"):
            raise _bad("A batch request cannot contain another batch request.")
        headers = item.get("headers", {})
        if headers is not None and (not isinstance(headers, dict)
                                    or not all(_header_ok(k, v) for k, v in headers.items())):
            raise _bad(f"Invalid headers in batch request id : {item_id}.")
        if item.get("body") is not None:
            if not any(k.lower() == "content-type" for k in (headers or {})):
                raise _bad(f"Write request id : {item_id} does not contain Content-Type header or body.")
        deps = item.get("dependsOn")
        if deps is not None and (not isinstance(deps, list) or not all(isinstance(d, (str, int)) for d in deps)):
            raise _bad(f"Invalid dependsOn in batch request id : {item_id}.")
    for item in requests_:
        for dep in item.get("dependsOn") or []:
            if str(dep) not in ids or str(dep) == str(item["id"]):
                raise _bad(f"Request id '{item['id']}' depends on an unknown request id '{dep}'.")
    return requests_


def _order(items: list[dict]) -> list[dict]:
    """Items in an order that honours ``dependsOn`` (400 on a cycle)."""
    by_id = {str(i["id"]): i for i in items}
    done: list[dict] = []
    state: dict[str, str] = {}

    def visit(item_id: str) -> None:
        if state.get(item_id) == "done":
            return
        if state.get(item_id) == "visiting":
            raise _bad("The dependsOn graph of the batch contains a cycle.")
        state[item_id] = "visiting"
        for dep in by_id[item_id].get("dependsOn") or []:
            visit(str(dep))
        state[item_id] = "done"
        done.append(by_id[item_id])

    for item in items:
        visit(str(item["id"]))
    return done


def _run_item(item: dict) -> dict:
    url = item["url"]
    if not url.startswith("/"):
        url = "/" + url
    if not url.lower().startswith(("/v1.0/", "/beta/")):
        url = "/v1.0" + url
    url = quote(url, safe="/?&=$'(),:@!*+;~%")
    headers = {k: v for k, v in (item.get("headers") or {}).items() if k.lower() not in ("authorization", "host")}
    if request.headers.get("Authorization"):
        headers["Authorization"] = request.headers["Authorization"]
    body = item.get("body")
    data = None
    if body is not None:
        data = body if isinstance(body, str) else json.dumps(body)
    environ = {"REMOTE_ADDR": request.remote_addr or "127.0.0.1"}
    if request.environ.get("mtp_emulator.cloud"):
        environ["mtp_emulator.cloud"] = request.environ["mtp_emulator.cloud"]
    client = current_app.test_client()
    try:
        resp = client.open(url, method=item["method"].upper(), headers=headers, data=data,
                           base_url=request.host_url, environ_base=environ)
    except ConnectionResetError:  # a connection-reset fault aimed at this item: the gateway times out
        return {"id": str(item["id"]), "status": 504, "headers": {"Content-Type": "application/json"},
                "body": {"error": {"code": "GatewayTimeout",
                                   "message": "The backend did not answer in time; the request may or may not "
                                              "have been applied."}}}
    out_headers = {k: v for k, v in resp.headers.items() if k in PASS_HEADERS}
    result: dict = {"id": str(item["id"]), "status": resp.status_code, "headers": out_headers}
    raw = resp.get_data()
    if raw:
        try:
            result["body"] = json.loads(raw)
        except ValueError:
            result["body"] = raw.decode("utf-8", "replace")
    return result


def graph_batch(state):
    from .login import keys  # the outer call needs a valid token as well

    try:
        keys.verify_bearer(state, GRAPH_AUDIENCES)
    except keys.TokenRejected as exc:
        raise GraphError(401, "InvalidAuthenticationToken", exc.reason) from None
    items = _order(_validate(read_body()))
    results: dict[str, dict] = {}
    for item in items:
        failed = [str(d) for d in item.get("dependsOn") or [] if results[str(d)]["status"] >= 400]
        if failed:
            results[str(item["id"])] = {
                "id": str(item["id"]), "status": 424, "headers": {"Content-Type": "application/json"},
                "body": {"error": {"code": "FailedDependency",
                                   "message": f"Dependent request(s) {', '.join(failed)} failed."}}}
            continue
        results[str(item["id"])] = _run_item(item)
    responses = list(results.values())
    random.shuffle(responses)
    return json_response({"responses": responses})


ROUTES = (Route("/v1.0/$batch", ("POST",), graph_batch),)


def register(app, state) -> None:
    add_routes(app, state, ROUTES)
