"""A few plausible, deterministic rows for every table the attack stories of :mod:`.generator` do not fill.

Each of :data:`.tables.MORE_TABLES` gets :data:`ROWS` rows per tenant. A value is derived from the column's name
and type and from the tenant's seeded devices and users (:class:`.generator.Dimensions`): a ``DeviceId`` is one of
the tenant's devices, an ``AccountUpn`` one of its users, a time lies in the hours before the tenant's anchor, an
id is a guid hashed from tenant, table, column and row. :data:`OVERRIDES` gives the columns whose values carry
meaning (action types, error codes, application names). The deprecated table names of :data:`.tables.ALIASES` are
views of the tables that replaced them, so rows loaded into either show in both.
"""

from __future__ import annotations

import datetime as dt

from .generator import _guid, _h, insert_rows
from .tables import ALIAS_COLUMNS, ALIASES, MORE_TABLES, TABLES

ROWS = 6

#: table -> column -> the values rows cycle through.
OVERRIDES = {
    "EntraIdSignInEvents": {
        "Application": ["Microsoft Teams", "Office 365 Exchange Online", "Azure Portal", "Microsoft Office"],
        "ErrorCode": [0, 0, 0, 50126, 0, 50074], "LogonType": ['["interactiveUser"]', '["nonInteractiveUser"]'],
        "ClientAppUsed": ["Browser", "Mobile Apps and Desktop clients"], "Country": ["US", "US", "GB", "DE"],
        "AuthenticationRequirement": ["singleFactorAuthentication", "multiFactorAuthentication"],
        "RiskLevelAggregated": [0, 0, 10, 0, 50, 0], "RiskState": [0, 0, 0, 0, 4, 0],
    },
    "EntraIdSpnSignInEvents": {
        "Application": ["SOC automation", "Backup agent", "Graph connector"], "ErrorCode": [0, 0, 7000215],
        "IsManagedIdentity": [False, True], "ServicePrincipalName": ["SOC automation", "backup-mi", "graph-sync"],
    },
    "BehaviorInfo": {"ActionType": ["ImpossibleTravelActivity", "MassDownload", "UnusualAdditionOfCredentials"],
                     "ServiceSource": ["Microsoft Defender for Cloud Apps"], "Categories": ['["InitialAccess"]']},
    "BehaviorEntities": {"ActionType": ["ImpossibleTravelActivity", "MassDownload"],
                         "EntityType": ["User", "Ip", "CloudApplication"], "EntityRole": ["Impacted", "Related"]},
    "CampaignInfo": {"CampaignType": ["Phish", "Malware", "Spam"],
                     "CampaignName": ["Invoice lure", "Shared document", "Parcel delivery"]},
    "DisruptionAndResponseEvents": {"ActionType": ["ContainedUserLogonBlocked", "ContainedUserSmbFileOpenBlocked",
                                                   "SafeBootGuardPolicyApplied"],
                                    "ReportType": ["Prevented", "Blocked", "PolicyUpdated"]},
    "GraphApiAuditEvents": {"RequestMethod": ["GET", "GET", "POST", "PATCH"],
                            "ResponseStatusCode": ["200", "200", "201", "403"],
                            "RequestUri": ["https://graph.microsoft.com/v1.0/users",
                                           "https://graph.microsoft.com/v1.0/security/incidents",
                                           "https://graph.microsoft.com/v1.0/applications"]},
    "IdentityEvents": {"Application": ["Okta"], "ActionType": ["user.session.start", "user.authentication.sso"],
                       "ActionResult": ["SUCCESS", "SUCCESS", "FAILURE"]},
    "OAuthAppInfo": {"PrivilegeLevel": ["Low", "Medium", "High"], "AppStatus": ["Enabled"],
                     "AppOrigin": ["Internal", "External"]},
    "DeviceTvmSoftwareInventory": {"SoftwareVendor": ["microsoft", "google", "mozilla"],
                                   "SoftwareName": ["edge", "chrome", "firefox"],
                                   "SoftwareVersion": ["131.0.2903.70", "131.0.6778.86", "133.0"]},
    "DeviceTvmSoftwareVulnerabilitiesKB": {"VulnerabilitySeverityLevel": ["Critical", "High", "Medium"],
                                           "CvssScore": ["9.8", "7.5", "5.3"], "IsExploitAvailable": [True, False]},
    "DeviceTvmHardwareFirmware": {"ComponentType": ["Hardware", "Bios", "Processor"],
                                  "Manufacturer": ["dell inc.", "dell inc.", "intel"]},
    "DeviceTvmBrowserExtensions": {"BrowserName": ["edge", "chrome"], "ExtensionRisk": ["Low", "Medium"]},
    "MessageEvents": {"DeliveryAction": ["Delivered", "Delivered", "Blocked"], "ThreatTypes": ["", "", "Phish"]},
    "CloudAuditEvents": {"DataSource": ["Azure", "AWS", "GCP"], "ActionType": ["Create", "Read", "Delete"]},
}

_TEXT = {"Country": ["US", "GB", "DE"], "CountryCode": ["US", "GB", "DE"], "City": ["Redmond", "London", "Berlin"],
         "State": ["WA", "England", "Berlin"], "OSPlatform": None, "Location": ["westeurope", "eastus"],
         "Isp": ["Contoso ISP", "Fabrikam Telecom"], "UserAgent": ["Mozilla/5.0 (Windows NT 10.0; Win64; x64)"],
         "Browser": ["Edge 131.0.0", "Chrome 131.0.0"], "DeviceTrustType": ["AzureAd", "Workplace", ""],
         "ActionType": ["Created", "Updated"], "ThreatTypes": ["", "Phish"], "Workload": ["SharePoint", "OneDrive"]}


def _value(table: str, column: str, kind: str, k: int, dims, anchor: dt.datetime):
    """The value of *column* in row *k* of *table*."""
    device = dims.devices[(k * 5 + len(table)) % len(dims.devices)]
    user = dims.users[(k * 7 + len(table)) % len(dims.users)]
    picks = OVERRIDES.get(table, {}).get(column)
    if picks:
        return picks[k % len(picks)]
    if kind == "datetime":
        return anchor - dt.timedelta(hours=3 * k + 1, minutes=len(column) + 7 * k)
    low = column.lower()
    by_name = {"deviceid": device["DeviceId"], "devicename": device["DeviceName"], "entraiddeviceid":
               device["AadDeviceId"], "aaddeviceid": device["AadDeviceId"], "osplatform": device["OSPlatform"],
               "osversion": device["OSVersion"], "accountupn": user["Upn"], "accountobjectid": user["ObjectId"],
               "accountdisplayname": user["DisplayName"], "displayname": user["DisplayName"],
               "accountname": user["AccountName"], "accountdomain": user["AccountDomain"], "accountsid": user["Sid"],
               "sid": user["Sid"], "emailaddress": user["Upn"], "recipientemailaddress": user["Upn"],
               "senderemailaddress": user["Upn"], "department": user["Department"], "jobtitle": user["JobTitle"],
               "ipaddress": device["PublicIP"], "localip": device["LocalIP"], "tenantid": dims.tenant_id,
               "resourcetenantid": dims.tenant_id, "givenname": user["DisplayName"].split()[0],
               "surname": user["DisplayName"].split()[-1]}
    if low in by_name and kind in ("string", "guid"):
        return by_name[low]
    if kind == "guid" or (kind == "string" and (low.endswith("id") or low.endswith("guid"))):
        return _guid(dims.tenant_id, table, column, k)
    if kind == "bool":
        return k % 3 == 0
    if kind in ("int", "long"):
        return (k * 37 + len(column)) % 100
    if kind == "real":
        return float((k % 9) + 1)
    if kind == "dynamic":
        return []
    if column in _TEXT and _TEXT[column]:
        return _TEXT[column][k % len(_TEXT[column])]
    if low.startswith("sha256") or low.endswith("sha256"):
        return _h(dims.tenant_id, table, k)
    return f"{column}-{k + 1}"


def create_aliases(con) -> None:
    """The deprecated names, as views of the tables that replaced them."""
    for alias, base in ALIASES.items():
        base_cols = dict(TABLES[base])
        select = ", ".join(
            f'"{ALIAS_COLUMNS[c]}" AS "{c}"' if c not in base_cols and c in ALIAS_COLUMNS else f'"{c}"'
            for c, _ in TABLES[alias])
        con.execute(f'CREATE OR REPLACE VIEW "{alias}" AS SELECT {select} FROM "{base}"')


def fill(con, dims, anchor: dt.datetime) -> None:
    """:data:`ROWS` rows in each table of :data:`.tables.MORE_TABLES` (the aliases are views: none of their own)."""
    for table, cols in MORE_TABLES.items():
        if table in ALIASES:
            continue
        insert_rows(con, table, [{c: _value(table, c, kind, k, dims, anchor) for c, kind in cols}
                                 for k in range(ROWS)])
    create_aliases(con)
