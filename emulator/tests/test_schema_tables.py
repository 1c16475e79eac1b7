"""The advanced hunting schema, whole: every table of Microsoft Learn's advanced hunting schema reference exists
with its documented columns and types, holds rows per tenant, and the deprecated names resolve. Expected names and types are literals taken from the Learn pages."""

from __future__ import annotations

import datetime as dt

import pytest

from mtp_emulator.hunting.engine import HuntingEngine
from mtp_emulator.incidents import IncidentStore

# The schema reference's table list, as published.
DOCUMENTED = """AADSignInEventsBeta AADSpnSignInEventsBeta AIAgentsInfo AlertEvidence AlertInfo BehaviorEntities
BehaviorInfo CampaignInfo CloudAppEvents CloudAuditEvents CloudDnsEvents CloudProcessEvents
CloudStorageAggregatedEvents DataSecurityBehaviors DataSecurityEvents DeviceBaselineComplianceAssessment
DeviceBaselineComplianceAssessmentKB DeviceBaselineComplianceProfiles DeviceEvents DeviceFileCertificateInfo
DeviceFileEvents DeviceImageLoadEvents DeviceInfo DeviceLogonEvents DeviceNetworkEvents DeviceNetworkInfo
DeviceProcessEvents DeviceRegistryEvents DeviceTvmBrowserExtensions DeviceTvmBrowserExtensionsKB
DeviceTvmCertificateInfo DeviceTvmHardwareFirmware DeviceTvmInfoGathering DeviceTvmInfoGatheringKB
DeviceTvmSecureConfigurationAssessment DeviceTvmSecureConfigurationAssessmentKB DeviceTvmSoftwareEvidenceBeta
DeviceTvmSoftwareInventory DeviceTvmSoftwareVulnerabilities DeviceTvmSoftwareVulnerabilitiesKB
DisruptionAndResponseEvents EmailAttachmentInfo EmailEvents EmailPostDeliveryEvents EmailUrlInfo
EntraIdSignInEvents EntraIdSpnSignInEvents ExposureGraphEdges ExposureGraphNodes FileMaliciousContentInfo
GraphApiAuditEvents IdentityAccountInfo IdentityDirectoryEvents IdentityEvents IdentityInfo IdentityLogonEvents
IdentityQueryEvents MessageEvents MessagePostDeliveryEvents MessageUrlInfo OAuthAppInfo UrlClickEvents""".split()


TENANT, DOMAIN = "99999999-2222-4333-8444-555555555555", "schema.example"
ANCHOR = dt.datetime(2026, 11, 30, 12, 0, tzinfo=dt.timezone.utc)


@pytest.fixture(scope="module")
def engine():
    eng = HuntingEngine(TENANT, DOMAIN, 10, ANCHOR, IncidentStore(TENANT, DOMAIN, ANCHOR).alerts)
    yield eng
    eng.close()


def test_every_documented_table_answers_with_rows(engine):
    assert len(DOCUMENTED) == 62
    out = engine.run("union withsource=Table " + ", ".join(DOCUMENTED) + " | summarize n = count() by Table")
    counts = {r["Table"]: r["n"] for r in out["rows"]}
    assert sorted(counts) == sorted(DOCUMENTED)
    assert all(n > 0 for n in counts.values()), {t: n for t, n in counts.items() if not n}


@pytest.mark.parametrize("table, schema", [
    ("EntraIdSpnSignInEvents", [
        ("Timestamp", "DateTime"), ("Application", "String"), ("ApplicationId", "String"),
        ("IsManagedIdentity", "Boolean"), ("ErrorCode", "Int32"), ("CorrelationId", "String"),
        ("ServicePrincipalName", "String"), ("ServicePrincipalId", "String"), ("ResourceDisplayName", "String"),
        ("ResourceId", "String"), ("ResourceTenantId", "String"), ("IPAddress", "String"), ("Country", "String"),
        ("State", "String"), ("City", "String"), ("Latitude", "String"), ("Longitude", "String"),
        ("RequestId", "String"), ("ReportId", "String")]),
    ("ExposureGraphNodes", [("NodeId", "String"), ("NodeLabel", "String"), ("NodeName", "String"),
                            ("Categories", "Object"), ("NodeProperties", "Object"), ("EntityIds", "Object")]),
    ("CampaignInfo", [("Timestamp", "DateTime"), ("CampaignName", "String"), ("CampaignId", "String"),
                      ("CampaignType", "String"), ("CampaignSubtype", "String"), ("NetworkMessageId", "String"),
                      ("RecipientEmailAddress", "String"), ("ReportId", "String")]),
    ("DeviceTvmSoftwareVulnerabilitiesKB", [
        ("CveId", "String"), ("CvssScore", "String"), ("IsExploitAvailable", "Boolean"),
        ("VulnerabilitySeverityLevel", "String"), ("LastModifiedTime", "DateTime"), ("PublishedDate", "DateTime"),
        ("VulnerabilityDescription", "String"), ("AffectedSoftware", "Object")]),
])
def test_documented_columns_and_types(engine, table, schema):
    out = engine.run(f"{table} | take 1")
    assert [(name, api) for name, api, _ in out["columns"]] == schema


def test_deprecated_names_resolve_beside_their_successors(engine):
    new = engine.run("EntraIdSignInEvents | summarize n = count()")["rows"]
    old = engine.run("AADSignInEventsBeta | summarize n = count()")["rows"]
    assert new == old and new[0]["n"] > 0
    columns = [c[0] for c in engine.run("AADSignInEventsBeta | take 1")["columns"]]
    assert columns[18:20] == ["AadDeviceId", "EntraIdDeviceId"]
    assert "IsThroughGlobalSecureAccess" not in columns  # the AAD page does not list it
    same = engine.run("AADSignInEventsBeta | where AadDeviceId != EntraIdDeviceId | count")["rows"]
    assert same == [{"Count": 0}]
    spn = engine.run("AADSpnSignInEventsBeta | join kind=inner (EntraIdSpnSignInEvents) on ReportId | count")
    assert spn["rows"][0]["Count"] == engine.run("EntraIdSpnSignInEvents | count")["rows"][0]["Count"]


def test_seeded_rows_are_the_tenants_own_and_deterministic(engine):
    devices = {r["DeviceName"] for r in engine.run("DeviceInfo | distinct DeviceName")["rows"]}
    inventory = engine.run("DeviceTvmSoftwareInventory | project DeviceName, SoftwareName | order by DeviceName asc")
    assert {r["DeviceName"] for r in inventory["rows"]} <= devices
    again = HuntingEngine(TENANT, DOMAIN, 10, ANCHOR, [])
    try:
        assert again.run("DeviceTvmSoftwareInventory | project DeviceName, SoftwareName | order by DeviceName asc") \
            ["rows"] == inventory["rows"]
    finally:
        again.close()
