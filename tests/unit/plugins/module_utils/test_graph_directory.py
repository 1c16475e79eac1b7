# -*- coding: utf-8 -*-
# Copyright (c) m365.defender contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Unit tests of _graph_directory: the §12 classification (docs/developer/reference/graph-app-setup.md §12) and
the §12-aware write and batched reads over a scripted client (no network, no sleeping)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import pytest

from ansible_collections.m365.defender.plugins.module_utils import _graph_directory as m
from ansible_collections.m365.defender.plugins.module_utils._api_errors import api_error
from ansible_collections.m365.defender.plugins.module_utils._errors import MtpApiError


@pytest.mark.parametrize("status,code,message,details,fresh,expected", [
    (400, "Request_BadRequest", "The appId 'x' of the service principal does not reference a valid application "
                                "object.", ["NoBackingApplicationObject"], False, m.LAG),
    (400, "Request_BadRequest", "Not a valid reference update.", [], False, m.LAG),
    (400, "Request_BadRequest", "Permission being assigned already exists on the object", [], False, m.EXISTS),
    (400, "Request_BadRequest", "Another object with the same value for property uniqueName already exists.", [],
     False, m.UNIQUE_CONFLICT),
    (409, "Request_MultipleObjectsWithSameKeyValue", "Permission entry already exists.", [], False,
     m.GRANT_CONFLICT),
    (409, "Error_MsaAppDoesNotExist", "", [], False, m.LAG),
    (404, "Request_ResourceNotFound", "", [], True, m.LAG),
    (404, "Request_ResourceNotFound", "", [], False, m.NOT_FOUND),
    (403, "Authorization_RequestDenied", "When using this permission, the backing application of the service "
                                         "principal being created must in the local tenant", [], False,
     m.LOCAL_TENANT),
    (403, "Authorization_RequestDenied", "Insufficient privileges to complete the operation.", [], False, m.DENIED),
    (None, None, "reset", [], False, m.AMBIGUOUS),
    (503, None, "", [], False, m.AMBIGUOUS),
    (400, "Request_BadRequest", "Invalid property", [], False, m.FATAL),
])
def test_graph_failure_kind(status, code, message, details, fresh, expected):
    assert m.graph_failure_kind(status, code, message, details, fresh=fresh) == expected


def test_failure_kind_reads_the_one_error_path():
    """The kind of an error built by _api_errors.api_error from a Graph envelope (details[].code included)."""
    exc = api_error("graph", "POST", "/v1.0/servicePrincipals", 400, body_json={"error": {
        "code": "Request_BadRequest", "message": "m", "details": [{"code": "NoBackingApplicationObject"}]}})
    assert (exc.status, exc.code, exc.service_message, exc.details) == (
        400, "Request_BadRequest", "m", ["NoBackingApplicationObject"])
    assert m.failure_kind(exc) == m.LAG


class _Resp(object):
    def __init__(self, status=200, json=None):
        self.status = status
        self.json = json if json is not None else {}


class ScriptedClient(object):
    """Answers each call with the next scripted outcome (an exception to raise, or a response)."""

    def __init__(self, outcomes):
        self.outcomes = list(outcomes)
        self.calls = []
        self.sent = []  # (method, path, json or params) of every call

    def _next(self, method, path, **kwargs):
        self.calls.append((method, path))
        self.sent.append((method, path, kwargs.get("json", kwargs.get("params"))))
        outcome = self.outcomes.pop(0)
        if isinstance(outcome, Exception):
            raise outcome
        return outcome

    def post(self, api, path, **kwargs):
        return self._next("POST", path, **kwargs)

    def patch(self, api, path, **kwargs):
        return self._next("PATCH", path, **kwargs)

    def get(self, api, path, **kwargs):
        return self._next("GET", path, **kwargs)

    def batch(self, items):
        answers = self._next("BATCH", ",".join(i["url"] for i in items))
        return dict((i["id"], answers[i["id"]]) for i in items)

    def batch_error(self, item, response):
        return api_error("graph", item["method"], "/v1.0" + item["url"], response.status, body_json=response.json)


class FakeClock(object):
    def __init__(self):
        self.now = 1000.0
        self.slept = []

    def __call__(self):
        return self.now

    def sleep(self, seconds):
        self.slept.append(seconds)
        self.now += seconds


def _graph(status, code, message, details=()):
    return api_error("graph", "POST", "/v1.0/servicePrincipals", status, body_json={"error": {
        "code": code, "message": message, "details": [{"code": d} for d in details]}})


def _directory(outcomes, timeout=30):
    clock = FakeClock()
    return m.Directory(ScriptedClient(outcomes), timeout, sleep=clock.sleep, clock=clock), clock


def test_write_waits_through_replication_lag():
    lag = _graph(400, "Request_BadRequest", "does not reference a valid application object",
                 ["NoBackingApplicationObject"])
    directory, clock = _directory([lag, lag, _Resp(201, {"id": "sp1"})])
    assert directory.write("POST", "/servicePrincipals", json={"appId": "a"}).json == {"id": "sp1"}
    assert clock.slept == [1.0, 2.0]


def test_write_gives_up_at_the_timeout_with_the_service_message():
    lag = _graph(400, "Request_BadRequest", "Not a valid reference update.")
    directory, clock = _directory([lag] * 20, timeout=10)
    with pytest.raises(MtpApiError, match="Not a valid reference update"):
        directory.write("POST", "/servicePrincipals", json={})
    assert 10 <= sum(clock.slept) <= 15


def test_ambiguous_write_is_reconciled_before_it_is_repeated():
    reset = MtpApiError("Could not complete graph POST: connection reset", status=None)
    directory, clock = _directory([reset])
    found = directory.write("POST", "/servicePrincipals", json={}, idempotent=False, reconcile=lambda: {"id": "sp1"})
    assert found == {"id": "sp1"} and clock.slept == []
    assert len(directory.client.calls) == 1  # not sent a second time


def test_ambiguous_write_without_reconcile_is_not_repeated():
    directory, _clock = _directory([MtpApiError("reset", status=None)])
    with pytest.raises(MtpApiError):
        directory.write("POST", "/applications/x/addPassword", json={}, idempotent=False)
    assert len(directory.client.calls) == 1


def test_denied_write_names_the_permission():
    denied = _graph(403, "Authorization_RequestDenied", "Insufficient privileges to complete the operation.")
    directory, _clock = _directory([denied])
    with pytest.raises(MtpApiError) as exc:
        directory.write("POST", "/oauth2PermissionGrants", json={}, role=m.ROLE_GRANT)
    assert "DelegatedPermissionGrant.ReadWrite.All" in exc.value.msg
    assert "Insufficient privileges" in exc.value.msg
    assert "DelegatedPermissionGrant.ReadWrite.All" in exc.value.hint


def test_exists_and_conflict_answers():
    exists = _graph(400, "Request_BadRequest", "Permission being assigned already exists on the object")
    directory, _clock = _directory([exists])
    assert directory.write("POST", "/x", json={}, on_exists=lambda: "kept") == "kept"


def test_batch_get_asks_a_lagging_item_again_and_gives_api_errors_context():
    directory, clock = _directory([
        {"a": _Resp(200, {"id": "1"}), "b": _Resp(404, {"error": {"code": "Request_ResourceNotFound"}})},
        {"b": _Resp(200, {"id": "2"})},
    ])
    out = directory.batch_get([("a", "/applications/1", False), ("b", "/applications/2", True)])
    assert out == {"a": (200, {"id": "1"}), "b": (200, {"id": "2"})}
    assert clock.slept == [1.0]
    directory, _clock = _directory([{"a": _Resp(403, {"error": {"code": "Authorization_RequestDenied",
                                                                "message": "Insufficient privileges"}})}])
    with pytest.raises(MtpApiError) as exc:
        directory.batch_get([("a", "/applications(uniqueName='k')", False)], "read application k")
    assert exc.value.msg.startswith("Could not read application k: 403 Forbidden from graph GET")
    assert "Application.ReadWrite.All" in exc.value.msg


def test_a_missing_item_without_lag_is_a_404_answer():
    directory, clock = _directory([{"a": _Resp(404, {})}])
    assert directory.batch_get([("a", "/applications/1", False)]) == {"a": (404, {})}
    assert clock.slept == []


def test_quote_doubles_single_quotes():
    assert m.quote("o'brien") == "o''brien"


# --- delegated grants: AllPrincipals and Principal (docs/developer/reference/graph-app-setup.md §5) ----------

def test_create_grant_bodies_per_consent_type():
    directory, _clock = _directory([_Resp(201, {"id": "g1"}), _Resp(201, {"id": "g2"})])
    directory.create_grant("sp-client", "sp-mtp", "Incident.Read")
    directory.create_grant("sp-client", "sp-mtp", "Incident.Read", "user-1")
    assert directory.client.sent == [
        ("POST", "/oauth2PermissionGrants", {"clientId": "sp-client", "consentType": "AllPrincipals",
                                             "principalId": None, "resourceId": "sp-mtp", "scope": "Incident.Read"}),
        ("POST", "/oauth2PermissionGrants", {"clientId": "sp-client", "consentType": "Principal",
                                             "principalId": "user-1", "resourceId": "sp-mtp", "scope": "Incident.Read"})]


def test_conflicting_principal_grant_is_merged_by_patch_never_recreated():
    conflict = api_error("graph", "POST", "/v1.0/oauth2PermissionGrants", 409, body_json={"error": {
        "code": "Request_MultipleObjectsWithSameKeyValue", "message": "Permission entry already exists."}})
    listing = _Resp(200, {"value": [{"id": "g-other", "resourceId": "sp-graph", "scope": "User.Read"},
                                    {"id": "g-user", "resourceId": "sp-mtp", "scope": "Incident.Read Machine.Read"}]})
    directory, _clock = _directory([conflict, listing, _Resp(204)])
    got = directory.create_grant("sp-client", "sp-mtp", "Incident.Read AdvancedHunting.Read", "user-1")
    assert got["id"] == "g-user"
    assert directory.client.sent == [
        ("POST", "/oauth2PermissionGrants", {"clientId": "sp-client", "consentType": "Principal",
                                             "principalId": "user-1", "resourceId": "sp-mtp",
                                             "scope": "Incident.Read AdvancedHunting.Read"}),
        ("GET", "/oauth2PermissionGrants", {"$filter": "clientId eq 'sp-client' and principalId eq 'user-1'"}),
        ("PATCH", "/oauth2PermissionGrants/g-user", {"scope": "Incident.Read Machine.Read AdvancedHunting.Read"})]


def test_app_reads_select_the_public_client_properties():
    assert m.APP_SELECT == ("id,appId,displayName,uniqueName,requiredResourceAccess,passwordCredentials,"
                            "keyCredentials,isFallbackPublicClient,publicClient")
