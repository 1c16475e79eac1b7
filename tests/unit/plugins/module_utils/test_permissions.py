# -*- coding: utf-8 -*-
# Copyright (c) m365.defender contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The permission registry: one table for presets, 403 hints and module needs."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import pytest

from ansible_collections.m365.defender.plugins.module_utils import _permissions as perm


@pytest.mark.parametrize("typed, api", [
    ("mde", "mde"), ("wdatp", "mde"), ("WindowsDefenderATP", "mde"), ("WDATP", "mde"),
    ("fc780465-2017-40d4-a0c5-307022471b92", "mde"), ("FC780465-2017-40D4-A0C5-307022471B92", "mde"),
    ("mtp", "mtp"), ("Microsoft Threat Protection", "mtp"), ("8ee8fdad-f234-4243-8f3b-15c294843740", "mtp"),
    ("graph", "graph"), ("Microsoft Graph", "graph"), ("00000003-0000-0000-c000-000000000000", "graph"),
])
def test_canonical_api_accepts_what_users_type(typed, api):
    assert perm.canonical_api(typed) == api


@pytest.mark.parametrize("typed", ["", "defender", "11111111-2222-3333-4444-555555555555", None, 3])
def test_canonical_api_unknown_is_none(typed):
    assert perm.canonical_api(typed) is None


@pytest.mark.parametrize("api, method, path, role", [
    ("mtp", "POST", "/api/advancedhunting/run", "AdvancedHunting.Read.All"),
    ("mtp", "GET", "/api/incidents/12", "Incident.Read.All"),
    ("mtp", "PATCH", "/api/incidents/12", "Incident.ReadWrite.All"),
    ("mtp", "GET", "/api/alerts", "Alert.Read.All"),
    ("mde", "POST", "/api/advancedqueries/run", "AdvancedQuery.Read.All"),
    ("wdatp", "POST", "/api/advancedqueries/run", "AdvancedQuery.Read.All"),
    ("graph", "POST", "/v1.0/security/runHuntingQuery", "ThreatHunting.Read.All"),
    ("graph", "POST", "/v1.0/security/microsoft.graph.security.runHuntingQuery", "ThreatHunting.Read.All"),
    ("graph", "GET", "/beta/security/incidents", "SecurityIncident.Read.All"),
    ("graph", "PATCH", "/v1.0/security/incidents/7", "SecurityIncident.ReadWrite.All"),
    ("graph", "PATCH", "/v1.0/security/alerts_v2/da1", "SecurityAlert.ReadWrite.All"),
    ("graph", "POST", "/v1.0/servicePrincipals/abc/appRoleAssignedTo", "AppRoleAssignment.ReadWrite.All"),
    ("graph", "POST", "/v1.0/oauth2PermissionGrants", "DelegatedPermissionGrant.ReadWrite.All"),
    ("graph", "PATCH", "/v1.0/applications(uniqueName='x')", "Application.ReadWrite.All"),
    ("graph", "POST", "/v1.0/$batch", "Application.ReadWrite.All"),
])
def test_needed_role(api, method, path, role):
    assert perm.needed_role(api, method, path) == role


def test_needed_role_unknown_path_is_none():
    assert perm.needed_role("graph", "GET", "/v1.0/me") is None
    assert perm.needed_permission("mtp", "GET", "/api/unknown") is None


def test_needed_permission_carries_the_delegated_scope():
    row = perm.needed_permission("mtp", "POST", "/api/advancedhunting/run")
    assert (row.role, row.scope) == ("AdvancedHunting.Read.All", "AdvancedHunting.Read")


def test_presets_are_the_documented_ones():
    assert perm.PRESETS == {
        "hunting": [
            {"resource": "graph", "application": ["ThreatHunting.Read.All"]},
            {"resource": "mtp", "application": ["AdvancedHunting.Read.All"]},
        ],
        "incidents_read": [
            {"resource": "graph", "application": ["SecurityIncident.Read.All", "SecurityAlert.Read.All"]},
            {"resource": "mtp", "application": ["Incident.Read.All"]},
        ],
        "incidents_write": [
            {"resource": "graph", "application": ["SecurityIncident.ReadWrite.All", "SecurityAlert.ReadWrite.All"]},
            {"resource": "mtp", "application": ["Incident.ReadWrite.All"]},
        ],
        "response": [
            {"resource": "mde", "application": ["Machine.Isolate", "Machine.Scan", "Machine.RestrictExecution",
                                                "Machine.CollectForensics", "Machine.StopAndQuarantine", "Machine.Offboard",
                                                "Machine.LiveResponse", "Library.Manage", "Machine.Read.All"]},
        ],
        "indicators": [{"resource": "mde", "application": ["Ti.ReadWrite.All"]}],
        "detections": [{"resource": "graph", "application": ["CustomDetection.ReadWrite.All", "ThreatHunting.Read.All"]}],
    }


def test_permissions_for_a_module_covers_every_api_it_calls():
    assert perm.permissions_for("m365.defender.mtp_hunting_query") == [
        {"resource": "graph", "application": ["ThreatHunting.Read.All"]},
        {"resource": "mtp", "application": ["AdvancedHunting.Read.All"]},
        {"resource": "mde", "application": ["AdvancedQuery.Read.All"]},
    ]
    assert perm.permissions_for("mtp_hunting", kind="delegated") == [
        {"resource": "graph", "delegated": ["ThreatHunting.Read.All"]},
        {"resource": "mtp", "delegated": ["AdvancedHunting.Read"]},
        {"resource": "mde", "delegated": ["AdvancedQuery.Read"]},
    ]
    assert perm.permissions_for("hunting") == perm.PRESETS["hunting"]
    assert perm.permissions_for("mtp_nothing") is None


def test_every_row_names_known_api_and_role():
    for row in perm.ROWS:
        assert row.api in ("graph", "mtp", "mde")
        assert row.role


def test_first_party_ids_are_the_published_ones():
    roles = dict((r["value"], r["id"]) for r in perm.FIRST_PARTY_PERMISSIONS[perm.MTP_APP_ID]["appRoles"])
    assert roles["AdvancedHunting.Read.All"] == "7734e8e5-8dde-42fc-b5ae-6eafea078693"
    graph = dict((r["value"], r["id"]) for r in perm.FIRST_PARTY_PERMISSIONS[perm.GRAPH_APP_ID]["appRoles"])
    assert graph["ThreatHunting.Read.All"] == "dd98c7f5-2d42-42d3-a0e4-633161547251"
    assert perm.RESOURCE_APP_IDS["mde"] == "fc780465-2017-40d4-a0c5-307022471b92"
    assert perm.RESOURCE_LABELS["mde"] == "wdatp"


# -- machines, machine actions, live response ------------------------------------------------------------------

@pytest.mark.parametrize("method, path, role, scope", [
    ("POST", "/api/machines/7b1f4967d9728e5aa3c06a9e617a22a4a5a17378/isolate", "Machine.Isolate", "Machine.Isolate"),
    ("POST", "/api/machines/abc/unisolate", "Machine.Isolate", "Machine.Isolate"),
    ("POST", "/api/machines/abc/runAntiVirusScan", "Machine.Scan", "Machine.Scan"),
    ("POST", "/api/machines/abc/restrictCodeExecution", "Machine.RestrictExecution", "Machine.RestrictExecution"),
    ("POST", "/api/machines/abc/unrestrictCodeExecution", "Machine.RestrictExecution", "Machine.RestrictExecution"),
    ("POST", "/api/machines/abc/collectInvestigationPackage", "Machine.CollectForensics", "Machine.CollectForensics"),
    ("POST", "/api/machines/abc/StopAndQuarantineFile", "Machine.StopAndQuarantine", "Machine.StopAndQuarantine"),
    ("POST", "/api/machines/abc/offboard", "Machine.Offboard", "Machine.Offboard"),
    ("POST", "/api/machines/abc/runliveresponse", "Machine.LiveResponse", "Machine.LiveResponse"),
    ("POST", "/api/libraryfiles", "Library.Manage", "Library.Manage"),
    ("DELETE", "/api/libraryfiles/collect.ps1", "Library.Manage", "Library.Manage"),
    ("POST", "/api/machines/abc/tags", "Machine.ReadWrite.All", "Machine.ReadWrite"),
    ("POST", "/api/machineactions/5382f7ea-7557-4ab7-9782-d50480024a4e/cancel", "Machine.Isolate", "Machine.Isolate"),
    ("GET", "/api/machines", "Machine.Read.All", "Machine.Read"),
    ("GET", "/api/machineactions/5382f7ea/getPackageUri", "Machine.Read.All", "Machine.Read"),
    ("GET", "/api/machineactions/5382f7ea/GetLiveResponseResultDownloadLink(index=0)", "Machine.Read.All", "Machine.Read"),
])
def test_response_rows(method, path, role, scope):
    row = perm.needed_permission("mde", method, path)
    assert (row.role, row.scope) == (role, scope)


def test_response_preset_and_modules():
    assert perm.PRESETS["response"] == [{"resource": "mde", "application": [
        "Machine.Isolate", "Machine.Scan", "Machine.RestrictExecution", "Machine.CollectForensics",
        "Machine.StopAndQuarantine", "Machine.Offboard", "Machine.LiveResponse", "Library.Manage",
        "Machine.Read.All"]}]
    assert perm.permissions_for("m365.defender.mtp_machine_action_info") == [{"resource": "mde", "application": [
        "Machine.Isolate", "Machine.Scan", "Machine.RestrictExecution", "Machine.CollectForensics",
        "Machine.StopAndQuarantine", "Machine.Offboard", "Machine.Read.All"]}]
    assert perm.permissions_for("mtp_live_response", kind="delegated") == [{"resource": "mde", "delegated": [
        "Machine.LiveResponse", "Library.Manage", "Machine.Read"]}]
    assert perm.ROWS[-1].path == r".*"


def test_response_first_party_ids_are_the_published_ones():
    mde = perm.FIRST_PARTY_PERMISSIONS[perm.MDE_APP_ID]
    roles = dict((r["value"], r["id"]) for r in mde["appRoles"])
    scopes = dict((r["value"], r["id"]) for r in mde["oauth2PermissionScopes"])
    assert roles["Machine.Isolate"] == "7e4e1300-e1b9-4102-88ba-f0cb6e6d5974"
    assert roles["Machine.CollectForensics"] == "15405ab2-2103-4a3c-ad80-e829841cedcc"
    assert roles["Machine.RestrictExecution"] == "96b6b35d-074d-4e2d-b167-8d68d9269648"
    assert roles["Machine.StopAndQuarantine"] == "96e72b5e-7e68-4171-aad1-3937599e4751"
    assert roles["Machine.Offboard"] == "594435bf-36dd-4548-83bd-1bdafe157d7a"
    assert roles["Library.Manage"] == "41d209c7-2511-4fc9-b899-8008a3976f09"
    assert scopes["Machine.LiveResponse"] == "25fb0c21-5877-492a-8d0c-e7893a9585cc"
    assert scopes["Library.Manage"] == "5998a3da-2c9b-4bf3-99bd-44c9fe337ad2"
    assert all(r["allowedMemberTypes"] == ["Application"] for r in mde["appRoles"])


def test_indicator_and_detection_rule_rows():
    assert perm.needed_role("mde", "POST", "/api/indicators/import") == "Ti.ReadWrite.All"
    assert perm.needed_role("mde", "POST", "/api/indicators/BatchDelete") == "Ti.ReadWrite.All"
    assert perm.needed_permission("mde", "GET", "/api/indicators").scope == "Ti.ReadWrite"
    assert perm.needed_role("graph", "GET", "/beta/security/rules/detectionRules") == "CustomDetection.Read.All"
    assert perm.needed_role("graph", "PATCH", "/beta/security/rules/detectionRules/35079") == "CustomDetection.ReadWrite.All"
    assert perm.needed_role("graph", "POST", "/v1.0/security/rules/detectionRules") == "CustomDetection.ReadWrite.All"
    assert perm.PRESETS["indicators"] == [{"resource": "mde", "application": ["Ti.ReadWrite.All"]}]
    assert perm.PRESETS["detections"] == [
        {"resource": "graph", "application": ["CustomDetection.ReadWrite.All", "ThreatHunting.Read.All"]}]
    assert perm.permissions_for("m365.defender.mtp_indicator_info") == [
        {"resource": "mde", "application": ["Ti.ReadWrite.All"]}]
    assert perm.permissions_for("mtp_detection_rule", kind="delegated") == [
        {"resource": "graph", "delegated": ["CustomDetection.ReadWrite.All", "ThreatHunting.Read.All"]}]
    assert perm.permissions_for("mtp_detection_rule_info") == [
        {"resource": "graph", "application": ["CustomDetection.Read.All"]}]
    assert perm.ROWS[-1].path == r".*"


def test_indicator_first_party_ids_are_the_published_ones():
    mde = perm.FIRST_PARTY_PERMISSIONS[perm.MDE_APP_ID]
    roles = dict((r["value"], r["id"]) for r in mde["appRoles"])
    scopes = dict((r["value"], r["id"]) for r in mde["oauth2PermissionScopes"])
    assert roles["Ti.ReadWrite"] == "a8bc2240-f96a-46a1-bad5-6a960b7327a1"
    assert roles["Ti.ReadWrite.All"] == "fc511a58-3adf-4d71-af24-00f13e35e479"
    assert scopes["Ti.ReadWrite"] == "650ff1f9-dd5f-48ee-8c58-7beef332c818"
