"""OData ``$filter`` grammar on both incident APIs: parentheses group, ``and`` binds tighter than ``or``, and a
malformed or oversized filter is a 400 in the API's own error shape (real HTTPS, real tokens)."""

from __future__ import annotations

import pytest

from mtp_emulator.incidents import ODataFilterError, parse_filter
from test_hunting_api import GRAPH, MTP, get_token

OWNER = "grammar@contoso.onmicrosoft.com"
# title -> (status, severity); only these four incidents are assigned to OWNER
CASES = {"A": ("Active", "High"), "B": ("InProgress", "High"), "C": ("Active", "Low"), "D": ("Resolved", "High")}


@pytest.fixture
def created(emulator):
    emulator.reset()
    emulator.set_config(quota_scale=100)
    ids = {}
    for title, (status, severity) in CASES.items():
        resp = emulator.control("POST", "incidents", json={"title": title, "status": status, "severity": severity,
                                                          "assignedTo": OWNER, "created": "-1h"})
        assert resp.status_code == 201, resp.text
        ids[title] = str(resp.json()["id"])
    yield ids
    emulator.reset()


def _list(emulator, resource, path, odata_filter):
    token = get_token(emulator, resource)
    with emulator.session() as session:
        return session.get(emulator.url(path), params={"$filter": odata_filter}, timeout=60,
                           headers={"Authorization": f"Bearer {token}"})


@pytest.mark.parametrize("odata_filter, expected", [
    # the parenthesised or is distributed over the and: A and B, not every active incident of the tenant
    ("(status eq 'active' or status eq 'inProgress') and severity eq 'high' and assignedTo eq '%s'", {"A", "B"}),
    ("assignedTo eq '%s' and (severity eq 'low' or status eq 'resolved')", {"C", "D"}),
    ("assignedTo eq '%s' and ((status eq 'active') and (severity eq 'low'))", {"C"}),
    # without parentheses, and binds first: B, or (active and low and OWNER) = C
    ("status eq 'inProgress' and assignedTo eq '%s' or status eq 'active' and severity eq 'low' "
     "and assignedTo eq '%s'", {"B", "C"}),
])
def test_graph_filter_grouping(emulator, created, odata_filter, expected):
    resp = _list(emulator, GRAPH, "/v1.0/security/incidents", odata_filter.replace("%s", OWNER))
    assert resp.status_code == 200, resp.text
    assert {str(i["id"]) for i in resp.json()["value"]} == {created[t] for t in expected}


def test_mtp_filter_grouping(emulator, created):
    resp = _list(emulator, MTP, "/api/incidents",
                 f"(status eq 'Active' or status eq 'Resolved') and assignedTo eq '{OWNER}'")
    assert resp.status_code == 200, resp.text
    assert {str(i["incidentId"]) for i in resp.json()["value"]} == {created["A"], created["C"], created["D"]}


@pytest.mark.parametrize("odata_filter", ["(status eq 'active'", "status eq 'active')", "()",
                                          "status eq 'active' and", "status eq ('active')"])
def test_malformed_grouping_is_a_400_in_each_shape(emulator, created, odata_filter):
    graph = _list(emulator, GRAPH, "/v1.0/security/incidents", odata_filter)
    assert graph.status_code == 400
    assert graph.json()["error"]["code"] == "BadRequest"
    assert graph.json()["error"]["message"].startswith("Invalid filter clause: Syntax error")
    mtp = _list(emulator, MTP, "/api/incidents", odata_filter)
    assert mtp.status_code == 400
    assert mtp.json()["error"]["code"] == "ODataError"


def test_an_oversized_filter_is_refused_not_expanded():
    # 7 parenthesised pairs ANDed together expand to 2**7 = 128 alternatives, over the 64 the emulator evaluates
    text = " and ".join("(status eq 'active' or severity eq 'high')" for _ in range(7))
    with pytest.raises(ODataFilterError, match="too complex"):
        parse_filter(text)
    six = " and ".join("(status eq 'active' or severity eq 'high')" for _ in range(6))
    assert len(parse_filter(six)) == 64
