# -*- coding: utf-8 -*-
# Copyright (c) m365.defender contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Unit tests of _app_setup: whole runs of the ensure_* steps against the emulator's Graph directory served
in-process (Flask test client, no sockets), with the emulator's stats counting every directory write. The pure
parts are tested in test_app_permissions.py, test_app_credentials.py, test_app_readiness.py and
test_graph_directory.py, which do not import the emulator."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import datetime

import pytest

from ansible_collections.m365.defender.plugins.module_utils import _app_setup as m
from ansible_collections.m365.defender.plugins.module_utils._errors import MtpApiError, MtpConfigError

MTP = "8ee8fdad-f234-4243-8f3b-15c294843740"
# ids as published (docs/developer/reference/graph-app-setup.md §10), independent of the code under test
ADV_HUNTING_ROLE = "7734e8e5-8dde-42fc-b5ae-6eafea078693"
THREAT_HUNTING_ROLE = "dd98c7f5-2d42-42d3-a0e4-633161547251"


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


# --- every input is checked before the first write (issue 12, defect 5) ------------------------------------

def _certificate_pem(not_before, not_after):
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import rsa
    from cryptography.x509.oid import NameOID

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, u"app.example")])
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(not_before).not_valid_after(not_after)
            .sign(key, hashes.SHA256()))
    return cert.public_bytes(serialization.Encoding.PEM).decode("ascii")


def _refused_before_any_write(emu, option, match, **params):
    emu.reset_stats()
    with pytest.raises(MtpConfigError, match=match) as exc:
        emu.run(**params)
    assert exc.value.option == option
    assert emu.stats()["graph_directory_writes"] == 0, emu.stats()["requests"]
    assert not emu.apps(params.get("unique_name", "mtp-soc"))
    return exc.value


GOOD_FED = {"name": "github-main", "issuer": "https://token.actions.githubusercontent.com",
            "subject": "repo:org/repo:ref:refs/heads/main", "audiences": ["api://AzureADTokenExchange"]}


@needs_emulator
@pytest.mark.parametrize("federated,match", [
    (dict(GOOD_FED, name="main branch/prod"), "federated.name 'main branch/prod' is invalid"),
    (dict(GOOD_FED, name="x" * 121), "federated.name .* is invalid"),
    (dict(GOOD_FED, issuer="token.actions.githubusercontent.com"), "federated.issuer .* is invalid"),
    (dict(GOOD_FED, audiences=["api://AzureADTokenExchange", "api://other"]), "exactly one value"),
])
def test_federated_credential_graph_would_refuse_writes_nothing(federated, match):
    _refused_before_any_write(Emu(), "federated", match, credential="federated", federated=federated, **FULL)


@needs_emulator
def test_display_name_is_required_to_create_the_app():
    emu = Emu()
    err = _refused_before_any_write(emu, "display_name", "display_name is required to create the application",
                                    unique_name="mtp-nameless", display_name=None, presets=["hunting"])
    assert "mtp-nameless" in err.msg
    # an app that exists is found by its key: no display_name needed then
    emu.run(unique_name="mtp-named", presets=["hunting"], credential="none")
    assert emu.run(unique_name="mtp-named", display_name=None, presets=["hunting"], credential="none")[
        "changed"] is False


@needs_emulator
def test_secret_lifetime_past_the_maximum_writes_nothing():
    err = _refused_before_any_write(Emu(), "secret_lifetime_days", "between 1 and 730", secret_lifetime_days=3650,
                                    **FULL)
    assert "3650" in err.msg


@needs_emulator
def test_expired_certificate_is_refused_before_upload():
    pem = _certificate_pem(datetime.datetime(2020, 1, 1), datetime.datetime(2021, 1, 1))
    _refused_before_any_write(Emu(), "certificate", "expired on 2021-01-01T00:00:00Z", credential="certificate",
                              certificate={"content": pem}, **FULL)


@needs_emulator
def test_certificate_not_valid_yet_is_refused_before_upload():
    start = datetime.datetime.now(datetime.timezone.utc).replace(tzinfo=None, microsecond=0) \
        + datetime.timedelta(days=30)
    pem = _certificate_pem(start, start + datetime.timedelta(days=365))
    _refused_before_any_write(Emu(), "certificate", "is not valid before", credential="certificate",
                              certificate={"content": pem}, **FULL)


@needs_emulator
def test_valid_certificate_is_uploaded_once():
    now = datetime.datetime.now(datetime.timezone.utc).replace(tzinfo=None, microsecond=0)
    pem = _certificate_pem(now - datetime.timedelta(days=1), now + datetime.timedelta(days=365))
    emu = Emu()
    first = emu.run(credential="certificate", certificate={"content": pem}, presets=["hunting"])
    assert first["changed"] is True and first["credential"]["type"] == "certificate"
    assert len(emu.apps("mtp-soc")[0]["keyCredentials"]) == 1
    assert emu.run(credential="certificate", certificate={"content": pem}, presets=["hunting"])["changed"] is False


@needs_emulator
def test_check_mode_on_an_existing_app_predicts_the_new_permission():
    emu = Emu()
    emu.run(presets=["hunting"])
    emu.reset_stats()
    predicted = emu.run(check_mode=True, presets=["hunting"],
                        permissions=[{"resource": "WindowsDefenderATP", "application": ["Alert.Read.All"]}])
    assert predicted["changed"] is True
    assert "application wdatp:Alert.Read.All" in predicted["diff"]["after"]["required_resource_access"]
    assert "application wdatp:Alert.Read.All" not in predicted["diff"]["before"]["required_resource_access"]
    assert "wdatp:Alert.Read.All" in predicted["diff"]["after"]["app_role_assignments"]
    assert emu.stats()["graph_directory_writes"] == 0


@needs_emulator
def test_check_mode_refuses_bad_input_too():
    emu = Emu()
    with pytest.raises(MtpConfigError, match="federated.name"):
        emu.run(check_mode=True, credential="federated", federated=dict(GOOD_FED, name="a b"), presets=["hunting"])


# =========================================================================================================
# Native apps (client_type: public) and delegated consent (consent: all_principals | principal | none)
# =========================================================================================================

NATIVE = "https://login.microsoftonline.com/common/oauth2/nativeclient"
ANALYST = "analyst@contoso.onmicrosoft.com"
ADV_HUNTING_SCOPE = "15f11de4-5113-4268-a2d1-0bad43d781f9"
INCIDENT_READ_SCOPE = "12c153a4-4204-4224-aa3c-4626e2f47c2b"
SEC_INCIDENT_READ_SCOPE = "b9abcc4f-94fc-4457-9141-d20ce80ec952"
NATIVE_APP = dict(credential=None, client_type="public", unique_name="mtp-native", display_name="SOC runbooks",
                  delegated_presets=["hunting"],
                  permissions=[{"resource": "mtp", "delegated": ["Incident.Read"]},
                               {"resource": "graph", "delegated": ["SecurityIncident.Read.All"]}])


def _with(base, **changes):
    out = dict(base)
    out.update(changes)
    return out


def _grants(emu, sp_id):
    return sorted(({"consentType": g["consentType"], "principalId": g.get("principalId"),
                    "resourceId": g["resourceId"], "scope": g["scope"], "id": g["id"]}
                   for g in emu.tenant.directory.iter("oauth2PermissionGrant", replicated_only=False)
                   if g["clientId"] == sp_id), key=lambda g: (g["resourceId"], g["principalId"] or ""))


def _sp_id(emu, app_id):
    return emu.tenant.directory.service_principal_by_app_id(app_id, replicated_only=False)["id"]


def _user_id(emu, upn):
    return [u for u in emu.tenant.directory.iter("user", replicated_only=False)
            if u["userPrincipalName"] == upn][0]["id"]


@needs_emulator
def test_native_app_with_delegated_permissions_and_admin_consent_then_noop():
    emu = Emu()
    first = emu.run(consent={"type": "all_principals", "users": []}, **NATIVE_APP)
    assert first["changed"] is True
    assert first["client_type"] == "public" and first["credential"] is None and "client_secret" not in first
    app = emu.apps("mtp-native")[0]
    assert app["isFallbackPublicClient"] is True
    assert app["publicClient"]["redirectUris"] == [NATIVE]
    assert app["passwordCredentials"] == [] and app["keyCredentials"] == []
    rra = dict((e["resourceAppId"], sorted((a["id"], a["type"]) for a in e["resourceAccess"]))
               for e in app["requiredResourceAccess"])
    assert rra[MTP] == [(INCIDENT_READ_SCOPE, "Scope"), (ADV_HUNTING_SCOPE, "Scope")]
    assert rra["00000003-0000-0000-c000-000000000000"] == [
        ("b152eca8-ea73-4a48-8c98-1a6742673d99", "Scope"), (SEC_INCIDENT_READ_SCOPE, "Scope")]
    grants = _grants(emu, _sp_id(emu, app["appId"]))
    assert sorted((g["consentType"], g["principalId"], g["scope"]) for g in grants) == [
        ("AllPrincipals", None, "AdvancedHunting.Read Incident.Read"),
        ("AllPrincipals", None, "ThreatHunting.Read.All SecurityIncident.Read.All")]
    assert first["delegated_grants"] == [
        {"resource": "graph", "consent_type": "AllPrincipals", "principal": None,
         "scopes": ["SecurityIncident.Read.All", "ThreatHunting.Read.All"]},
        {"resource": "mtp", "consent_type": "AllPrincipals", "principal": None,
         "scopes": ["AdvancedHunting.Read", "Incident.Read"]}]
    emu.reset_stats()
    second = emu.run(consent={"type": "all_principals", "users": []}, **NATIVE_APP)
    assert second["changed"] is False, second["plan"]
    assert emu.stats()["graph_directory_writes"] == 0
    assert second["diff"]["before"] == second["diff"]["after"]
    assert second["diff"]["after"]["application"] == {"display_name": "SOC runbooks", "unique_name": "mtp-native",
                                                      "client_type": "public",
                                                      "public_client_redirect_uris": [NATIVE]}


@needs_emulator
def test_principal_consent_merges_into_the_users_grant():
    emu = Emu(roles=ADMIN_ROLES + ["User.Read.All"])
    params = _with(NATIVE_APP, delegated_presets=[], permissions=[{"resource": "mtp", "delegated": ["Incident.Read"]}],
                   consent={"type": "principal", "users": [ANALYST]})
    first = emu.run(**params)
    sp_id = _sp_id(emu, first["app_id"])
    user_id = _user_id(emu, ANALYST)
    (grant,) = _grants(emu, sp_id)
    assert (grant["consentType"], grant["principalId"], grant["scope"]) == ("Principal", user_id, "Incident.Read")
    assert first["diff"]["after"]["delegated_grants"] == {"mtp for %s" % ANALYST: ["Incident.Read"]}
    # a scope somebody else consented for the user is kept; the new one is merged by PATCH into the same grant
    emu.tenant.directory.objects[grant["id"]]["scope"] = "Incident.Read Machine.Read"
    more = _with(params, permissions=[{"resource": "mtp", "delegated": ["Incident.Read", "AdvancedHunting.Read"]}])
    emu.reset_stats()
    merged = emu.run(check_mode=True, **more)
    assert merged["changed"] is True and emu.stats()["graph_directory_writes"] == 0
    assert merged["diff"]["before"]["delegated_grants"] == {"mtp for %s" % ANALYST: ["Incident.Read", "Machine.Read"]}
    assert merged["diff"]["after"]["delegated_grants"] == {
        "mtp for %s" % ANALYST: ["AdvancedHunting.Read", "Incident.Read", "Machine.Read"]}
    merged = emu.run(**more)
    assert [(s["method"], s["path"]) for s in merged["plan"]] == [
        ("PATCH", "/applications(uniqueName='mtp-native')"), ("PATCH", "/oauth2PermissionGrants/%s" % grant["id"])]
    (after,) = _grants(emu, sp_id)
    assert (after["id"], after["scope"]) == (grant["id"], "Incident.Read Machine.Read AdvancedHunting.Read")
    assert merged["delegated_grants"] == [{"resource": "mtp", "consent_type": "Principal", "principal": ANALYST,
                                           "scopes": ["AdvancedHunting.Read", "Incident.Read", "Machine.Read"]}]
    assert emu.run(**more)["changed"] is False
    # consent: none declares without consenting: nothing is granted or removed
    assert emu.run(**_with(more, consent={"type": "none", "users": []}))["changed"] is False


@needs_emulator
def test_confidential_app_switched_to_public_in_place():
    emu = Emu()
    conf = emu.run(presets=["hunting"])
    public = emu.run(client_type="public", credential=None, presets=["hunting"])
    assert public["changed"] is True
    assert public["object_id"] == conf["object_id"] and public["app_id"] == conf["app_id"]
    assert len(emu.apps("mtp-soc")) == 1
    assert public["warnings"] == ["client_type=public: the app was confidential and still holds 1 client secret(s) "
                                  "or certificate(s); they are kept (remove them in Entra ID when nothing uses them)"]
    assert public["diff"]["before"]["application"]["client_type"] == "confidential"
    assert public["diff"]["after"]["application"]["client_type"] == "public"
    assert emu.apps("mtp-soc")[0]["isFallbackPublicClient"] is True
    # client_type not set: the app stays public and gets no secret (credential not set means none for it)
    kept = emu.run(credential=None, presets=["hunting"])
    assert kept["changed"] is False and kept["client_type"] == "public" and "client_secret" not in kept
    assert kept["credential"] is None
    back = emu.run(client_type="confidential", credential="none", presets=["hunting"])
    assert back["changed"] is True and emu.apps("mtp-soc")[0]["isFallbackPublicClient"] is False


@pytest.mark.parametrize("params,option,message", [
    (dict(NATIVE_APP, credential="secret"), "credential",
     "client_type=public: a public (native) client has no client secret, certificate or federated credential; "
     "remove credential=secret (or leave credential unset, or set it to none)"),
    (dict(NATIVE_APP, permissions=[{"resource": "mtp", "delegated": ["Incidents.Read"]}]), "permissions",
     "permissions: unknown delegated permission 'Incidents.Read' on mtp; valid values: AdvancedHunting.Read, "
     "CustomDetections.ReadWrite, Incident.Read, Incident.ReadWrite"),
    (dict(NATIVE_APP, permissions=[{"resource": "mtp", "delegated": ["AdvancedHunting.Read.All"]}]), "permissions",
     "permissions: AdvancedHunting.Read.All on mtp is an application permission (app role), not a delegated "
     "permission; list it under application, or pick one of the delegated permissions: AdvancedHunting.Read, "
     "CustomDetections.ReadWrite, Incident.Read, Incident.ReadWrite"),
    (dict(NATIVE_APP, consent={"type": "principal", "users": []}), "consent.users",
     "consent.type=principal needs consent.users: the user principal names (or object ids) of the users to consent "
     "for"),
    (dict(NATIVE_APP, consent={"type": "principal", "users": [ANALYST, "ghost@contoso.onmicrosoft.com"]}),
     "consent.users", "consent.users: no user ghost@contoso.onmicrosoft.com in the tenant (give user principal "
                      "names or object ids of existing users)"),
])
@needs_emulator
def test_bad_native_app_input_writes_nothing(params, option, message):
    emu = Emu(roles=ADMIN_ROLES + ["User.Read.All"])
    emu.reset_stats()
    with pytest.raises(MtpConfigError) as err:
        emu.run(**params)
    assert (err.value.option, str(err.value)) == (option, message)
    assert emu.stats()["graph_directory_writes"] == 0
    assert emu.apps("mtp-native") == []


@needs_emulator
def test_consent_users_without_user_read_names_the_permission():
    emu = Emu()
    emu.reset_stats()
    with pytest.raises(MtpApiError) as err:
        emu.run(consent={"type": "principal", "users": [ANALYST]}, **NATIVE_APP)
    assert err.value.status == 403
    assert "User.Read.All" in str(err.value)
    assert emu.stats()["graph_directory_writes"] == 0
