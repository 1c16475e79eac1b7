# -*- coding: utf-8 -*-
# Copyright (c) m365.defender contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Unit tests of _app_permissions (pure): names, resolution against literal resource SP documents (ids as
published, docs/developer/reference/graph-app-setup.md §10), and the requiredResourceAccess / assignment /
grant plans."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import pytest

from ansible_collections.m365.defender.plugins.module_utils import _app_permissions as m
from ansible_collections.m365.defender.plugins.module_utils._errors import MtpConfigError

MTP = "8ee8fdad-f234-4243-8f3b-15c294843740"
WDATP = "fc780465-2017-40d4-a0c5-307022471b92"
GRAPH = "00000003-0000-0000-c000-000000000000"
ADV_HUNTING_ROLE = "7734e8e5-8dde-42fc-b5ae-6eafea078693"
ADV_HUNTING_SCOPE = "15f11de4-5113-4268-a2d1-0bad43d781f9"
THREAT_HUNTING_ROLE = "dd98c7f5-2d42-42d3-a0e4-633161547251"
INTEGRATION_CONFIG = "7c6f6912-60e9-4fcd-bb2a-c25bc35e8c59"


def _role(value, ident):
    return {"allowedMemberTypes": ["Application"], "id": ident, "isEnabled": True, "value": value}


def _scope(value, ident):
    return {"id": ident, "isEnabled": True, "type": "Admin", "value": value}


@pytest.fixture
def sp_docs():
    """Resource SP documents as a tenant serves them (a subset of their roles and scopes)."""
    return {
        MTP: {"id": "sp-mtp", "appId": MTP, "displayName": "Microsoft Threat Protection",
              "appRoles": [_role("AdvancedHunting.Read.All", ADV_HUNTING_ROLE),
                           _role("CustomDetections.ReadWrite.All", "a7deff90-e2f5-4e4e-83a3-2c74e7002e28"),
                           _role("Incident.Read.All", "a9790345-4595-42e4-971a-ccdc79f19b7c"),
                           _role("Incident.ReadWrite.All", "8d90f441-09cf-4fdc-ab45-e874fa3a28e8")],
              "oauth2PermissionScopes": [_scope("AdvancedHunting.Read", ADV_HUNTING_SCOPE),
                                         _scope("Incident.Read", "12c153a4-4204-4224-aa3c-4626e2f47c2b")]},
        WDATP: {"id": "sp-wdatp", "appId": WDATP, "displayName": "WindowsDefenderATP",
                "appRoles": [_role("Alert.Read.All", "71fe6b80-7034-4028-9ed8-0f316df9c3ff"),
                             _role("IntegrationConfiguration.ReadWrite", INTEGRATION_CONFIG)],
                "oauth2PermissionScopes": [_scope("Alert.Read", "b2069dc0-9fe9-4e6d-9aca-ccf3dd503819"),
                                           _scope("IntegrationConfiguration.ReadWrite", INTEGRATION_CONFIG)]},
        GRAPH: {"id": "sp-graph", "appId": GRAPH, "displayName": "Microsoft Graph",
                "appRoles": [_role("ThreatHunting.Read.All", THREAT_HUNTING_ROLE)],
                "oauth2PermissionScopes": [_scope("ThreatHunting.Read.All", "b152eca8-ea73-4a48-8c98-1a6742673d99")]},
    }


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


@pytest.mark.parametrize("typed", ["wdatp", "WindowsDefenderATP", "mde", WDATP.upper()])
def test_every_name_of_the_mde_api_is_one_resource(typed):
    assert m.merge_requests([{"resource": typed, "application": ["Alert.Read.All"]}], []) == [
        (WDATP, {"application": ["Alert.Read.All"], "delegated": []})]


def test_unknown_preset_and_resource():
    # the registry (_permissions.py) grows with the modules: the three first presets stay among the valid ones
    with pytest.raises(MtpConfigError, match="valid presets: (.*, )?hunting, incidents_read, incidents_write"):
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
    assert {p["resource"] for p in resolved} == {"wdatp"}
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
    assert target == {GRAPH: {(THREAT_HUNTING_ROLE, "Role")},
                      MTP: {(ADV_HUNTING_ROLE, "Role"), (ADV_HUNTING_SCOPE, "Scope")}}
    assert m.rra_to_sets(list(reversed(current))) == target  # order does not matter
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


def test_wanted_pairs_and_scopes_use_resource_sp_ids(sp_docs):
    resolved = _resolved(sp_docs, app=["AdvancedHunting.Read.All"], dlg=["AdvancedHunting.Read", "Incident.Read"])
    assert m.wanted_assignments(resolved, sp_docs) == {("sp-mtp", ADV_HUNTING_ROLE)}
    assert m.wanted_scopes(resolved, sp_docs) == {"sp-mtp": ["AdvancedHunting.Read", "Incident.Read"]}
    # a resource SP not created yet gets a placeholder id
    assert m.wanted_assignments(resolved, {}) == {("<mtp>", ADV_HUNTING_ROLE)}
    assert m.consented(resolved, sp_docs, [{"resourceId": "sp-mtp", "appRoleId": ADV_HUNTING_ROLE}]) is True
    assert m.consented(resolved, sp_docs, []) is False


def test_permission_view_labels(sp_docs):
    app = {"requiredResourceAccess": [{"resourceAppId": WDATP, "resourceAccess": [
        {"id": "71fe6b80-7034-4028-9ed8-0f316df9c3ff", "type": "Role"}]},
        {"resourceAppId": MTP, "resourceAccess": [{"id": ADV_HUNTING_SCOPE, "type": "Scope"}]}]}
    view = m.permission_view(app, [{"resourceId": "sp-wdatp", "appRoleId": "71fe6b80-7034-4028-9ed8-0f316df9c3ff"}],
                             [{"resourceId": "sp-mtp", "scope": "Incident.Read AdvancedHunting.Read"}], sp_docs)
    assert view == {"required_resource_access": ["application wdatp:Alert.Read.All",
                                                 "delegated mtp:AdvancedHunting.Read"],
                    "app_role_assignments": ["wdatp:Alert.Read.All"],
                    "delegated_grants": {"mtp": ["AdvancedHunting.Read", "Incident.Read"]}}
    assert m.role_name(sp_docs, "sp-graph", THREAT_HUNTING_ROLE) == "graph:ThreatHunting.Read.All"


# --- delegated permissions: presets, Principal grants, the diff view -------------------------------------

def test_delegated_presets_map_to_the_rows_scopes():
    assert m.merge_requests([], [], ["hunting", "incidents_read"]) == [
        (GRAPH, {"application": [], "delegated": ["ThreatHunting.Read.All", "SecurityIncident.Read.All",
                                                  "SecurityAlert.Read.All"]}),
        (MTP, {"application": [], "delegated": ["AdvancedHunting.Read", "Incident.Read"]}),
    ]
    # merged with explicit delegated names and application presets, no repeats
    assert m.merge_requests([{"resource": "mtp", "delegated": ["Incident.Read", "Incident.ReadWrite"]}],
                            ["hunting"], ["incidents_read"])[1] == (
        MTP, {"application": ["AdvancedHunting.Read.All"], "delegated": ["Incident.Read", "Incident.ReadWrite"]})


def test_unknown_delegated_preset_names_the_option():
    with pytest.raises(MtpConfigError) as err:
        m.merge_requests([], [], ["huntin"])
    assert err.value.option == "delegated_presets"
    assert str(err.value).startswith("delegated_presets: unknown preset 'huntin'; valid presets: detections, hunting")


def test_delegated_names_resolve_to_scope_ids_and_rra_type_scope(sp_docs):
    requests = m.merge_requests([{"resource": "mtp", "delegated": ["AdvancedHunting.Read"]}], [])
    resolved = m.resolve_permissions(requests, sp_docs)
    assert resolved == [{"resource": "mtp", "resource_app_id": MTP, "type": "delegated",
                         "name": "AdvancedHunting.Read", "id": ADV_HUNTING_SCOPE}]
    assert m.sets_to_rra(m.desired_rra([], resolved, False)) == [
        {"resourceAppId": MTP, "resourceAccess": [{"id": ADV_HUNTING_SCOPE, "type": "Scope"}]}]


def test_application_only_name_as_delegated_names_option_and_value(sp_docs):
    with pytest.raises(MtpConfigError) as err:
        m.resolve_permissions(m.merge_requests([{"resource": "mtp", "delegated": ["Incident.Read.All"]}], []), sp_docs)
    assert err.value.option == "permissions"
    assert str(err.value) == ("permissions: Incident.Read.All on mtp is an application permission (app role), not a "
                              "delegated permission; list it under application, or pick one of the delegated "
                              "permissions: AdvancedHunting.Read, Incident.Read")


def test_principal_grants_are_planned_per_user():
    grants = [{"id": "g-all", "resourceId": "R", "scope": "A", "consentType": "AllPrincipals", "principalId": None},
              {"id": "g-u1", "resourceId": "R", "scope": "B", "consentType": "Principal", "principalId": "U1"}]
    # the AllPrincipals grant is not touched by a user's plan, and the other way round
    assert m.grant_changes(grants, {"R": ["A"]}, purge=False) == []
    assert m.grant_changes(grants, {"R": ["C"]}, purge=False, principal_id="u1") == [("update", grants[1], "B C")]
    assert m.grant_changes(grants, {"R": ["C"]}, purge=False, principal_id="u2") == [("create", "R", "C")]
    assert m.grant_changes(grants, {"R": ["C"]}, purge=True, principal_id="u1") == [("update", grants[1], "C")]


def test_permission_view_labels_principal_grants(sp_docs):
    grants = [{"resourceId": "sp-mtp", "scope": "Incident.Read", "consentType": "AllPrincipals"},
              {"resourceId": "sp-mtp", "scope": "AdvancedHunting.Read Incident.Read", "consentType": "Principal",
               "principalId": "U1"},
              {"resourceId": "sp-graph", "scope": "ThreatHunting.Read.All", "consentType": "Principal",
               "principalId": "u9"}]
    view = m.permission_view({}, [], grants, sp_docs, {"u1": "analyst@contoso.com"})
    assert view["delegated_grants"] == {"mtp": ["Incident.Read"],
                                        "mtp for analyst@contoso.com": ["AdvancedHunting.Read", "Incident.Read"],
                                        "graph for u9": ["ThreatHunting.Read.All"]}
