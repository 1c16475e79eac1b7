# -*- coding: utf-8 -*-
# Copyright (c) m365.defender contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""FOR INTERNAL COLLECTION USE ONLY. Defender for Endpoint machine actions: calls and idempotency.

The recipe (docs/developer/reference/response-and-content.md §7.1, §2.4, §2.5):

* the machine's state comes from its actions, newest first: the newest ``Succeeded`` action of each pair
  (``Isolate``/``Unisolate``, ``RestrictCodeExecution``/``UnrestrictCodeExecution``) says where it stands;
* a ``Pending``/``InProgress`` action of the same type (and scope or file) is the result, ``changed: false``;
  an active action of the opposite type is cancelled first;
* one-shot actions (scan, package collection, stop and quarantine) count as done when a run newer than
  ``min_interval`` minutes exists;
* a 400 ``ActiveRequestAlreadyExists`` / "Action is already in progress" is read as "the pending action is the
  result": the list is read again and the pending action returned;
* ``wait`` polls ``GET /api/machineactions/{id}`` through ``_retry.wait_until`` until a final status.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import datetime
import os
import tempfile
from collections import namedtuple

from ansible_collections.m365.defender.plugins.module_utils._api_errors import ErrorHandler
from ansible_collections.m365.defender.plugins.module_utils._errors import MtpApiError, MtpConfigError, MtpTimeoutError
from ansible_collections.m365.defender.plugins.module_utils._retry import NotReady, wait_until

FINAL = ("Succeeded", "Failed", "TimeOut", "Cancelled")
ACTIVE = ("Pending", "InProgress")
HISTORY = 50
# How long a pending action the service reports ("already in progress") may take to show in the list.
VISIBLE_TIMEOUT = 30

# route: path segment; type: machineAction type; pair: the state it changes (None = one-shot); scope_key: body key
Spec = namedtuple("Spec", ["route", "type", "pair", "scope_key"])
ACTIONS = {
    "isolate": Spec("isolate", "Isolate", "isolation", "IsolationType"),
    "unisolate": Spec("unisolate", "Unisolate", "isolation", None),
    "antivirus_scan": Spec("runAntiVirusScan", "RunAntiVirusScan", None, "ScanType"),
    "restrict_code_execution": Spec("restrictCodeExecution", "RestrictCodeExecution", "restriction", None),
    "unrestrict_code_execution": Spec("unrestrictCodeExecution", "UnrestrictCodeExecution", "restriction", None),
    "collect_investigation_package": Spec("collectInvestigationPackage", "CollectInvestigationPackage", None, None),
    "stop_and_quarantine_file": Spec("StopAndQuarantineFile", "StopAndQuarantineFile", None, None),
    "offboard": Spec("offboard", "Offboard", "offboarding", None),
}
PAIRS = {"isolation": ("Isolate", "Unisolate"), "restriction": ("RestrictCodeExecution", "UnrestrictCodeExecution"),
         "offboarding": ("Offboard", None)}


# ---------------------------------------------------------------------------------------------------------------
# Pure helpers
# ---------------------------------------------------------------------------------------------------------------

def type_of(action):
    """The action type without spaces (real output has ``Live Response``, docs/developer/reference/response-and-content.md §2.3)."""
    return str(action.get("type") or "").replace(" ", "")


def status_of(action):
    """The status, with the older spelling ``Canceled`` read as ``Cancelled``."""
    status = action.get("status")
    return "Cancelled" if status == "Canceled" else status


def updated_of(action):
    """``lastUpdateDateTimeUtc`` or the docs samples' ``lastUpdateTimeUtc``."""
    return action.get("lastUpdateDateTimeUtc") or action.get("lastUpdateTimeUtc")


def parse_time(text):
    """An aware datetime from an MDE timestamp (``2019-01-02T14:39:38.2262283Z``), or ``None``."""
    if not text:
        return None
    base = str(text).rstrip("Z").split(".", 1)[0]
    try:
        return datetime.datetime.strptime(base, "%Y-%m-%dT%H:%M:%S").replace(tzinfo=datetime.timezone.utc)
    except ValueError:
        return None


def newest_first(actions):
    return sorted(actions, key=lambda a: str(a.get("creationDateTimeUtc") or ""), reverse=True)


def build_body(action, comment, isolation_type=None, scan_type=None, sha1=None):
    """The request body (PascalCase keys, docs/developer/reference/response-and-content.md §2.1)."""
    body = {"Comment": comment}
    if action == "isolate":
        body["IsolationType"] = (isolation_type or "full").capitalize()
    elif action == "antivirus_scan":
        body["ScanType"] = (scan_type or "quick").capitalize()
    elif action == "stop_and_quarantine_file":
        body["Sha1"] = sha1.lower()
    return body


def _matches(action, kind, body):
    if type_of(action) != kind:
        return False
    scope = body.get("IsolationType") or body.get("ScanType")
    if scope and action.get("scope") and str(action["scope"]).lower() != scope.lower():
        return False
    if body.get("Sha1"):
        info = action.get("relatedFileInfo") or {}
        return str(info.get("fileIdentifier") or "").lower() == body["Sha1"]
    return True


def current_state(actions, pair):
    """The newest ``Succeeded`` action of the pair (``None`` when there is none)."""
    kinds = [k for k in PAIRS[pair] if k]
    for action in newest_first(actions):
        if type_of(action) in kinds and status_of(action) == "Succeeded":
            return action
    return None


def _holds(action_name, actions, body, min_interval, now):
    """Whether the desired state already holds (for one-shots: a recent enough run exists)."""
    spec = ACTIONS[action_name]
    if spec.pair is None:
        if not min_interval:
            return False
        for action in actions:
            created = parse_time(action.get("creationDateTimeUtc"))
            if _matches(action, spec.type, body) and status_of(action) == "Succeeded" and created and \
                    (now - created).total_seconds() < min_interval * 60:
                return True
        return False
    state = current_state(actions, spec.pair)
    if spec.pair == "offboarding":
        return state is not None
    if state is None:
        return spec.type in ("Unisolate", "UnrestrictCodeExecution")
    return type_of(state) == spec.type and _matches(state, spec.type, body)


def plan(action_name, actions, body, min_interval=0, now=None):
    """What to do on one machine: ``{"pending": action|None, "cancel": [actions], "send": bool}``."""
    now = now or datetime.datetime.now(datetime.timezone.utc)
    spec = ACTIONS[action_name]
    active = [a for a in newest_first(actions) if status_of(a) in ACTIVE]
    pending = next((a for a in active if _matches(a, spec.type, body)), None)
    if pending is not None:
        return {"pending": pending, "cancel": [], "send": False}
    opposite = [k for k in PAIRS.get(spec.pair, ()) if k and k != spec.type]
    cancel = [a for a in active if type_of(a) in opposite or (type_of(a) == spec.type and not _matches(a, spec.type, body))]
    return {"pending": None, "cancel": cancel, "send": not _holds(action_name, actions, body, min_interval, now)}


def describe_state(actions):
    """The diff view of a machine: isolation, restriction and the active actions."""
    iso = current_state(actions, "isolation")
    restr = current_state(actions, "restriction")
    return {
        "isolation": (iso.get("scope") or "Full") if iso is not None and type_of(iso) == "Isolate" else "none",
        "code_execution": "restricted" if restr is not None and type_of(restr) == "RestrictCodeExecution" else
        "unrestricted",
        "offboarded": current_state(actions, "offboarding") is not None,
        "active_actions": sorted("%s %s" % (type_of(a), status_of(a)) for a in actions if status_of(a) in ACTIVE),
    }


def predict_state(before, action_name, body):
    """``before`` (from :func:`describe_state`) as it will be once the action succeeds."""
    after = dict(before)
    if action_name == "isolate":
        after["isolation"] = body["IsolationType"]
    elif action_name == "unisolate":
        after["isolation"] = "none"
    elif action_name in ("restrict_code_execution", "unrestrict_code_execution"):
        after["code_execution"] = "restricted" if action_name.startswith("restrict") else "unrestricted"
    elif action_name == "offboard":
        after["offboarded"] = True
    return after


def is_already_in_progress(exc):
    """Whether an API error is the service's "Action is already in progress" 400 (docs/developer/reference/response-and-content.md §2.4)."""
    if not isinstance(exc, MtpApiError) or getattr(exc, "status", None) != 400:
        return False
    text = "%s %s" % (getattr(exc, "code", "") or "", getattr(exc, "service_message", "") or exc.msg)
    return "ActiveRequestAlreadyExists" in text or "already in progress" in text.lower()


def strip_quotes(value):
    """A package URI without the embedded quotes of the doc sample (docs/developer/reference/response-and-content.md §2.1)."""
    return str(value or "").strip().strip('"')


# ---------------------------------------------------------------------------------------------------------------
# API calls
# ---------------------------------------------------------------------------------------------------------------

@ErrorHandler.list_handler("list the actions of machine {machine_id}")
def machine_actions(client, machine_id, top=HISTORY):
    params = {"$filter": "machineId eq '%s'" % machine_id, "$top": str(top)}
    return newest_first((client.get("mde", "/api/machineactions", params=params).json or {}).get("value") or [])


@ErrorHandler.list_handler("list machine actions")
def list_actions(client, odata_filter=None, top=None):
    params = {}
    if odata_filter:
        params["$filter"] = odata_filter
    if top:
        params["$top"] = str(top)
    return newest_first((client.get("mde", "/api/machineactions", params=params or None).json or {}).get("value") or [])


@ErrorHandler.list_handler("get machine action {action_id}", default=lambda: None)
def get_action(client, action_id):
    return client.get("mde", "/api/machineactions/%s" % action_id).json


@ErrorHandler.common("cancel machine action {action_id}")
def cancel_action(client, action_id, comment):
    return client.post("mde", "/api/machineactions/%s/cancel" % action_id, json={"Comment": comment}).json


def send_action(client, machine_id, action_name, body):
    """POST the action; ``(action, sent)``. An "already in progress" 400 returns the pending action, unsent."""
    spec = ACTIONS[action_name]
    try:
        with ErrorHandler.context("%s machine %s" % (action_name.replace("_", " "), machine_id)):
            return client.post("mde", "/api/machines/%s/%s" % (machine_id, spec.route), json=body).json, True
    except MtpApiError as exc:
        if not is_already_in_progress(exc):
            raise

    def probe():
        for action in machine_actions(client, machine_id):
            if status_of(action) in ACTIVE and _matches(action, spec.type, body):
                return action
        raise NotReady("no active %s visible yet" % spec.type)
    try:
        return wait_until(probe, VISIBLE_TIMEOUT, "the pending %s becoming visible" % spec.type, start=1.0), False
    except MtpTimeoutError:
        what = action_name.replace("_", " ")
        raise MtpApiError("Could not %s machine %s: the service says an action is already in progress, but none "
                          "is visible to the API within %d s; retry later" % (what, machine_id, VISIBLE_TIMEOUT),
                          status=400, code="ActiveRequestAlreadyExists")


def wait_final(client, action_id, timeout, sleep=None, clock=None):
    """The action once its status is final (``Succeeded``, ``Failed``, ``TimeOut``, ``Cancelled``)."""
    def probe():
        action = get_action(client, action_id)
        if action is None:
            raise MtpConfigError("machine action %s disappeared while waiting" % action_id)
        if status_of(action) in FINAL:
            return action
        raise NotReady("status %s" % status_of(action))
    return wait_until(probe, timeout, "machine action %s reaching a final status" % action_id, sleep=sleep,
                      clock=clock, start=1.0, cap=10.0)


@ErrorHandler.common("get the investigation package URI of action {action_id}")
def package_uri(client, action_id):
    return strip_quotes((client.get("mde", "/api/machineactions/%s/getPackageUri" % action_id).json or {}).get("value"))


def download(session, url, dest, timeout=120):
    """Stream ``url`` (a short-lived SAS link: no bearer token) to ``dest`` atomically. Returns the size."""
    folder = os.path.dirname(os.path.abspath(dest))
    handle, tmp = tempfile.mkstemp(prefix=".download-", dir=folder)
    size = 0
    try:
        with os.fdopen(handle, "wb") as out:
            resp = session.get(url, stream=True, timeout=timeout)
            if resp.status_code != 200:
                what = (os.path.basename(dest), resp.status_code)
                raise MtpApiError("Could not download %s: %s from the download link" % what, status=resp.status_code)
            for chunk in resp.iter_content(65536):
                out.write(chunk)
                size += len(chunk)
        os.chmod(tmp, 0o600)
        os.replace(tmp, dest)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    return size


# ---------------------------------------------------------------------------------------------------------------
# The ensure step of one machine
# ---------------------------------------------------------------------------------------------------------------

def _result(machine):
    return {"machine_id": machine["id"], "computer_dns_name": machine.get("computerDnsName"), "changed": False,
            "machine_action": None, "cancelled_action_ids": [], "request": None}


def ensure_on_machine(client, machine, action_name, body, check_mode, min_interval=0):
    """Bring one machine to the state ``action_name`` asks for. ``(result, before, after)``; in check mode
    nothing is written and ``result["request"]`` is what would be sent."""
    actions = machine_actions(client, machine["id"])
    before = describe_state(actions)
    result = _result(machine)
    step = plan(action_name, actions, body, min_interval)
    if step["pending"] is not None:
        result["machine_action"] = step["pending"]
        return result, before, before
    after = dict(before, active_actions=sorted(x for x in before["active_actions"] if x not in [
        "%s %s" % (type_of(a), status_of(a)) for a in step["cancel"]]))
    for action in step["cancel"]:
        result["cancelled_action_ids"].append(action["id"])
        result["changed"] = True
        if not check_mode:
            cancel_action(client, action["id"], "%s (cancelled before %s)" % (body["Comment"], action_name))
    if not step["send"]:
        return result, before, after
    path = "/api/machines/%s/%s" % (machine["id"], ACTIONS[action_name].route)
    result["request"] = {"method": "POST", "path": path, "body": body}
    result["changed"] = True
    after = predict_state(after, action_name, body)
    if not check_mode:
        known = set(a["id"] for a in actions)
        action, sent = send_action(client, machine["id"], action_name, body)
        result["machine_action"] = action
        result["changed"] = bool(result["cancelled_action_ids"]) or (sent and action.get("id") not in known)
    return result, before, after if result["changed"] else before


def cancel_active(client, action, comment, check_mode):
    """Cancel one action unless it is final; ``(changed, action)``."""
    if status_of(action) in FINAL:
        return False, action
    if check_mode:
        return True, dict(action, status="Cancelled")
    return True, cancel_action(client, action["id"], comment)
