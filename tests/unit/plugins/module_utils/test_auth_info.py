# -*- coding: utf-8 -*-
# Copyright (c) m365.defender contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The permission doctor's classification, from literal claims: what is granted, what is missing, why, the fix."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import pytest

from ansible_collections.m365.defender.plugins.module_utils import _auth_info as doc
from ansible_collections.m365.defender.plugins.module_utils import _permissions as perm
from ansible_collections.m365.defender.plugins.module_utils._errors import MtpConfigError

APP = {"app_id": "3c2b1a09-8f7e-4d6c-b5a4-938271605f4e", "display_name": "SOC automation", "unique_name": "mtp-soc"}


def api(roles=None, scp=None, error=None, available=True):
    claims = None
    if error is None and available:
        claims = {"aud": "https://example.invalid", "tid": "6f1d2c3b-0a4e-4c5d-9e8f-1a2b3c4d5e6f"}
        if roles is not None:
            claims["roles"] = roles
        if scp is not None:
            claims["scp"] = scp
    return {"available": available, "claims": claims, "error": error}


def app_facts(graph=None, mtp=None, mde=None, declared=None, cloud="commercial"):
    return {"cloud": cloud, "user": False, "user_roles": None, "declared": declared, "app": dict(APP),
            "identity": {"type": "application", "app_id": APP["app_id"]},
            "apis": {"graph": graph or api(roles=[]), "mtp": mtp or api(roles=[]), "mde": mde or api(roles=[])}}


def user_facts(roles, graph=None, mtp=None, mde=None):
    return {"cloud": "commercial", "user": True, "user_roles": roles, "declared": None,
            "app": dict(APP, client_type="public"),
            "identity": {"type": "user", "upn": "reader@contoso.onmicrosoft.com"},
            "apis": {"graph": graph or api(scp=""), "mtp": mtp or api(scp=""), "mde": mde or api(scp="")}}


def run(needs, facts):
    return doc.evaluate(doc.resolve_needs(needs), facts)


def brief(missing):
    return [(m["reason"], m["api"], m["type"], m["permission"], m["needed_by"]) for m in missing]


# --- needs ------------------------------------------------------------------------------------------------------

def test_a_module_is_one_alternative_per_api():
    need = doc.resolve_need("m365.defender.mtp_hunting_query")
    assert need.kind == "module"
    assert need.alternatives == [
        ("graph", [doc.Requirement("graph", "ThreatHunting.Read.All", "ThreatHunting.Read.All", "read")]),
        ("mtp", [doc.Requirement("mtp", "AdvancedHunting.Read.All", "AdvancedHunting.Read", "read")]),
        ("mde", [doc.Requirement("mde", "AdvancedQuery.Read.All", "AdvancedQuery.Read", "read")]),
    ]


def test_a_module_with_an_api_picks_it():
    assert doc.resolve_need("mtp_hunting_query:wdatp").alternatives == [
        ("mde", [doc.Requirement("mde", "AdvancedQuery.Read.All", "AdvancedQuery.Read", "read")])]


def test_a_preset_needs_all_of_its_rows():
    need = doc.resolve_need("incidents_write")
    assert need.kind == "preset"
    assert need.alternatives == [(None, [
        doc.Requirement("graph", "SecurityIncident.ReadWrite.All", "SecurityIncident.ReadWrite.All", "write"),
        doc.Requirement("graph", "SecurityAlert.ReadWrite.All", "SecurityAlert.ReadWrite.All", "write"),
        doc.Requirement("mtp", "Incident.ReadWrite.All", "Incident.ReadWrite", "write")])]


def test_permission_names_resolve_to_their_api():
    assert doc.resolve_need("Machine.Isolate").alternatives == [
        ("mde", [doc.Requirement("mde", "Machine.Isolate", "Machine.Isolate", "write")])]
    assert doc.resolve_need("incident.read").alternatives == [
        ("mtp", [doc.Requirement("mtp", None, "Incident.Read", "read")])]


def test_an_app_setup_row_has_no_user_access():
    need = doc.resolve_need("mtp_aad_app_setup")
    assert need.alternatives[0][1][0] == doc.Requirement("graph", "AppRoleAssignment.ReadWrite.All", None, None)


@pytest.mark.parametrize("needs, text", [
    (["mtp_hunting_quer"], "'mtp_hunting_quer' is not a module, preset or permission name known to the collection"),
    (["Incident.Reed"], "Presets: detections, hunting, incidents_read, incidents_write, indicators, response"),
    (["Incident.Reed"], "known to the collection (did you mean Incident.Read?)"),
    (["incident_read"], "(did you mean incidents_read?)"),
    (["mtp_detection_rule:mtp"], "mtp_detection_rule does not call the API 'mtp'; it calls graph"),
    ([""], "needs: every item must be a module, preset or permission name, got ''"),
    ([None], "got None"),
    ("mtp_hunting_query", "needs must be a list of module, preset or permission names, got str"),
])
def test_bad_needs_are_named(needs, text):
    with pytest.raises(MtpConfigError) as caught:
        doc.resolve_needs(needs)
    assert text in caught.value.msg
    assert caught.value.option == "needs"


def test_unknown_name_lists_the_modules():
    with pytest.raises(MtpConfigError) as caught:
        doc.resolve_need("nothing")
    assert "mtp_hunting_query" in caught.value.msg and "mtp_live_response" in caught.value.msg


# --- application context ----------------------------------------------------------------------------------------

def test_complete_app_has_nothing_missing():
    facts = app_facts(graph=api(roles=["ThreatHunting.Read.All", "SecurityIncident.Read.All", "SecurityAlert.Read.All"]),
                      mtp=api(roles=["AdvancedHunting.Read.All", "Incident.Read.All"]))
    results, missing, fix = run(["mtp_hunting_query", "incidents_read", "hunting"], facts)
    assert missing == [] and fix is None
    assert [r["satisfied"] for r in results] == [True, True, True]
    assert results[1]["granted"] == [
        {"api": "graph", "resource": "graph", "type": "application", "permission": "SecurityIncident.Read.All"},
        {"api": "graph", "resource": "graph", "type": "application", "permission": "SecurityAlert.Read.All"},
        {"api": "mtp", "resource": "mtp", "type": "application", "permission": "Incident.Read.All"}]
    assert doc.summary(results, missing) == "Everything needed is granted: mtp_hunting_query, incidents_read, hunting"


def test_a_module_is_satisfied_by_one_api():
    results, missing, _fix = run(["mtp_hunting_query"], app_facts(mtp=api(roles=["AdvancedHunting.Read.All"])))
    assert missing == []
    assert results[0]["api"] == "mtp"
    assert results[0]["alternatives"] == [
        {"api": "graph", "satisfied": False, "missing": ["ThreatHunting.Read.All"]},
        {"api": "mtp", "satisfied": True, "missing": []},
        {"api": "mde", "satisfied": False, "missing": ["AdvancedQuery.Read.All"]}]


def test_missing_role_without_a_readable_registration():
    results, missing, fix = run(["mtp_hunting_query:mtp"], app_facts())
    assert brief(missing) == [("application_permission", "mtp", "application", "AdvancedHunting.Read.All",
                               ["mtp_hunting_query:mtp"])]
    assert missing[0]["message"] == ("the mtp token has no role AdvancedHunting.Read.All (the app registration is "
                                     "not readable, so a declared permission without admin consent looks the same)")
    assert results[0]["satisfied"] is False
    assert fix == (
        "- name: Grant what SOC automation is missing\n"
        "  # run with the onboarding identity (Application.ReadWrite.All, AppRoleAssignment.ReadWrite.All,\n"
        "  # DelegatedPermissionGrant.ReadWrite.All), not with the app itself\n"
        "  m365.defender.mtp_aad_app_setup:\n"
        "    app_id: 3c2b1a09-8f7e-4d6c-b5a4-938271605f4e\n"
        "    unique_name: mtp-soc\n"
        "    permissions:\n"
        "      - resource: mtp\n"
        "        application: [AdvancedHunting.Read.All]\n"
        "    credential: none\n")
    assert missing[0]["fix"] == fix


def test_declared_but_not_consented_is_admin_consent():
    declared = {"mtp": {"application": ["Incident.Read.All"], "delegated": []}}
    facts = app_facts(graph=api(roles=["SecurityIncident.Read.All", "SecurityAlert.Read.All"]), declared=declared)
    _results, missing, _fix = run(["incidents_read"], facts)
    assert brief(missing) == [("admin_consent", "mtp", "application", "Incident.Read.All", ["incidents_read"])]
    assert missing[0]["reason_text"] == "a missing admin consent"


def test_readable_registration_without_the_permission_is_a_missing_permission():
    facts = app_facts(declared={"mtp": {"application": ["AdvancedHunting.Read.All"], "delegated": []}})
    _results, missing, _fix = run(["Machine.Scan"], facts)
    assert brief(missing) == [("application_permission", "mde", "application", "Machine.Scan", ["Machine.Scan"])]
    assert missing[0]["message"] == "the mde token has no role Machine.Scan"


def test_shared_pieces_are_merged_and_the_fix_is_one_task():
    facts = app_facts()
    _results, missing, fix = run(["hunting", "mtp_hunting_query:graph", "Machine.Isolate"], facts)
    assert brief(missing) == [
        ("application_permission", "graph", "application", "ThreatHunting.Read.All",
         ["hunting", "mtp_hunting_query:graph"]),
        ("application_permission", "mtp", "application", "AdvancedHunting.Read.All", ["hunting"]),
        ("application_permission", "mde", "application", "Machine.Isolate", ["Machine.Isolate"])]
    assert fix.endswith(
        "    permissions:\n"
        "      - resource: graph\n"
        "        application: [ThreatHunting.Read.All]\n"
        "      - resource: mtp\n"
        "        application: [AdvancedHunting.Read.All]\n"
        "      - resource: wdatp\n"
        "        application: [Machine.Isolate]\n"
        "    credential: none\n")


def test_delegated_permission_asked_of_an_app():
    _results, missing, fix = run(["AdvancedHunting.Read"], app_facts())
    assert brief(missing) == [("delegated_only", "mtp", "delegated", "AdvancedHunting.Read", ["AdvancedHunting.Read"])]
    assert fix is None


def test_api_not_in_the_cloud():
    facts = app_facts(graph=api(roles=["ThreatHunting.Read.All"]), mtp=api(available=False), mde=api(available=False),
                      cloud="china")
    _results, missing, fix = run(["mtp_hunting_query:mtp", "mtp_hunting_query"], facts)
    assert brief(missing) == [("api_unavailable", "mtp", None, None, ["mtp_hunting_query:mtp"])]
    assert missing[0]["message"] == "the mtp API is not offered in the china cloud"
    assert missing[0]["fix"] == "Use an API this cloud offers (graph), for example api: graph"
    assert fix is None


def test_resource_principal_missing_is_api_unavailable():
    error = {"aadsts": 500011, "error": "invalid_resource", "message": "AADSTS500011: resource principal not found"}
    _results, missing, _fix = run(["incidents_read"], app_facts(
        graph=api(roles=["SecurityIncident.Read.All", "SecurityAlert.Read.All"]), mtp=api(error=error)))
    assert brief(missing) == [("api_unavailable", "mtp", None, None, ["incidents_read"])]
    assert missing[0]["message"] == "the mtp API has no service principal in this tenant (AADSTS500011)"


def test_other_token_errors_are_reported_per_api():
    error = {"aadsts": None, "error": "invalid_audience", "message": "access_token was issued for graph"}
    _results, missing, _fix = run(["Machine.Isolate"], app_facts(mde=api(error=error)))
    assert brief(missing) == [("token_error", "mde", None, None, ["Machine.Isolate"])]
    assert missing[0]["message"] == "no token for the mde API: access_token was issued for graph"


def test_role_names_compare_case_insensitively():
    _results, missing, _fix = run(["Machine.Isolate"], app_facts(mde=api(roles=["machine.isolate"])))
    assert missing == []


# --- user context -----------------------------------------------------------------------------------------------

def test_reader_can_hunt():
    facts = user_facts(["Security Reader"], mtp=api(scp="AdvancedHunting.Read Incident.Read"))
    results, missing, _fix = run(["mtp_hunting_query:mtp", "Incident.Read"], facts)
    assert missing == []
    assert results[0]["granted"] == [{"api": "mtp", "resource": "mtp", "type": "delegated",
                                      "permission": "AdvancedHunting.Read"}]


def test_user_without_a_defender_role():
    facts = user_facts([], mtp=api(scp="AdvancedHunting.Read"))
    _results, missing, fix = run(["mtp_hunting_query:mtp"], facts)
    assert brief(missing) == [("user_role", "mtp", "delegated", "AdvancedHunting.Read", ["mtp_hunting_query:mtp"])]
    assert missing[0]["assign_one_of"] == ["Security Reader", "Global Reader", "Security Operator",
                                           "Security Administrator", "Global Administrator"]
    assert missing[0]["message"] == ("the user has no Defender role (directory roles: none); any one of Security "
                                     "Reader, Global Reader, Security Operator, Security Administrator, Global "
                                     "Administrator would do")
    assert missing[0]["fix"] == ("Assign reader@contoso.onmicrosoft.com one of the Entra ID directory roles Security "
                                 "Reader, Global Reader, Security Operator, Security Administrator, Global "
                                 "Administrator (Entra admin center > Roles and administrators); the role shows in "
                                 "new tokens (wids) after the next sign-in")
    assert fix is None


def test_reader_where_a_write_is_needed():
    facts = user_facts(["Security Reader", "Message Center Reader"], mtp=api(scp="Incident.ReadWrite"))
    _results, missing, _fix = run(["Incident.ReadWrite"], facts)
    assert brief(missing) == [("user_role", "mtp", "delegated", "Incident.ReadWrite", ["Incident.ReadWrite"])]
    assert missing[0]["message"] == ("the user has Security Reader, which only reads; Incident.ReadWrite needs a role "
                                     "that writes; any one of Security Operator, Security Administrator, Global "
                                     "Administrator would do")
    assert missing[0]["assign_one_of"] == ["Security Operator", "Security Administrator", "Global Administrator"]


def test_operator_may_write():
    facts = user_facts(["Security Operator"], graph=api(scp="SecurityIncident.ReadWrite.All SecurityAlert.ReadWrite.All"),
                       mtp=api(scp="Incident.ReadWrite"))
    _results, missing, _fix = run(["incidents_write"], facts)
    assert missing == []


def test_scope_not_in_scp_is_a_missing_delegated_grant():
    facts = user_facts(["Security Operator"], mtp=api(scp="AdvancedHunting.Read"))
    _results, missing, fix = run(["Incident.Read"], facts)
    assert brief(missing) == [("delegated_grant", "mtp", "delegated", "Incident.Read", ["Incident.Read"])]
    assert missing[0]["message"] == "the mtp token's scp has no Incident.Read"
    assert fix.endswith("      - resource: mtp\n"
                        "        delegated: [Incident.Read]\n"
                        "    client_type: public  # keep the native app public (the default, confidential, would switch it)\n"
                        "    consent:\n"
                        "      type: all_principals  # admin consent for every user\n"
                        "    credential: none\n")


def test_no_consent_at_all_is_a_missing_delegated_grant():
    error = {"aadsts": 65001, "error": "invalid_grant", "message": "AADSTS65001: consent required"}
    facts = user_facts(["Security Reader"], graph=api(error=error), mtp=api(error=error), mde=api(error=error))
    _results, missing, fix = run(["mtp_hunting_query:graph"], facts)
    assert brief(missing) == [("delegated_grant", "graph", "delegated", "ThreatHunting.Read.All",
                               ["mtp_hunting_query:graph"])]
    assert missing[0]["message"] == ("no delegated permission of the graph API is consented for this app "
                                     "(AADSTS65001)")
    assert "        delegated: [ThreatHunting.Read.All]\n" in fix


def test_no_consent_and_no_role_reports_both():
    error = {"aadsts": 65001, "error": "invalid_grant", "message": "AADSTS65001: consent required"}
    _results, missing, _fix = run(["Incident.Read"], user_facts([], mtp=api(error=error)))
    assert [m["reason"] for m in missing] == ["delegated_grant", "user_role"]


def test_unknown_user_roles_are_not_reported_missing():
    _results, missing, _fix = run(["AdvancedHunting.Read"], user_facts(None, mtp=api(scp="AdvancedHunting.Read")))
    assert missing == []


def test_application_only_call_in_user_context():
    _results, missing, _fix = run(["mtp_aad_app_setup"], user_facts(["Global Administrator"]))
    assert [m["reason"] for m in missing] == ["application_only"] * 4
    assert missing[0]["permission"] == "AppRoleAssignment.ReadWrite.All"
    assert missing[0]["fix"] == "Run this task with an application identity (client_secret, certificate, workload_identity)"


# --- the fix renderer and the registry --------------------------------------------------------------------------

def test_fix_without_a_unique_name_uses_the_display_name():
    text = doc.render_app_setup_task({"app_id": "abc", "display_name": "SOC: runbooks"}, [("mde", "delegated", ["Machine.Read"])])
    assert '    display_name: "SOC: runbooks"  # or unique_name: <the app\'s uniqueName>, if it has one\n' in text
    assert "      - resource: wdatp\n        delegated: [Machine.Read]\n" in text


def test_fix_without_anything_readable():
    text = doc.render_app_setup_task({"app_id": "abc"}, [("graph", "application", ["ThreatHunting.Read.All"])])
    assert "    unique_name: <the app's uniqueName>  # the app registration could not be read\n" in text


def test_registry_user_access():
    assert perm.roles_allowing("read") == ["Security Reader", "Global Reader", "Security Operator",
                                           "Security Administrator", "Global Administrator"]
    assert perm.roles_allowing("write") == ["Security Operator", "Security Administrator", "Global Administrator"]
    assert perm.directory_role("5d6b6bb7-de71-4623-b4af-96380a352509").name == "Security Reader"
    assert perm.directory_role("global administrator").template_id == "62e90394-69f5-4237-9190-012177145e10"
    assert perm.directory_role("Helpdesk Administrator") is None
    assert perm.access_of("Machine.Read.All") == "read"
    assert perm.access_of("Library.Manage") == "write"
    assert perm.apis_in_cloud("china") == ("graph",)
    assert perm.apis_in_cloud("gcc_high") == ("graph", "mtp", "mde")


@pytest.mark.parametrize("method, path, claims, hint", [
    ("POST", "/v1.0/security/runHuntingQuery", {"scp": "ThreatHunting.Read.All User.Read",
                                                "wids": ["b79fbf4d-3ef9-4689-8143-76b194e85509"]},
     "the token carries the delegated scope ThreatHunting.Read.All, so the signed-in user lacks a Defender role: "
     "assign one of the Entra ID roles Security Reader, Global Reader, Security Operator, Security Administrator, "
     "Global Administrator (the user has none of them)"),
    ("PATCH", "/v1.0/security/incidents/7", {"scp": "SecurityIncident.ReadWrite.All",
                                             "wids": ["5d6b6bb7-de71-4623-b4af-96380a352509"]},
     "the token carries the delegated scope SecurityIncident.ReadWrite.All, so the signed-in user lacks a Defender "
     "role: assign one of the Entra ID roles Security Operator, Security Administrator, Global Administrator (the "
     "user has Security Reader)"),
    ("GET", "/v1.0/security/incidents", {"scp": "ThreatHunting.Read.All"},
     "the user token lacks the delegated scope SecurityIncident.Read.All: declare and consent it for the app "
     "(m365.defender.mtp_aad_app_setup, permissions[].delegated and consent)"),
    ("POST", "/v1.0/oauth2PermissionGrants", {"scp": "User.Read"},
     "DelegatedPermissionGrant.ReadWrite.All has no delegated permission: a user token cannot make this call; run it "
     "with an application identity"),
    ("POST", "/v1.0/security/runHuntingQuery", {"roles": ["AdvancedHunting.Read.All"]}, None),
])
def test_user_403_hint(method, path, claims, hint):
    assert perm.user_403_hint(perm.needed_permission("graph", method, path), claims) == hint


def test_apis_of_the_needs():
    assert doc.apis_of([]) is None
    assert doc.apis_of(doc.resolve_needs(["mtp_hunting_query:mtp", "Incident.Read"])) == {"mtp"}
    assert doc.apis_of(doc.resolve_needs(["mtp_hunting_query"])) == {"graph", "mtp", "mde"}
