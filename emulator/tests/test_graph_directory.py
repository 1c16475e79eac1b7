"""Graph v1.0 directory of the emulator, over real HTTPS (conftest ``emulator`` fixture).

Tokens come from the token service's own ``tokens.issue_access_token`` (the unit under test here is the Graph
directory, not the token endpoint).
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import re
import uuid

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from mtp_emulator import tokens

pytestmark = pytest.mark.usefixtures("fresh_emulator")

MTP = "8ee8fdad-f234-4243-8f3b-15c294843740"
ADVANCED_HUNTING_ROLE = "7734e8e5-8dde-42fc-b5ae-6eafea078693"  # MTP AdvancedHunting.Read.All (reference §10.1)
INCIDENT_READ_ROLE = "a9790345-4595-42e4-971a-ccdc79f19b7c"
ADMIN_ROLES = ["Application.ReadWrite.All", "AppRoleAssignment.ReadWrite.All",
               "DelegatedPermissionGrant.ReadWrite.All"]
GUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")


class Graph:
    """A tiny Graph client bound to one tenant and one access token."""

    def __init__(self, emulator, roles=tuple(ADMIN_ROLES), tenant_index=0, scp=None,
                 audience="https://graph.microsoft.com"):
        self.emulator = emulator
        self.tenant = emulator.tenant(tenant_index)
        token, _ = tokens.issue_access_token(emulator.state, self.tenant["id"], audience=audience,
                                             app_id=self.tenant["admin_app"]["client_id"], roles=list(roles),
                                             scp=scp)
        self.session = emulator.session()
        self.session.headers["Authorization"] = f"Bearer {token}"
        self.base = f"{emulator.base_url}/v1.0"

    def request(self, method, path, **kwargs):
        kwargs.setdefault("timeout", 30)
        url = path if path.startswith("https://") else f"{self.base}{path}"
        return self.session.request(method, url, **kwargs)

    def get(self, path, **kw):
        return self.request("GET", path, **kw)

    def post(self, path, **kw):
        return self.request("POST", path, **kw)

    def patch(self, path, **kw):
        return self.request("PATCH", path, **kw)

    def delete(self, path, **kw):
        return self.request("DELETE", path, **kw)

    def upsert(self, unique_name, body, create=True):
        headers = {"Prefer": "create-if-missing"} if create else {}
        return self.patch(f"/applications(uniqueName='{unique_name}')", json=body, headers=headers)

    def sp_by_app_id(self, app_id):
        resp = self.get(f"/servicePrincipals(appId='{app_id}')")
        assert resp.status_code == 200, resp.text
        return resp.json()


def error_of(resp, status, code=None):
    assert resp.status_code == status, resp.text
    err = resp.json()["error"]
    if code:
        assert err["code"] == code, err
    assert set(err["innerError"]) >= {"date", "request-id", "client-request-id"}
    return err


def make_cert_der(cn="mtp-test"):
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])
    now = dt.datetime.now(dt.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - dt.timedelta(days=1))
            .not_valid_after(now + dt.timedelta(days=365)).sign(key, hashes.SHA256()))
    return cert.public_bytes(serialization.Encoding.DER)


@pytest.fixture
def graph(emulator):
    return Graph(emulator)


# --- applications -------------------------------------------------------------------------------------------

def test_create_and_get_by_each_key(graph):
    resp = graph.post("/applications", json={"displayName": "Key test", "uniqueName": "key-test",
                                             "signInAudience": "AzureADMyOrg"})
    assert resp.status_code == 201, resp.text
    app = resp.json()
    assert app["@odata.context"].endswith("/v1.0/$metadata#applications/$entity")
    assert GUID.match(app["id"]) and GUID.match(app["appId"]) and app["id"] != app["appId"]
    assert app["publisherDomain"] == "contoso.onmicrosoft.com"
    dt.datetime.strptime(app["createdDateTime"], "%Y-%m-%dT%H:%M:%SZ")
    assert app["uniqueName"] == "key-test" and app["signInAudience"] == "AzureADMyOrg"
    for path in (f"/applications/{app['id']}", f"/applications(appId='{app['appId']}')",
                 "/applications(uniqueName='key-test')", "/applications(uniqueName='KEY-TEST')"):
        got = graph.get(path)
        assert got.status_code == 200, (path, got.text)
        assert got.json()["id"] == app["id"]
    sel = graph.get("/applications(uniqueName='key-test')?$select=id,displayName").json()
    assert set(sel) == {"@odata.context", "id", "displayName"}
    assert sel["@odata.context"].endswith("$metadata#applications(id,displayName)/$entity")


def test_post_refuses_client_chosen_secret(graph):
    resp = graph.post("/applications", json={"displayName": "x", "passwordCredentials": [
        {"displayName": "mine", "secretText": "my-own-secret-value-123456"}]})
    err = error_of(resp, 400, "Request_BadRequest")
    assert err["message"].startswith("New password credentials must be generated using service actions")
    assert "my-own-secret" not in resp.text


def test_post_with_taken_unique_name_is_400(graph):
    assert graph.post("/applications", json={"displayName": "a", "uniqueName": "taken"}).status_code == 201
    err = error_of(graph.post("/applications", json={"displayName": "b", "uniqueName": "taken"}), 400,
                   "Request_BadRequest")
    assert err["message"].startswith("Another object with the same value for property uniqueName already exists")
    names = [a["uniqueName"] for a in graph.get("/applications").json()["value"]]
    assert names.count("taken") == 1


@pytest.mark.parametrize("name", ["has space", "a/b", "quo'te", "-leading-dash", "x" * 121, "ümlaut", ""])
def test_unique_name_characters_are_validated(graph, name):
    error_of(graph.post("/applications", json={"displayName": "x", "uniqueName": name}), 400, "Request_BadRequest")


def test_upsert_codes_201_204_404(graph):
    error_of(graph.upsert("ups-1", {"displayName": "Upsert"}, create=False), 404, "Request_ResourceNotFound")
    created = graph.upsert("ups-1", {"displayName": "Upsert", "tags": ["a"]})
    assert created.status_code == 201, created.text
    body = created.json()
    assert body["uniqueName"] == "ups-1" and body["displayName"] == "Upsert" and body["tags"] == ["a"]
    assert GUID.match(body["appId"])
    again = graph.upsert("ups-1", {"displayName": "Upsert renamed"})
    assert again.status_code == 204 and again.content == b""
    without_header = graph.upsert("ups-1", {"notes": "n"}, create=False)
    assert without_header.status_code == 204
    got = graph.get("/applications(uniqueName='ups-1')").json()
    assert (got["id"], got["displayName"], got["notes"], got["tags"]) == (body["id"], "Upsert renamed", "n", ["a"])
    apps = graph.get("/applications?$filter=uniqueName eq 'ups-1'").json()["value"]
    assert len(apps) == 1


def test_upsert_create_needs_display_name_and_valid_key(graph):
    error_of(graph.upsert("ups-2", {"notes": "no name"}), 400, "Request_BadRequest")
    error_of(graph.upsert("ups 2", {"displayName": "bad key"}), 400, "Request_BadRequest")
    error_of(graph.upsert("ups-3", {"displayName": "x", "uniqueName": "other"}), 400, "Request_BadRequest")
    error_of(graph.upsert("ups-4", {"displayName": "x", "passwordCredentials": [{"displayName": "p"}]}), 400)
    assert graph.get("/applications(uniqueName='ups-2')").status_code == 404


def test_patch_by_each_key_replaces_collections_whole(graph):
    app = graph.post("/applications", json={"displayName": "P", "uniqueName": "patch-me"}).json()
    rra_two = [{"resourceAppId": MTP, "resourceAccess": [{"id": ADVANCED_HUNTING_ROLE, "type": "Role"}]},
               {"resourceAppId": "00000003-0000-0000-c000-000000000000",
                "resourceAccess": [{"id": "dd98c7f5-2d42-42d3-a0e4-633161547251", "type": "Role"}]}]
    assert graph.patch(f"/applications/{app['id']}", json={"requiredResourceAccess": rra_two}).status_code == 204
    assert len(graph.get(f"/applications/{app['id']}").json()["requiredResourceAccess"]) == 2
    rra_one = [{"resourceAppId": MTP, "resourceAccess": [{"id": INCIDENT_READ_ROLE, "type": "Role"}]}]
    resp = graph.patch(f"/applications(appId='{app['appId']}')", json={"requiredResourceAccess": rra_one})
    assert resp.status_code == 204
    assert graph.get(f"/applications/{app['id']}").json()["requiredResourceAccess"] == rra_one
    assert graph.patch("/applications(uniqueName='patch-me')", json={"tags": ["x", "y"]}).status_code == 204
    assert graph.patch("/applications(uniqueName='patch-me')", json={"tags": ["z"]}).status_code == 204
    got = graph.get(f"/applications/{app['id']}").json()
    assert got["tags"] == ["z"] and got["requiredResourceAccess"] == rra_one
    bad = [{"resourceAppId": MTP, "resourceAccess": [{"id": ADVANCED_HUNTING_ROLE, "type": "Application"}]}]
    error_of(graph.patch(f"/applications/{app['id']}", json={"requiredResourceAccess": bad}), 400)
    error_of(graph.patch(f"/applications/{uuid.uuid4()}", json={"tags": []}), 404, "Request_ResourceNotFound")


def test_unique_name_settable_only_while_null(graph):
    app = graph.post("/applications", json={"displayName": "Legacy"}).json()
    assert app["uniqueName"] is None
    assert graph.patch(f"/applications/{app['id']}", json={"uniqueName": "legacy-1"}).status_code == 204
    assert graph.get("/applications(uniqueName='legacy-1')").json()["id"] == app["id"]
    assert graph.patch(f"/applications/{app['id']}", json={"uniqueName": "legacy-1"}).status_code == 204
    error_of(graph.patch(f"/applications/{app['id']}", json={"uniqueName": "legacy-2"}), 400, "Request_BadRequest")
    other = graph.post("/applications", json={"displayName": "Other"}).json()
    err = error_of(graph.patch(f"/applications/{other['id']}", json={"uniqueName": "legacy-1"}), 400)
    assert "already exists" in err["message"]


def test_soft_delete_restore_purge_and_name_reservation(graph):
    app = graph.upsert("doomed", {"displayName": "Doomed"}).json()
    assert graph.delete(f"/applications/{app['id']}").status_code == 204
    error_of(graph.get(f"/applications/{app['id']}"), 404, "Request_ResourceNotFound")
    error_of(graph.get("/applications(uniqueName='doomed')"), 404)
    listed = graph.get("/directory/deletedItems/microsoft.graph.application")
    assert listed.status_code == 200
    deleted = [a for a in listed.json()["value"] if a["id"] == app["id"]]
    assert len(deleted) == 1 and deleted[0]["uniqueName"] == "doomed" and deleted[0]["deletedDateTime"]
    # the name stays reserved while the app is in the recycle bin
    err = error_of(graph.upsert("doomed", {"displayName": "Again"}), 400, "Request_BadRequest")
    assert err["message"].startswith("Another object with the same value for property uniqueName already exists")
    error_of(graph.post("/applications", json={"displayName": "Again", "uniqueName": "doomed"}), 400)
    error_of(graph.upsert("doomed", {"displayName": "Again"}, create=False), 400)
    one = graph.get(f"/directory/deletedItems/{app['id']}").json()
    assert one["@odata.type"] == "#microsoft.graph.application" and one["appId"] == app["appId"]
    restored = graph.post(f"/directory/deletedItems/{app['id']}/restore")
    assert restored.status_code == 200 and restored.json()["id"] == app["id"]
    assert restored.json()["deletedDateTime"] is None
    assert graph.get("/applications(uniqueName='doomed')").json()["id"] == app["id"]
    assert all(a["id"] != app["id"] for a in
               graph.get("/directory/deletedItems/microsoft.graph.application").json()["value"])
    # delete again, then purge: gone for good and the name is free
    assert graph.delete("/applications(uniqueName='doomed')").status_code == 204
    assert graph.delete(f"/directory/deletedItems/{app['id']}").status_code == 204
    error_of(graph.get(f"/directory/deletedItems/{app['id']}"), 404)
    error_of(graph.post(f"/directory/deletedItems/{app['id']}/restore"), 404)
    recreated = graph.upsert("doomed", {"displayName": "Reborn"})
    assert recreated.status_code == 201 and recreated.json()["id"] != app["id"]


# --- list, OData --------------------------------------------------------------------------------------------

def test_list_filter_select_and_paging_to_the_last_page(graph):
    made = {graph.post("/applications", json={"displayName": f"page-{i}"}).json()["id"] for i in range(5)}
    seen, pages = [], 0
    url = "/applications?$filter=startswith(displayName,'page-')&$top=2&$select=id,displayName"
    while url:
        resp = graph.get(url)
        assert resp.status_code == 200, resp.text
        body = resp.json()
        pages += 1
        assert body["@odata.context"].endswith("$metadata#applications(id,displayName)")
        assert all(set(a) == {"id", "displayName"} for a in body["value"])
        seen += [a["id"] for a in body["value"]]
        url = body.get("@odata.nextLink")
        if url:
            assert url.startswith(graph.base + "/applications?") and "$skiptoken=" in url
    assert pages == 3 and len(seen) == 5 and set(seen) == made
    one = graph.get("/applications?$filter=displayName eq 'page-3'").json()["value"]
    assert [a["displayName"] for a in one] == ["page-3"]
    both = graph.get(f"/applications?$filter=displayName eq 'page-3' and appId eq '{one[0]['appId']}'").json()
    assert [a["id"] for a in both["value"]] == [one[0]["id"]]
    none = graph.get(f"/applications?$filter=displayName eq 'page-2' and appId eq '{one[0]['appId']}'").json()
    assert none["value"] == [] and "@odata.nextLink" not in none


def test_default_page_is_100(graph, emulator):
    seeded = len(graph.get("/applications").json()["value"])
    for i in range(101):
        graph.post("/applications", json={"displayName": f"bulk-{i}"})
    body = graph.get("/applications").json()
    assert len(body["value"]) == 100 and "@odata.nextLink" in body
    rest = graph.get(body["@odata.nextLink"]).json()
    assert len(rest["value"]) == 101 + seeded - 100 and "@odata.nextLink" not in rest
    assert len(graph.get("/applications?$top=999").json()["value"]) == 101 + seeded


@pytest.mark.parametrize("top", ["1000", "0", "-1", "abc"])
def test_top_out_of_range_is_400(graph, top):
    error_of(graph.get(f"/applications?$top={top}"), 400)


@pytest.mark.parametrize("flt,code", [
    ("displayName eq", "BadRequest"),
    ("displayName eq 'unterminated", "BadRequest"),
    ("displayName xx 'a'", "BadRequest"),
    ("(displayName eq 'a'", "BadRequest"),
    ("nosuchprop eq 'a'", "Request_UnsupportedQuery"),
    ("displayName ne 'a'", "Request_UnsupportedQuery"),
    ("endswith(displayName,'a')", "Request_UnsupportedQuery"),
])
def test_bad_filter_is_400(graph, flt, code):
    err = error_of(graph.get("/applications", params={"$filter": flt}), 400, code)
    if code == "BadRequest":
        assert err["message"].startswith("Invalid filter clause")


def test_advanced_query_needs_consistency_level(graph):
    graph.post("/applications", json={"displayName": "adv-a"})
    params = {"$filter": "displayName ne 'adv-a'", "$count": "true"}
    error_of(graph.get("/applications", params=params), 400)
    resp = graph.get("/applications", params=params, headers={"ConsistencyLevel": "eventual"})
    assert resp.status_code == 200
    body = resp.json()
    assert body["@odata.count"] == len(body["value"]) >= 1
    assert "adv-a" not in [a["displayName"] for a in body["value"]]
    # $count without ConsistencyLevel is ignored
    assert "@odata.count" not in graph.get("/applications?$count=true").json()


def test_bad_select_and_skiptoken_are_400(graph):
    err = error_of(graph.get("/applications?$select=id,nosuch"), 400, "BadRequest")
    assert "nosuch" in err["message"]
    error_of(graph.get("/applications?$skiptoken=garbage"), 400)
    error_of(graph.get("/applications?$expand=owners"), 400)


# --- credentials --------------------------------------------------------------------------------------------

def test_add_and_remove_password(graph, emulator):
    app = graph.upsert("pw-app", {"displayName": "PW"}).json()
    resp = graph.post(f"/applications/{app['id']}/addPassword",
                      json={"passwordCredential": {"displayName": "m365.defender:pw-app:1"}})
    assert resp.status_code == 200, resp.text
    cred = resp.json()
    secret = cred["secretText"]
    assert len(secret) == 40 and cred["hint"] == secret[:3] and GUID.match(cred["keyId"])
    assert cred["@odata.context"].endswith("$metadata#microsoft.graph.passwordCredential")
    start = dt.datetime.strptime(cred["startDateTime"], "%Y-%m-%dT%H:%M:%SZ")
    end = dt.datetime.strptime(cred["endDateTime"], "%Y-%m-%dT%H:%M:%SZ")
    assert 729 <= (end - start).days <= 731
    listed = graph.get(f"/applications/{app['id']}?$select=passwordCredentials").json()["passwordCredentials"]
    assert len(listed) == 1 and listed[0]["secretText"] is None and listed[0]["hint"] == secret[:3]
    assert secret not in graph.get(f"/applications/{app['id']}").text
    stored = emulator.state.tenant(graph.tenant["id"]).directory.objects[app["id"]]["passwordCredentials"][0]
    assert stored["_secretHash"] == hashlib.sha256(secret.encode()).hexdigest()
    assert isinstance(stored["_created"], float) and stored["secretText"] is None
    # by appId, with an explicit end date
    second = graph.post(f"/applications(appId='{app['appId']}')/addPassword",
                        json={"passwordCredential": {"displayName": "b", "endDateTime": "2030-01-01T00:00:00Z"}})
    assert second.status_code == 200 and second.json()["endDateTime"] == "2030-01-01T00:00:00Z"
    assert second.json()["secretText"] != secret
    assert graph.post(f"/applications/{app['id']}/removePassword",
                      json={"keyId": cred["keyId"]}).status_code == 204
    left = graph.get(f"/applications/{app['id']}").json()["passwordCredentials"]
    assert [c["keyId"] for c in left] == [second.json()["keyId"]]
    error_of(graph.post(f"/applications/{app['id']}/removePassword", json={"keyId": cred["keyId"]}), 400)
    error_of(graph.post(f"/applications/{app['id']}/removePassword", json={"keyId": "nope"}), 400)
    error_of(graph.post(f"/applications/{uuid.uuid4()}/addPassword", json={}), 404)


def test_key_credentials_by_patch(graph):
    app = graph.upsert("cert-app", {"displayName": "Cert"}).json()
    der1, der2 = make_cert_der("one"), make_cert_der("two")
    thumb1 = hashlib.sha1(der1).hexdigest().upper()  # noqa: S324 - a certificate thumbprint is SHA-1
    entry1 = {"type": "AsymmetricX509Cert", "usage": "Verify", "key": base64.b64encode(der1).decode(),
              "displayName": "CN=one"}
    assert graph.patch(f"/applications/{app['id']}", json={"keyCredentials": [entry1]}).status_code == 204
    plain = graph.get(f"/applications/{app['id']}").json()["keyCredentials"]
    assert len(plain) == 1 and plain[0]["key"] is None
    assert plain[0]["customKeyIdentifier"] == thumb1 and GUID.match(plain[0]["keyId"])
    assert plain[0]["type"] == "AsymmetricX509Cert" and plain[0]["usage"] == "Verify"
    selected = graph.get(f"/applications/{app['id']}?$select=keyCredentials").json()["keyCredentials"]
    assert selected[0]["key"] == base64.b64encode(der1).decode()
    # add a second one by resending the first (whole-collection replacement)
    entry2 = {"type": "AsymmetricX509Cert", "usage": "Verify", "key": base64.b64encode(der2).decode()}
    resp = graph.patch(f"/applications/{app['id']}", json={"keyCredentials": [selected[0], entry2]})
    assert resp.status_code == 204
    both = graph.get(f"/applications/{app['id']}").json()["keyCredentials"]
    assert {k["customKeyIdentifier"] for k in both} == {thumb1, hashlib.sha1(der2).hexdigest().upper()}  # noqa: S324
    assert both[0]["keyId"] == plain[0]["keyId"]
    # dropping it from the array removes it
    assert graph.patch(f"/applications/{app['id']}", json={"keyCredentials": [both[1]]}).status_code == 204
    assert [k["keyId"] for k in graph.get(f"/applications/{app['id']}").json()["keyCredentials"]] == [
        both[1]["keyId"]]
    bad = dict(entry1, key="not-base64!!")
    error_of(graph.patch(f"/applications/{app['id']}", json={"keyCredentials": [bad]}), 400)
    notcert = dict(entry1, key=base64.b64encode(b"hello").decode())
    error_of(graph.patch(f"/applications/{app['id']}", json={"keyCredentials": [notcert]}), 400)


def test_federated_identity_credentials(graph, emulator):
    app = graph.upsert("fic-app", {"displayName": "FIC"}).json()
    base = f"/applications/{app['id']}/federatedIdentityCredentials"
    body = {"name": "gh-main", "issuer": "https://token.actions.githubusercontent.com",
            "subject": "repo:org/repo:ref:refs/heads/main", "audiences": ["api://AzureADTokenExchange"]}
    created = graph.post(base, json=body)
    assert created.status_code == 201, created.text
    fic = created.json()
    assert GUID.match(fic["id"]) and fic["name"] == "gh-main"
    assert fic["@odata.context"].endswith(f"applications('{app['id']}')/federatedIdentityCredentials/$entity")
    error_of(graph.post(base, json=body), 409)
    listed = graph.get("/applications(uniqueName='fic-app')/federatedIdentityCredentials").json()["value"]
    assert [f["id"] for f in listed] == [fic["id"]]
    assert graph.get(f"{base}/{fic['id']}").json()["subject"] == body["subject"]
    assert graph.get(f"{base}(name='gh-main')").json()["id"] == fic["id"]
    # upsert by name: update (204) and create (201); no header on a missing name is 404
    assert graph.patch(f"{base}(name='gh-main')", json={"subject": "repo:org/repo:environment:prod"},
                       headers={"Prefer": "create-if-missing"}).status_code == 204
    assert graph.get(f"{base}(name='gh-main')").json()["subject"] == "repo:org/repo:environment:prod"
    error_of(graph.patch(f"{base}(name='gh-pr')", json={"issuer": body["issuer"], "subject": "s2"}), 404)
    made = graph.patch(f"{base}(name='gh-pr')", json={"issuer": body["issuer"], "subject": "repo:org/repo:pr"},
                       headers={"Prefer": "create-if-missing"})
    assert made.status_code == 201 and made.json()["name"] == "gh-pr"
    assert made.json()["audiences"] == ["api://AzureADTokenExchange"]
    # stored where the token service looks for them
    stored = emulator.state.tenant(graph.tenant["id"]).directory.objects[app["id"]]
    assert {f["name"] for f in tokens.federated_credentials(stored)} == {"gh-main", "gh-pr"}
    assert "federatedIdentityCredentials" not in graph.get(f"/applications/{app['id']}").json()
    assert graph.delete(f"{base}(name='gh-pr')").status_code == 204
    assert graph.delete(f"{base}/{fic['id']}").status_code == 204
    error_of(graph.get(f"{base}/{fic['id']}"), 404)
    assert graph.get(base).json()["value"] == []
    error_of(graph.post(base, json={"name": "no issuer", "subject": "s"}), 400)


def test_federated_identity_credentials_max_20(graph):
    app = graph.upsert("fic-max", {"displayName": "FIC max"}).json()
    base = f"/applications/{app['id']}/federatedIdentityCredentials"
    for i in range(20):
        resp = graph.post(base, json={"name": f"fic-{i}", "issuer": "https://issuer.example", "subject": f"s{i}"})
        assert resp.status_code == 201, resp.text
    error_of(graph.post(base, json={"name": "fic-20", "issuer": "https://issuer.example", "subject": "s20"}), 400)
    assert len(graph.get(base + "?$top=999").json()["value"]) == 20


# --- service principals, assignments, grants ---------------------------------------------------------------

def test_service_principal_create_get_list_conflict(graph):
    app = graph.upsert("sp-app", {"displayName": "SP app"}).json()
    resp = graph.post("/servicePrincipals", json={"appId": app["appId"]})
    assert resp.status_code == 201, resp.text
    sp = resp.json()
    assert sp["appId"] == app["appId"] and sp["appDisplayName"] == "SP app"
    assert sp["@odata.context"].endswith("$metadata#servicePrincipals/$entity") and GUID.match(sp["id"])
    assert sp["servicePrincipalType"] == "Application"
    err = error_of(graph.post("/servicePrincipals", json={"appId": app["appId"]}), 409,
                   "Request_MultipleObjectsWithSameKeyValue")
    assert app["appId"] in err["message"]
    assert graph.get(f"/servicePrincipals/{sp['id']}").json()["appId"] == app["appId"]
    assert graph.sp_by_app_id(app["appId"])["id"] == sp["id"]
    listed = graph.get(f"/servicePrincipals?$filter=appId eq '{app['appId']}'").json()["value"]
    assert [s["id"] for s in listed] == [sp["id"]]
    by_name = graph.get("/servicePrincipals?$filter=displayName eq 'SP app'&$select=id,appId").json()["value"]
    assert by_name == [{"id": sp["id"], "appId": app["appId"]}]
    missing = str(uuid.uuid4())
    err = error_of(graph.post("/servicePrincipals", json={"appId": missing}), 400, "Request_BadRequest")
    assert err["message"] == (f"The appId '{missing}' of the service principal does not reference a valid "
                              "application object.")
    assert err["details"][0]["code"] == "NoBackingApplicationObject"
    error_of(graph.post("/servicePrincipals", json={"appId": app["appId"], "appRoles": []}), 400)


def test_first_party_service_principal_is_created_when_missing(graph):
    mtp_sp = graph.sp_by_app_id(MTP)
    assert graph.delete(f"/servicePrincipals/{mtp_sp['id']}").status_code == 204
    error_of(graph.get(f"/servicePrincipals(appId='{MTP}')"), 404)
    resp = graph.post("/servicePrincipals", json={"appId": MTP})
    assert resp.status_code == 201, resp.text
    created = resp.json()
    assert created["id"] != mtp_sp["id"] and created["displayName"] == "Microsoft Threat Protection"
    assert {r["value"] for r in created["appRoles"]} >= {"AdvancedHunting.Read.All", "Incident.Read.All"}
    assert {s["value"] for s in created["oauth2PermissionScopes"]} >= {"AdvancedHunting.Read"}


def _client_sp(graph, name):
    app = graph.upsert(name, {"displayName": name}).json()
    return app, graph.post("/servicePrincipals", json={"appId": app["appId"]}).json()


def test_app_role_assignments_both_navigations(graph):
    _, client = _client_sp(graph, "assign-app")
    mtp = graph.sp_by_app_id(MTP)
    body = {"principalId": client["id"], "resourceId": mtp["id"], "appRoleId": ADVANCED_HUNTING_ROLE}
    resp = graph.post(f"/servicePrincipals/{mtp['id']}/appRoleAssignedTo", json=body)
    assert resp.status_code == 201, resp.text
    a = resp.json()
    assert (a["principalId"], a["resourceId"], a["appRoleId"], a["principalType"]) == (
        client["id"], mtp["id"], ADVANCED_HUNTING_ROLE, "ServicePrincipal")
    assert a["resourceDisplayName"] == "Microsoft Threat Protection" and a["createdDateTime"]
    err = error_of(graph.post(f"/servicePrincipals/{mtp['id']}/appRoleAssignedTo", json=body), 400,
                   "Request_BadRequest")
    assert err["message"].startswith("Permission being assigned already exists on the object")
    # the other navigation, through the appId alternate key, sees the same duplicate
    err = error_of(graph.post(f"/servicePrincipals(appId='{client['appId']}')/appRoleAssignments", json=body), 400)
    assert "already exists" in err["message"]
    second = dict(body, appRoleId=INCIDENT_READ_ROLE)
    resp = graph.post(f"/servicePrincipals(appId='{client['appId']}')/appRoleAssignments", json=second)
    assert resp.status_code == 201, resp.text
    held = graph.get(f"/servicePrincipals(appId='{client['appId']}')/appRoleAssignments").json()["value"]
    assert {x["appRoleId"] for x in held} == {ADVANCED_HUNTING_ROLE, INCIDENT_READ_ROLE}
    filtered = graph.get(f"/servicePrincipals/{client['id']}/appRoleAssignments",
                         params={"$filter": f"resourceId eq {mtp['id']}", "$select": "appRoleId"}).json()
    assert sorted(x["appRoleId"] for x in filtered["value"]) == sorted([ADVANCED_HUNTING_ROLE, INCIDENT_READ_ROLE])
    to = graph.get(f"/servicePrincipals(appId='{MTP}')/appRoleAssignedTo").json()["value"]
    assert {x["id"] for x in to if x["principalId"] == client["id"]} == {a["id"], resp.json()["id"]}
    # unknown role, role given as a scope id, unknown principal, wrong resource id
    error_of(graph.post(f"/servicePrincipals/{mtp['id']}/appRoleAssignedTo",
                        json=dict(body, appRoleId=str(uuid.uuid4()))), 400, "Request_BadRequest")
    error_of(graph.post(f"/servicePrincipals/{mtp['id']}/appRoleAssignedTo",
                        json=dict(body, appRoleId="15f11de4-5113-4268-a2d1-0bad43d781f9")), 400)
    error_of(graph.post(f"/servicePrincipals/{mtp['id']}/appRoleAssignedTo",
                        json=dict(body, principalId=str(uuid.uuid4()))), 404, "Request_ResourceNotFound")
    error_of(graph.post(f"/servicePrincipals/{mtp['id']}/appRoleAssignedTo",
                        json=dict(body, resourceId=client["id"])), 400)
    # delete through each navigation
    assert graph.delete(f"/servicePrincipals/{mtp['id']}/appRoleAssignedTo/{a['id']}").status_code == 204
    assert graph.delete(f"/servicePrincipals/{client['id']}/appRoleAssignments/{resp.json()['id']}"
                        ).status_code == 204
    assert graph.get(f"/servicePrincipals/{client['id']}/appRoleAssignments").json()["value"] == []
    error_of(graph.delete(f"/servicePrincipals/{mtp['id']}/appRoleAssignedTo/{a['id']}"), 404)


def test_oauth2_permission_grants(graph):
    _, client = _client_sp(graph, "grant-app")
    mtp = graph.sp_by_app_id(MTP)
    body = {"clientId": client["id"], "consentType": "AllPrincipals", "resourceId": mtp["id"],
            "scope": "AdvancedHunting.Read"}
    resp = graph.post("/oauth2PermissionGrants", json=body)
    assert resp.status_code == 201, resp.text
    grant = resp.json()
    assert grant["principalId"] is None and grant["scope"] == "AdvancedHunting.Read"
    assert grant["@odata.context"].endswith("$metadata#oauth2PermissionGrants/$entity")
    err = error_of(graph.post("/oauth2PermissionGrants", json=dict(body, scope="Incident.Read")), 409,
                   "Request_MultipleObjectsWithSameKeyValue")
    assert err["message"] == "Permission entry already exists."
    flt = f"clientId eq '{client['id']}' and consentType eq 'AllPrincipals'"
    listed = graph.get("/oauth2PermissionGrants", params={"$filter": flt}).json()["value"]
    assert [g["id"] for g in listed] == [grant["id"]]
    assert graph.get("/oauth2PermissionGrants", params={
        "$filter": f"clientId eq '{client['id']}' and consentType eq 'Principal'"}).json()["value"] == []
    assert graph.patch(f"/oauth2PermissionGrants/{grant['id']}",
                       json={"scope": "AdvancedHunting.Read Incident.Read"}).status_code == 204
    assert graph.get(f"/oauth2PermissionGrants/{grant['id']}").json()["scope"] == "AdvancedHunting.Read Incident.Read"
    err = error_of(graph.patch(f"/oauth2PermissionGrants/{grant['id']}", json={"principalId": str(uuid.uuid4())}),
                   400, "Request_BadRequest")
    assert err["message"] == "Property cannot be updated"
    error_of(graph.post("/oauth2PermissionGrants", json=dict(body, clientId=str(uuid.uuid4()))), 404)
    error_of(graph.post("/oauth2PermissionGrants", json=dict(body, consentType="Everyone")), 400)
    assert graph.delete(f"/oauth2PermissionGrants/{grant['id']}").status_code == 204
    error_of(graph.get(f"/oauth2PermissionGrants/{grant['id']}"), 404)


def test_deleting_sp_removes_its_assignments_and_grants(graph, emulator):
    _, client = _client_sp(graph, "sp-del")
    mtp = graph.sp_by_app_id(MTP)
    a = graph.post(f"/servicePrincipals/{mtp['id']}/appRoleAssignedTo", json={
        "principalId": client["id"], "resourceId": mtp["id"], "appRoleId": ADVANCED_HUNTING_ROLE}).json()
    g = graph.post("/oauth2PermissionGrants", json={"clientId": client["id"], "consentType": "AllPrincipals",
                                                    "resourceId": mtp["id"], "scope": "Incident.Read"}).json()
    assert graph.delete(f"/servicePrincipals(appId='{client['appId']}')").status_code == 204
    error_of(graph.get(f"/servicePrincipals/{client['id']}"), 404)
    error_of(graph.get(f"/oauth2PermissionGrants/{g['id']}"), 404)
    assert all(x["id"] != a["id"] for x in graph.get(f"/servicePrincipals/{mtp['id']}/appRoleAssignedTo"
                                                     "?$top=999").json()["value"])
    objects = emulator.state.tenant(graph.tenant["id"]).directory.objects
    assert a["id"] not in objects and g["id"] not in objects


# --- authorization ------------------------------------------------------------------------------------------

def test_401_without_or_with_a_bad_token(emulator):
    s = emulator.session()
    url = f"{emulator.base_url}/v1.0/applications"
    for headers in ({}, {"Authorization": "Bearer not.a.jwt"}, {"Authorization": "Basic abc"}):
        err = error_of(s.get(url, headers=headers, timeout=30), 401, "InvalidAuthenticationToken")
        assert err["message"]
    wrong_aud = Graph(emulator, audience="https://api.security.microsoft.com")
    error_of(wrong_aud.get("/applications"), 401, "InvalidAuthenticationToken")


def test_403_without_the_needed_roles(emulator):
    none = Graph(emulator, roles=())
    err = error_of(none.get("/applications"), 403, "Authorization_RequestDenied")
    assert err["message"] == "Insufficient privileges to complete the operation."
    reader = Graph(emulator, roles=("Application.Read.All",))
    assert reader.get("/applications").status_code == 200
    error_of(reader.post("/applications", json={"displayName": "x"}), 403, "Authorization_RequestDenied")
    error_of(reader.upsert("r-1", {"displayName": "x"}), 403)
    app_writer = Graph(emulator, roles=("Application.ReadWrite.All",))
    app = app_writer.upsert("w-1", {"displayName": "w"}).json()
    client = app_writer.post("/servicePrincipals", json={"appId": app["appId"]}).json()
    mtp = app_writer.sp_by_app_id(MTP)
    error_of(app_writer.post(f"/servicePrincipals/{mtp['id']}/appRoleAssignedTo", json={
        "principalId": client["id"], "resourceId": mtp["id"], "appRoleId": ADVANCED_HUNTING_ROLE}), 403)
    error_of(app_writer.post("/oauth2PermissionGrants", json={
        "clientId": client["id"], "consentType": "AllPrincipals", "resourceId": mtp["id"], "scope": "x"}), 403)
    delegated = Graph(emulator, roles=(), scp="Application.ReadWrite.All")
    assert delegated.upsert("d-1", {"displayName": "delegated"}).status_code == 201


def test_tenant_comes_from_the_token(emulator):
    contoso, fabrikam = Graph(emulator, tenant_index=0), Graph(emulator, tenant_index=1)
    app = contoso.upsert("tenant-scoped", {"displayName": "c"}).json()
    error_of(fabrikam.get(f"/applications/{app['id']}"), 404)
    made = fabrikam.upsert("tenant-scoped", {"displayName": "f"})
    assert made.status_code == 201 and made.json()["publisherDomain"] == "fabrikam.onmicrosoft.com"


# --- bad input ----------------------------------------------------------------------------------------------

def test_bad_input_shapes(graph):
    h = {"Content-Type": "application/json"}
    err = error_of(graph.post("/applications", data=b"{not json", headers=h), 400, "BadRequest")
    assert err["message"].startswith("Unable to read JSON request payload")
    error_of(graph.post("/applications", data=b"[1, 2]", headers=h), 400, "BadRequest")
    error_of(graph.post("/applications", data=b"", headers=h), 400, "BadRequest")
    err = error_of(graph.post("/applications", json={"displayName": "x", "colour": "red"}), 400,
                   "Request_BadRequest")
    assert err["message"] == "Property 'colour' does not exist on type 'microsoft.graph.application'."
    error_of(graph.post("/applications", data=b"displayName=x", headers={"Content-Type": "text/plain"}), 415)
    error_of(graph.post("/applications", json={"displayName": 42}), 400)
    error_of(graph.post("/applications", json={"displayName": "x", "tags": "not-a-list"}), 400)
    error_of(graph.post("/applications", json={"displayName": "x", "appId": str(uuid.uuid4())}), 400)
    error_of(graph.patch("/applications(uniqueName='a')", data=b"\xff\xfe", headers=h), 400)
    error_of(graph.get("/applications/not-a-guid/whatever"), 400, "BadRequest")
    error_of(graph.get("/applications(displayName='x')"), 400)
    error_of(graph.request("PUT", "/applications", json={}), 405)
    error_of(graph.post("/servicePrincipals", json={"appId": "not-a-guid"}), 400)
    error_of(graph.post(f"/servicePrincipals/{uuid.uuid4()}/appRoleAssignedTo", json={}), 404)


def test_owned_by_permission(emulator):
    admin = Graph(emulator)
    owned_by = Graph(emulator, roles=("Application.ReadWrite.OwnedBy",))
    caller_sp = admin.sp_by_app_id(owned_by.tenant["admin_app"]["client_id"])
    error_of(owned_by.get("/applications"), 403, "Authorization_RequestDenied")
    error_of(owned_by.get("/directory/deletedItems/microsoft.graph.application"), 403)
    created = owned_by.upsert("owned-1", {"displayName": "Owned"})
    assert created.status_code == 201, created.text
    app = created.json()
    assert owned_by.get("/applications(uniqueName='owned-1')").status_code == 200
    assert owned_by.upsert("owned-1", {"notes": "mine"}).status_code == 204
    assert owned_by.post(f"/applications/{app['id']}/addPassword", json={}).status_code == 200
    owners = owned_by.get(f"/applications/{app['id']}/owners").json()["value"]
    assert [(o["@odata.type"], o["id"]) for o in owners] == [("#microsoft.graph.servicePrincipal", caller_sp["id"])]
    # someone else's app: no read, no write
    seeded = admin.get("/applications?$filter=startswith(displayName,'SOC automation')").json()["value"][0]
    error_of(owned_by.get(f"/applications/{seeded['id']}"), 403, "Authorization_RequestDenied")
    error_of(owned_by.patch(f"/applications/{seeded['id']}", json={"notes": "x"}), 403)
    error_of(owned_by.post(f"/applications/{seeded['id']}/addPassword", json={}), 403)
    # service principals: only for an owned, local app; resource SPs stay readable
    sp = owned_by.post("/servicePrincipals", json={"appId": app["appId"]})
    assert sp.status_code == 201, sp.text
    assert owned_by.sp_by_app_id(MTP)["appId"] == MTP
    mtp_sp = admin.sp_by_app_id(MTP)
    assert admin.delete(f"/servicePrincipals/{mtp_sp['id']}").status_code == 204
    err = error_of(owned_by.post("/servicePrincipals", json={"appId": MTP}), 403, "Authorization_RequestDenied")
    assert err["message"].startswith("When using this permission, the backing application of the service principal")
    error_of(owned_by.get(f"/servicePrincipals/{mtp_sp['id']}/ownedObjects"), 404)
    mine = owned_by.get(f"/servicePrincipals/{caller_sp['id']}/ownedObjects").json()["value"]
    assert {(o["@odata.type"], o["id"]) for o in mine} == {("#microsoft.graph.application", app["id"]),
                                                          ("#microsoft.graph.servicePrincipal", sp.json()["id"])}
    assert owned_by.delete(f"/servicePrincipals/{sp.json()['id']}").status_code == 204
    assert owned_by.delete(f"/applications/{app['id']}").status_code == 204
