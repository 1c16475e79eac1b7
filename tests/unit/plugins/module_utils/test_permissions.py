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
