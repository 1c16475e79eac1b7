# -*- coding: utf-8 -*-
# Copyright (c) m365.defender contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Unit tests of _app_setup: pure parts against the emulator's recorded first-party SP documents, and whole
runs against the emulator's Graph directory served in-process (Flask test client, no sockets)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import datetime
import json
import os
import stat

import pytest

from ansible_collections.m365.defender.plugins.module_utils import _app_setup as m
from ansible_collections.m365.defender.plugins.module_utils._errors import MtpApiError, MtpConfigError

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", "..", "..", ".."))
FIRST_PARTY = os.path.join(ROOT, "emulator", "mtp_emulator", "fixtures", "first_party.json")

MTP = "8ee8fdad-f234-4243-8f3b-15c294843740"
WDATP = "fc780465-2017-40d4-a0c5-307022471b92"
GRAPH = "00000003-0000-0000-c000-000000000000"
# ids as published (graph-app-setup.md §10), independent of the code under test
ADV_HUNTING_ROLE = "7734e8e5-8dde-42fc-b5ae-6eafea078693"
ADV_HUNTING_SCOPE = "15f11de4-5113-4268-a2d1-0bad43d781f9"
THREAT_HUNTING_ROLE = "dd98c7f5-2d42-42d3-a0e4-633161547251"
INTEGRATION_CONFIG = "7c6f6912-60e9-4fcd-bb2a-c25bc35e8c59"


@pytest.fixture(scope="module")
def sp_docs():
    """The emulator's recorded first-party SP documents (from the checkout, else the installed emulator)."""
    if os.path.exists(FIRST_PARTY):
        with open(FIRST_PARTY) as handle:
            data = json.load(handle)
    else:
        data = pytest.importorskip("mtp_emulator.seed").first_party()
    docs = {}
    for app_id, doc in data.items():
        docs[app_id] = dict(doc, id="sp-" + app_id[:8], appId=app_id)
    return docs


# --- names and keys --------------------------------------------------------------------------------------

def test_default_unique_name_is_a_slug():
    assert m.default_unique_name("SOC Automation (Contoso)") == "mtp-soc-automation-contoso"


@pytest.mark.parametrize("name", ["bad name", "quote'd", "", "-lead", "a/b", "x" * 121])
def test_invalid_unique_name(name):
    with pytest.raises(MtpConfigError) as exc:
        m.validate_unique_name(name)
    assert exc.value.option == "unique_name"


def test_presets_and_permissions_merge_per_resource():
    merged = m.merge_requests([{"resource": "MTP", "application": ["AdvancedHunting.Read.All", "Incident.Read.All"],
                                "delegated": ["Incident.Read"]}], ["hunting"])
    as_dict = dict(merged)
    assert as_dict[MTP]["application"] == ["AdvancedHunting.Read.All", "Incident.Read.All"]
    assert as_dict[MTP]["delegated"] == ["Incident.Read"]
    assert as_dict[GRAPH]["application"] == ["ThreatHunting.Read.All"]


def test_unknown_preset_and_resource():
    with pytest.raises(MtpConfigError, match="valid presets: hunting, incidents_read, incidents_write"):
        m.merge_requests([], ["nope"])
    with pytest.raises(MtpConfigError, match="neither one of mtp, wdatp, graph"):
        m.merge_requests([{"resource": "defender"}], [])


# --- permission resolution -------------------------------------------------------------------------------

def test_resolve_names_to_ids(sp_docs):
    req = m.merge_requests([{"resource": "mtp", "application": ["AdvancedHunting.Read.All"],
                             "delegated": ["AdvancedHunting.Read"]}], ["hunting"])
    resolved = m.resolve_permissions(req, sp_docs)
    by = dict(((p["resource"], p["type"], p["name"]), p["id"]) for p in resolved)
    assert by[("mtp", "application", "AdvancedHunting.Read.All")] == ADV_HUNTING_ROLE
    assert by[("mtp", "delegated", "AdvancedHunting.Read")] == ADV_HUNTING_SCOPE
    assert by[("graph", "application", "ThreatHunting.Read.All")] == THREAT_HUNTING_ROLE


def test_unknown_name_lists_valid_values(sp_docs):
    req = m.merge_requests([{"resource": "mtp", "application": ["Incidents.Read.All"]}], [])
    with pytest.raises(MtpConfigError) as exc:
        m.resolve_permissions(req, sp_docs)
    assert "Incidents.Read.All" in exc.value.msg
    assert "AdvancedHunting.Read.All, CustomDetections.ReadWrite.All, Incident.Read.All, Incident.ReadWrite.All" \
        in exc.value.msg


def test_scope_given_as_application(sp_docs):
    req = m.merge_requests([{"resource": "mtp", "application": ["Incident.Read"]}], [])
    with pytest.raises(MtpConfigError, match="delegated permission .scope., not an application permission"):
        m.resolve_permissions(req, sp_docs)


def test_role_given_as_delegated(sp_docs):
    req = m.merge_requests([{"resource": "mtp", "delegated": ["Incident.Read.All"]}], [])
    with pytest.raises(MtpConfigError, match="application permission .app role., not a delegated"):
        m.resolve_permissions(req, sp_docs)


def test_guid_escape_hatch_and_shared_id(sp_docs):
    # IntegrationConfiguration.ReadWrite uses one id as both role and scope on WDATP: both maps resolve it
    req = m.merge_requests([{"resource": "wdatp", "application": [INTEGRATION_CONFIG],
                             "delegated": [INTEGRATION_CONFIG]}], [])
    resolved = m.resolve_permissions(req, sp_docs)
    assert [(p["type"], p["name"]) for p in resolved] == [
        ("application", "IntegrationConfiguration.ReadWrite"), ("delegated", "IntegrationConfiguration.ReadWrite")]
    req = m.merge_requests([{"resource": "mtp", "application": [ADV_HUNTING_SCOPE]}], [])
    with pytest.raises(MtpConfigError, match="is a delegated scope"):
        m.resolve_permissions(req, sp_docs)


def test_resource_not_found_and_all_problems_reported(sp_docs):
    other = "11111111-2222-3333-4444-555555555555"
    req = m.merge_requests([{"resource": other, "application": ["X"]},
                            {"resource": "mtp", "application": ["Nope"]}], [])
    with pytest.raises(MtpConfigError) as exc:
        m.resolve_permissions(req, sp_docs)
    assert other in exc.value.msg and "not found in the tenant" in exc.value.msg
    assert "Nope" in exc.value.msg


# --- requiredResourceAccess, assignments, grants ---------------------------------------------------------

def _resolved(sp_docs, **kw):
    return m.resolve_permissions(m.merge_requests([{"resource": "mtp", "application": kw.get("app", []),
                                                    "delegated": kw.get("dlg", [])}], []), sp_docs)


def test_rra_is_compared_as_sets_and_keeps_unmanaged(sp_docs):
    current = [{"resourceAppId": GRAPH, "resourceAccess": [{"id": THREAT_HUNTING_ROLE, "type": "Role"}]},
               {"resourceAppId": MTP, "resourceAccess": [{"id": ADV_HUNTING_SCOPE, "type": "Scope"},
                                                         {"id": ADV_HUNTING_ROLE, "type": "Role"}]}]
    resolved = _resolved(sp_docs, app=["AdvancedHunting.Read.All"], dlg=["AdvancedHunting.Read"])
    target = m.desired_rra(current, resolved, purge=False)
    assert target == m.rra_to_sets(list(reversed(current)))
    purged = m.desired_rra(current, resolved, purge=True)
    assert GRAPH not in purged
    assert purged[MTP] == {(ADV_HUNTING_ROLE, "Role"), (ADV_HUNTING_SCOPE, "Scope")}
    rra = m.sets_to_rra(purged)
    assert rra == [{"resourceAppId": MTP, "resourceAccess": [{"id": ADV_HUNTING_ROLE, "type": "Role"},
                                                             {"id": ADV_HUNTING_SCOPE, "type": "Scope"}]}]


def test_assignment_changes():
    current = [{"id": "a1", "resourceId": "R", "appRoleId": "x"}, {"id": "a2", "resourceId": "R", "appRoleId": "y"}]
    add, remove = m.assignment_changes(current, {("R", "x"), ("R", "z")}, purge=False)
    assert add == [("r", "z")] and remove == []
    add, remove = m.assignment_changes(current, {("R", "x")}, purge=True)
    assert add == [] and [a["id"] for a in remove] == ["a2"]


def test_grant_scope_merge_never_recreates():
    grants = [{"id": "g1", "resourceId": "R", "scope": "B A", "consentType": "AllPrincipals"},
              {"id": "g2", "resourceId": "S", "scope": "X", "consentType": "AllPrincipals"}]
    assert m.grant_changes(grants, {"R": ["A", "C"]}, purge=False) == [("update", grants[0], "B A C")]
    assert m.grant_changes(grants, {"R": ["A", "B"]}, purge=False) == []
    assert m.grant_changes(grants, {"T": ["A"]}, purge=False) == [("create", "T", "A")]
    assert m.grant_changes(grants, {"R": ["A"]}, purge=True) == [("update", grants[0], "A"),
                                                                 ("delete", grants[1], None)]


# --- credentials -----------------------------------------------------------------------------------------

NOW = datetime.datetime(2026, 6, 1, 12, 0, 0)


def _pw(label, end):
    return {"keyId": label + end, "displayName": label, "endDateTime": end, "hint": "abc"}


def test_secret_rotation_decision():
    mine = m.secret_label("k") + "2026-01-01T00:00:00Z"
    fresh = _pw(mine, "2027-01-01T00:00:00Z")
    assert m.secret_plan([fresh], "k", NOW, 30) == (False, fresh, [])
    due = _pw(mine, "2026-06-20T00:00:00.1234567Z")
    assert m.secret_plan([due], "k", NOW, 30) == (True, None, [])
    assert m.secret_plan([due], "k", NOW, 10)[0] is False
    expired = _pw(mine, "2026-05-01T00:00:00Z")
    assert m.secret_plan([expired, fresh], "k", NOW, 30) == (False, fresh, [expired])
    foreign = _pw("portal secret", "2026-06-02T00:00:00Z")
    assert m.secret_plan([foreign], "k", NOW, 30) == (True, None, [])
    other_key = _pw(m.secret_label("k2") + "x", "2027-01-01T00:00:00Z")
    assert m.secret_plan([other_key], "k", NOW, 30)[0] is True


def test_certificate_thumbprint(tmp_path):
    trustme = pytest.importorskip("trustme")
    ca = trustme.CA()
    cert = ca.issue_cert(u"app.example")
    pem = cert.cert_chain_pems[0].bytes()
    path = tmp_path / "c.pem"
    path.write_bytes(pem + cert.private_key_pem.bytes())
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes
    expected = x509.load_pem_x509_certificate(pem).fingerprint(hashes.SHA1()).hex().upper()
    info = m.load_certificate(path=str(path))
    assert info["thumbprint"] == expected and info["has_private_key"]
    entry = m.certificate_entry(info, "k")
    assert m.key_thumbprint(entry) == expected
    assert m.key_thumbprint({"customKeyIdentifier": expected.lower()}) == expected
    assert m.load_certificate(content=pem.decode())["has_private_key"] is False
    with pytest.raises(MtpConfigError):
        m.load_certificate(content="-----BEGIN PRIVATE KEY-----\nAA==\n-----END PRIVATE KEY-----")


def test_secret_dest_checked_and_written_atomically(tmp_path):
    with pytest.raises(MtpConfigError, match="not an existing directory"):
        m.check_secret_dest(str(tmp_path / "missing" / "s"))
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o500)
    try:
        if not os.access(str(ro), os.W_OK):  # root can write anyway
            with pytest.raises(MtpConfigError, match="not writable"):
                m.check_secret_dest(str(ro / "s"))
    finally:
        ro.chmod(0o700)
    dest = tmp_path / "secret"
    m.check_secret_dest(str(dest))
    m.write_secret_file(str(dest), "value-1")
    assert dest.read_text() == "value-1"
    assert stat.S_IMODE(os.stat(str(dest)).st_mode) == 0o600
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".mtp-secret-")] == []


# --- error classification --------------------------------------------------------------------------------

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
def test_classify(status, code, message, details, fresh, expected):
    assert m.classify(status, code, message, details, fresh=fresh) == expected


def test_error_info_reads_graph_envelope():
    exc = MtpApiError("x", status=400, body={"error": {"code": "Request_BadRequest", "message": "m",
                                                       "details": [{"code": "NoBackingApplicationObject"}]}})
    assert m.error_info(exc) == (400, "Request_BadRequest", "m", ["NoBackingApplicationObject"])


# =========================================================================================================
# Whole runs: the real MtpClient against the emulator's Flask app, in-process (a requests transport adapter
# hands each request to the WSGI app; a connection reset injected by the emulator becomes a requests
# ConnectionError, as over a socket).
# =========================================================================================================

try:
    from mtp_emulator import seed as emulator_seed
except ImportError:  # the whole-run tests below need the emulator package (tests/unit/requirements.txt)
    emulator_seed = None

needs_emulator = pytest.mark.skipif(emulator_seed is None, reason="mtp_emulator is not installed")


class _WsgiAdapter(object):
    def __init__(self, wsgi_app):
        from werkzeug.test import Client
        self.client = Client(wsgi_app)

    def send(self, request, **kwargs):
        import requests
        from requests.structures import CaseInsensitiveDict
        from urllib.parse import urlsplit
        parts = urlsplit(request.url)
        try:
            resp = self.client.open(parts.path, method=request.method, query_string=parts.query,
                                    headers=dict(request.headers), data=request.body,
                                    base_url="%s://%s" % (parts.scheme, parts.netloc))
            content = resp.get_data()
        except Exception as exc:  # the emulator's fault middleware drops the "connection"
            if exc.__class__.__name__ == "FaultConnectionReset":
                raise requests.exceptions.ConnectionError("('Connection aborted.', ConnectionResetError(104))")
            raise
        out = requests.Response()
        out.status_code = resp.status_code
        out.headers = CaseInsensitiveDict(dict(resp.headers))
        out._content = content
        out.url = request.url
        out.request = request
        return out

    def close(self):
        pass


class _Token(object):
    def __init__(self, token):
        self.token = token


class _Auth(object):
    """Stands in for MtpAuthenticator: a token minted by the emulator's own token service code."""

    def __init__(self, state, tenant, app_id, roles):
        from mtp_emulator import tokens
        self.value = tokens.issue_access_token(state, tenant, audience="https://graph.microsoft.com",
                                               app_id=app_id, roles=roles)[0]

    def get_token(self, api, force_refresh=False):
        return _Token(self.value)


ADMIN_ROLES = ["Application.ReadWrite.All", "AppRoleAssignment.ReadWrite.All",
               "DelegatedPermissionGrant.ReadWrite.All"]


class Emu(object):
    def __init__(self, roles=None):
        from mtp_emulator.app import create_app
        from ansible_collections.m365.defender.plugins.module_utils._http import MtpClient, build_session
        from ansible_collections.m365.defender.plugins.module_utils._options import MtpOptionAdapter
        self.state = emulator_seed.new_state()
        self.app = create_app(self.state)
        self.tenant = list(self.state.tenants.values())[0]
        adapter = MtpOptionAdapter.from_dict({"tenant_id": self.tenant.id, "client_id": "x",
                                              "graph_url": "https://graph.emu.test",
                                              "authority_host": "https://login.emu.test",
                                              "api_url": "https://api.emu.test", "retries": 2})
        session = build_session(adapter)
        session.mount("https://", _WsgiAdapter(self.app.wsgi_app))
        self.client = MtpClient(adapter, authenticator=_Auth(self.state, self.tenant, "admin",
                                                             ADMIN_ROLES if roles is None else roles),
                                session=session)
        self.client.sleep = lambda s: None

    def stats(self):
        return self.state.stats.snapshot()

    def reset_stats(self):
        self.state.stats.reset()

    def apps(self, unique_name=None, deleted=False):
        return [a for a in self.tenant.directory.iter("application", include_deleted=deleted, replicated_only=False)
                if unique_name is None or a.get("uniqueName") == unique_name]

    def run(self, check_mode=False, **params):
        base = {"unique_name": "mtp-soc", "display_name": "SOC automation", "state": "present",
                "credential": "secret", "rotate_before_days": 30, "replication_timeout": 5}
        base.update(params)
        warnings = []
        setup = m.AppSetup(self.client, base, check_mode=check_mode, warn=warnings.append, sleep=lambda s: None)
        result = setup.run()
        result["warnings"] = warnings
        return result


FULL = dict(presets=["hunting"], permissions=[{"resource": "mtp", "application": ["Incident.Read.All"],
                                               "delegated": ["AdvancedHunting.Read"]}])


@needs_emulator
def test_first_run_then_noop_is_two_requests_zero_writes():
    emu = Emu()
    first = emu.run(**FULL)
    assert first["changed"] is True
    assert first["client_secret"] and len(first["client_secret"]) >= 16
    assert first["consented"] is True
    assert {(p["resource"], p["name"]) for p in first["permissions"]} == {
        ("graph", "ThreatHunting.Read.All"), ("mtp", "AdvancedHunting.Read.All"), ("mtp", "Incident.Read.All"),
        ("mtp", "AdvancedHunting.Read")}
    assert len(emu.apps("mtp-soc")) == 1
    sp = emu.tenant.directory.service_principal_by_app_id(first["app_id"], replicated_only=False)
    assert sp["id"] == first["service_principal_id"]
    held = {a["appRoleId"] for a in emu.tenant.directory.app_role_assignments(principal_id=sp["id"])}
    assert held == {ADV_HUNTING_ROLE, THREAT_HUNTING_ROLE, "a9790345-4595-42e4-971a-ccdc79f19b7c"}
    emu.reset_stats()
    sent_before = emu.client.stats["requests"]
    second = emu.run(**FULL)
    stats = emu.stats()
    # on the wire: two $batch calls (the emulator's stats also count the items it runs inside a batch)
    assert emu.client.stats["requests"] - sent_before == 2
    assert stats["requests"]["POST /v1.0/$batch"] == {"200": 2}
    assert set(stats["requests_by_method"]) == {"GET", "POST"}
    assert second["changed"] is False, second["plan"]
    assert "client_secret" not in second
    assert second["credential"]["key_id"] == first["credential"]["key_id"]
    assert stats["graph_directory_writes"] == 0, stats["requests"]
    assert second["diff"]["before"] == second["diff"]["after"]


@needs_emulator
def test_check_mode_writes_nothing_and_predicts():
    emu = Emu()
    emu.reset_stats()
    result = emu.run(check_mode=True, **FULL)
    assert result["changed"] is True
    assert emu.stats()["graph_directory_writes"] == 0
    assert emu.apps() and not emu.apps("mtp-soc")
    methods = [(s["method"], s["path"]) for s in result["plan"]]
    assert ("PATCH", "/applications(uniqueName='mtp-soc')") in methods
    assert ("POST", "/servicePrincipals") in methods
    assert "client_secret" not in result
    assert "application AdvancedHunting.Read.All" not in result["diff"]["after"]["required_resource_access"]
    assert "application mtp:AdvancedHunting.Read.All" in result["diff"]["after"]["required_resource_access"]
    assert result["diff"]["before"]["application"] is None


@needs_emulator
def test_adding_a_permission_then_purge():
    emu = Emu()
    emu.run(presets=["hunting"])
    more = emu.run(presets=["hunting"], permissions=[{"resource": "wdatp", "application": ["Alert.Read.All"]}])
    assert more["changed"] is True
    assert "wdatp:Alert.Read.All" in more["diff"]["after"]["app_role_assignments"]
    assert "wdatp:Alert.Read.All" not in more["diff"]["before"]["app_role_assignments"]
    # without purge the extra permission stays; with purge it goes
    again = emu.run(presets=["hunting"])
    assert again["changed"] is False
    purged = emu.run(presets=["hunting"], purge_permissions=True)
    assert purged["changed"] is True
    assert "wdatp:Alert.Read.All" not in purged["diff"]["after"]["app_role_assignments"]
    assert emu.run(presets=["hunting"], purge_permissions=True)["changed"] is False


@needs_emulator
def test_rotation_when_secret_nears_expiry():
    emu = Emu()
    first = emu.run(presets=["hunting"], secret_lifetime_days=20)
    assert first["changed"]
    rotated = emu.run(presets=["hunting"], rotate_before_days=30)
    assert rotated["changed"] is True and rotated["client_secret"] != first["client_secret"]
    assert rotated["credential"]["key_id"] != first["credential"]["key_id"]
    app = emu.apps("mtp-soc")[0]
    assert len(app["passwordCredentials"]) == 2  # the due one is kept until it expires
    assert emu.run(presets=["hunting"], rotate_before_days=30)["changed"] is False


@needs_emulator
def test_bad_input_changes_nothing():
    emu = Emu()
    emu.reset_stats()
    with pytest.raises(MtpConfigError, match="Incidents.Read.All"):
        emu.run(permissions=[{"resource": "mtp", "application": ["Incidents.Read.All"]}])
    with pytest.raises(MtpConfigError, match="not an application permission"):
        emu.run(permissions=[{"resource": "graph", "application": ["ThreatHunting.Read.All"]},
                             {"resource": "mtp", "application": ["Incident.Read"]}])
    with pytest.raises(MtpConfigError, match="not found in the tenant"):
        emu.run(permissions=[{"resource": "11111111-2222-3333-4444-555555555555", "application": ["X"]}])
    with pytest.raises(MtpConfigError, match="secret_dest"):
        emu.run(presets=["hunting"], secret_dest="/nonexistent-dir/secret")
    assert emu.stats()["graph_directory_writes"] == 0
    assert not emu.apps("mtp-soc")


@needs_emulator
def test_caller_without_application_readwrite_gets_403_naming_the_role():
    emu = Emu(roles=["Application.Read.All"])
    with pytest.raises(MtpApiError) as exc:
        emu.run(presets=["hunting"])
    assert exc.value.status == 403
    assert "Application.ReadWrite.All" in str(exc.value)
    assert not emu.apps("mtp-soc")


@needs_emulator
def test_commit_then_reset_on_every_write_leaves_exactly_one_app():
    emu = Emu()
    emu.state.config.faults.reset = {"PATCH /v1.0/*": "after", "POST /v1.0/servicePrincipals*": "after",
                                     "POST /v1.0/oauth2PermissionGrants*": "after"}
    result = emu.run(credential="none", **FULL)
    assert result["changed"] is True
    assert len(emu.apps("mtp-soc")) == 1
    sps = [s for s in emu.tenant.directory.iter("servicePrincipal", replicated_only=False)
           if s["appId"] == result["app_id"]]
    assert len(sps) == 1
    emu.state.config.faults.reset = {}
    assert emu.run(credential="none", **FULL)["changed"] is False


@needs_emulator
def test_lost_addpassword_answer_leaves_no_orphan_secret():
    emu = Emu()
    emu.run(presets=["hunting"], credential="none")
    emu.state.config.faults.reset = {"POST /v1.0/applications/*/addPassword": "after"}
    with pytest.raises(MtpApiError):
        emu.run(presets=["hunting"])
    assert emu.apps("mtp-soc")[0]["passwordCredentials"] == []


@needs_emulator
def test_adopt_by_app_id_and_by_display_name():
    emu = Emu()
    legacy = emu.tenant.directory.add("application", {"appId": "aaaaaaaa-0000-4000-8000-000000000001",
                                                      "displayName": "Legacy SOC", "uniqueName": None,
                                                      "requiredResourceAccess": [], "passwordCredentials": [],
                                                      "keyCredentials": []})
    legacy["_created"] = 0
    result = emu.run(unique_name="mtp-legacy", app_id=legacy["appId"], presets=["hunting"], credential="none")
    assert result["changed"] and result["object_id"] == legacy["id"]
    assert legacy["uniqueName"] == "mtp-legacy"
    assert len(emu.apps()) == len(set(a["id"] for a in emu.apps()))
    other = emu.tenant.directory.add("application", {"appId": "aaaaaaaa-0000-4000-8000-000000000002",
                                                     "displayName": "Named SOC", "uniqueName": None,
                                                     "requiredResourceAccess": [], "passwordCredentials": [],
                                                     "keyCredentials": []})
    other["_created"] = 0
    adopted = emu.run(unique_name="mtp-named", display_name="Named SOC", adopt_by_display_name=True,
                      presets=["hunting"], credential="none")
    assert adopted["object_id"] == other["id"] and adopted.get("adopted")
    emu.tenant.directory.add("application", {"appId": "aaaaaaaa-0000-4000-8000-000000000003",
                                             "displayName": "Twin", "uniqueName": None})["_created"] = 0
    emu.tenant.directory.add("application", {"appId": "aaaaaaaa-0000-4000-8000-000000000004",
                                             "displayName": "Twin", "uniqueName": None})["_created"] = 0
    with pytest.raises(MtpConfigError, match="exactly one"):
        emu.run(unique_name="mtp-twin", display_name="Twin", adopt_by_display_name=True, credential="none")


@needs_emulator
def test_absent_soft_delete_then_restore_then_purge():
    emu = Emu()
    first = emu.run(**FULL)
    gone = emu.run(state="absent")
    assert gone["changed"] is True and any("stays reserved" in w for w in gone["warnings"])
    assert not emu.apps("mtp-soc") and emu.apps("mtp-soc", deleted=True)
    assert emu.run(state="absent")["changed"] is False
    with pytest.raises(MtpApiError, match="restore_deleted"):
        emu.run(**FULL)
    back = emu.run(restore_deleted=True, **FULL)
    assert back["changed"] is True and back.get("restored") and back["object_id"] == first["object_id"]
    assert emu.run(**FULL)["changed"] is False
    emu.run(state="absent", purge=True)
    assert not emu.apps("mtp-soc", deleted=True) and not emu.apps("mtp-soc")


@needs_emulator
def test_federated_credential_is_upserted_by_name():
    emu = Emu()
    fed = {"name": "github-main", "issuer": "https://token.actions.githubusercontent.com",
           "subject": "repo:org/repo:ref:refs/heads/main"}
    first = emu.run(presets=["hunting"], credential="federated", federated=fed)
    assert first["credential"]["name"] == "github-main"
    assert emu.run(presets=["hunting"], credential="federated", federated=fed)["changed"] is False
    changed = emu.run(presets=["hunting"], credential="federated", federated=dict(fed, subject="repo:org/repo:x"))
    assert changed["changed"] is True
    assert changed["diff"]["before"]["credential"]["subject"] == fed["subject"]


@needs_emulator
def test_absent_in_check_mode_writes_nothing():
    emu = Emu()
    emu.run(**FULL)
    emu.reset_stats()
    predicted = emu.run(check_mode=True, state="absent")
    assert predicted["changed"] is True
    assert [s["method"] for s in predicted["plan"]] == ["DELETE", "DELETE", "DELETE"]  # grant, SP, app
    assert emu.stats()["graph_directory_writes"] == 0
    assert len(emu.apps("mtp-soc")) == 1
