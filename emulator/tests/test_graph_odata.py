"""OData helpers (graph_odata.py) as pure functions, plus a fuzz of query options and keys over HTTPS."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from werkzeug.datastructures import Headers, MultiDict

from mtp_emulator import graph_odata as odata
from mtp_emulator.errors import GraphError
from test_graph_directory import Graph

APPS = [
    {"id": "1", "displayName": "Alpha", "appId": "a1", "uniqueName": "alpha", "tags": ["x"],
     "web": {"redirectUris": ["https://a.example/cb"]}},
    {"id": "2", "displayName": "beta", "appId": "b2", "uniqueName": None, "tags": [],
     "web": {"redirectUris": []}},
    {"id": "3", "displayName": "O'Brien", "appId": "c3", "uniqueName": "obrien", "tags": ["x", "y"],
     "web": {"redirectUris": ["https://o.example/cb"]}},
]
PROPS = {"id", "displayName", "appId", "uniqueName"}
COLLS = {"tags", "web/redirectUris"}


def ids(text, advanced=False):
    pred = odata.compile_filter(text, PROPS, "application", COLLS, advanced)
    return [a["id"] for a in APPS if pred(a)]


@pytest.mark.parametrize("text,expected", [
    ("displayName eq 'alpha'", ["1"]),  # directory string comparison ignores case
    ("displayName eq 'O''Brien'", ["3"]),
    ("uniqueName eq null", ["2"]),
    ("displayName eq 'Alpha' and appId eq 'a1'", ["1"]),
    ("displayName eq 'Alpha' and appId eq 'b2'", []),
    ("appId eq 'a1' or appId eq 'c3'", ["1", "3"]),
    ("(appId eq 'a1' or appId eq 'b2') and uniqueName eq 'alpha'", ["1"]),
    ("startswith(displayName,'b')", ["2"]),
    ("appId in ('a1','c3')", ["1", "3"]),
    ("tags/any(t:t eq 'y')", ["3"]),
    ("web/redirectUris/any(p:p eq 'https://a.example/cb')", ["1"]),
])
def test_filter_semantics(text, expected):
    assert ids(text) == expected


def test_advanced_operators_need_the_flag():
    for text in ("appId ne 'a1'", "not(appId eq 'a1')", "endswith(displayName,'a')"):
        with pytest.raises(GraphError) as exc:
            ids(text)
        assert exc.value.status == 400 and exc.value.code == "Request_UnsupportedQuery"
    assert ids("appId ne 'a1'", advanced=True) == ["2", "3"]
    assert ids("not(appId eq 'a1')", advanced=True) == ["2", "3"]
    assert ids("endswith(displayName,'A')", advanced=True) == ["1", "2"]


@pytest.mark.parametrize("text", ["", "displayName", "displayName eq", "eq 'a'", "displayName eq 'a' and",
                                  "displayName eq 'a')", "startswith(displayName)", "displayName eq 'a' xor 1",
                                  "tags/any(t:u eq 'x')", "displayName ~ 'a'"])
def test_filter_syntax_errors(text):
    with pytest.raises(GraphError) as exc:
        ids(text)
    assert exc.value.status == 400 and exc.value.message.startswith("Invalid filter clause")


def test_unsupported_property():
    with pytest.raises(GraphError) as exc:
        ids("secret eq 'x'")
    assert exc.value.code == "Request_UnsupportedQuery" and "'secret'" in exc.value.message


def test_paging_round_trip():
    items = [{"id": str(i)} for i in range(7)]
    q = odata.parse_query(MultiDict({"$top": "3"}), Headers(), "application", PROPS, PROPS)
    seen, link, pages = [], "x", 0
    while link:
        chunk, link, total = q.page(items, "https://h/v1.0/applications")
        seen += [i["id"] for i in chunk]
        pages += 1
        assert total == 7
        if link:
            token = link.split("$skiptoken=", 1)[1]
            q = odata.parse_query(MultiDict({"$top": "3", "$skiptoken": token}), Headers(), "application", PROPS,
                                  PROPS)
    assert seen == [str(i) for i in range(7)] and pages == 3


def test_skiptoken_is_bound_to_its_query():
    q = odata.parse_query(MultiDict({"$top": "2"}), Headers(), "application", PROPS, PROPS)
    _, link, _ = q.page([{"id": "1"}, {"id": "2"}, {"id": "3"}], "https://h/x")
    token = link.split("$skiptoken=", 1)[1]
    with pytest.raises(GraphError):
        odata.parse_query(MultiDict({"$top": "5", "$skiptoken": token}), Headers(), "application", PROPS, PROPS)


@pytest.mark.parametrize("segment,expected", [
    ("applications", ("applications", None)),
    ("applications(uniqueName='a-b')", ("applications", ("uniqueName", "a-b"))),
    ("applications(appId='x''y')", ("applications", ("appId", "x'y"))),
    ("applications('abc')", ("applications", (None, "abc"))),
    ("federatedIdentityCredentials(name='n')", ("federatedIdentityCredentials", ("name", "n"))),
])
def test_parse_segment(segment, expected):
    assert odata.parse_segment(segment) == expected


def test_split_path_respects_quotes():
    assert odata.split_path("applications(uniqueName='a/b')/addPassword") == [
        "applications(uniqueName='a/b')", "addPassword"]


@pytest.mark.parametrize("segment", ["applications(", "applications(uniqueName='x)", "apps)x(",
                                     "applications(a=b=c)"])
def test_bad_segments(segment):
    with pytest.raises(GraphError):
        odata.parse_segment(segment)


# --- never a 500, over HTTPS --------------------------------------------------------------------------------

FILTER_ALPHABET = "abdeiNmnpqt ()',/:=0123456789-_*$"


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(flt=st.one_of(st.text(alphabet=FILTER_ALPHABET, max_size=40),
                     st.builds(lambda p, o, v: f"{p} {o} {v}",
                               st.sampled_from(["displayName", "appId", "uniqueName", "tags/any(t:t", "id", "x"]),
                               st.sampled_from(["eq", "ne", "in", "and", "gt", "startswith"]),
                               st.sampled_from(["'a'", "null", "('a','b')", "'", "1", "x)", "'a')"]))),
       top=st.one_of(st.none(), st.text(alphabet="0123456789-x", max_size=5)),
       select=st.one_of(st.none(), st.text(alphabet="idspNamejk,", max_size=20)))
def test_list_query_options_never_500(emulator, flt, top, select):
    graph = Graph(emulator)
    params = {"$filter": flt}
    if top is not None:
        params["$top"] = top
    if select is not None:
        params["$select"] = select
    resp = graph.get("/applications", params=params)
    assert resp.status_code in (200, 400), resp.text
    body = resp.json()
    assert ("value" in body) if resp.status_code == 200 else body["error"]["code"] in (
        "BadRequest", "Request_UnsupportedQuery", "Request_BadRequest")


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(key=st.text(alphabet="abc'()=/%-_ .~xyz", min_size=0, max_size=24),
       method=st.sampled_from(["GET", "PATCH", "DELETE", "POST"]),
       tail=st.sampled_from(["", "/addPassword", "/federatedIdentityCredentials", "/nope", "/appRoleAssignedTo"]))
def test_keys_and_paths_never_500(emulator, key, method, tail):
    graph = Graph(emulator, roles=("Application.Read.All",))  # read-only: nothing gets written
    resp = graph.request(method, f"/applications({key}){tail}", json={"displayName": "x"})
    assert resp.status_code in (400, 403, 404, 405), (key, tail, resp.status_code, resp.text)
    assert "error" in resp.json()


JSON_VALUES = st.recursive(st.none() | st.booleans() | st.integers(-5, 5) | st.text(max_size=6),
                           lambda inner: st.lists(inner, max_size=3) | st.dictionaries(
                               st.sampled_from(["id", "key", "keyId", "type", "resourceAppId", "resourceAccess",
                                                "redirectUris", "name", "x"]), inner, max_size=3),
                           max_leaves=8)
BODY_KEYS = st.sampled_from(["displayName", "uniqueName", "tags", "requiredResourceAccess", "keyCredentials",
                             "passwordCredentials", "web", "api", "signInAudience", "notes", "appId", "nope",
                             "principalId", "resourceId", "appRoleId", "clientId", "consentType", "scope",
                             "passwordCredential", "issuer", "subject", "audiences", "name"])
TARGETS = ["POST /applications", "PATCH /applications(uniqueName='fz')", "POST /servicePrincipals",
           "POST /oauth2PermissionGrants", "POST /applications(uniqueName='fz')/addPassword",
           "POST /applications(uniqueName='fz')/federatedIdentityCredentials",
           "PATCH /applications(uniqueName='fz')/federatedIdentityCredentials(name='fic')",
           "POST /servicePrincipals(appId='8ee8fdad-f234-4243-8f3b-15c294843740')/appRoleAssignedTo"]


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(target=st.sampled_from(TARGETS), body=st.dictionaries(BODY_KEYS, JSON_VALUES, max_size=4),
       create=st.booleans())
def test_write_bodies_never_500(emulator, target, body, create):
    graph = Graph(emulator)
    if graph.get("/applications(uniqueName='fz')").status_code == 404:
        graph.upsert("fz", {"displayName": "fuzz target"})
    method, path = target.split(" ", 1)
    headers = {"Prefer": "create-if-missing"} if create else {}
    resp = graph.request(method, path, json=body, headers=headers)
    assert resp.status_code < 500, (target, body, resp.text)
    if resp.status_code >= 400:
        assert resp.json()["error"]["code"]
