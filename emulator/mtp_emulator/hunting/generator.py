"""Deterministic, seeded advanced-hunting data, generated inside DuckDB.

Each event table is a view over ``range(n)``: every value is a function of the row number and a seed derived
from the tenant id (``hash(i, seed, key)``), computed when a query reads it, so a million rows per table cost
neither build time nor memory, and the same tenant always gets the same data (timestamps are relative to the
tenant's anchor time). Planted rows live in small ``_planted_<table>`` tables appended to the views.

The tenant's devices, users and processes are :class:`.dimensions.Dimensions`; the stories are planted by
:mod:`.stories`; the tables the stories do not touch get a few rows from :mod:`.seed_extra`.

On top of the noise, :func:`plant_stories` plants attack stories that real hunting queries find (times:
:func:`story_times`, relative to the tenant's anchor; device names end in ``.<tenant>.local``):

* ``phish`` — a phishing mail with a macro document to Megan Bowen, opened on ``ws-fin-07``; Word starts an
  encoded PowerShell download cradle (``-enc``) that fetches ``http://198.51.100.23/a.ps1``.
* ``creds`` — 45 minutes later, on ``ws-fin-07``: ``mimikatz.exe sekurlsa::logonpasswords`` and an lsass
  MiniDump through ``comsvcs.dll``.
* ``ransom`` — the next night (about 17 hours later), on ``srv-file-02``: a remote logon from ``ws-fin-07``,
  ``vssadmin delete shadows /all /quiet``, ``wbadmin delete catalog``, ``bcdedit ... recoveryenabled No``,
  then mass renames to ``*.locked`` and a ransom note.
* ``spray`` — a password spray against many accounts from ``203.0.113.50`` (IdentityLogonEvents).
"""

from __future__ import annotations

import datetime as dt
import json

from .dimensions import (  # noqa: F401 - re-exported: incidents.py and older callers import them from here
    ACTIONS, ATTACKER_IP, CRADLE, CRADLE_B64, DEVICES, DLLS, DOCUMENTS, PARENTS, PROCESSES, REG_KEYS, SENDER_DOMAINS,
    SPRAY_IP, SUBJECTS, URLS, USERS, UTC, Dimensions, _guid, _h, _list, _q, seed_of)
from .tables import ALIASES, DUCKDB_TYPE, EVENT_TABLES, TABLES

# --- bulk rows ---------------------------------------------------------------------------------------------

def _pick(values: list, key: str) -> str:
    return f"{_list(values)}[1 + (hash(b.i, b.seed, {_q(key)}) % {len(values)})::INTEGER]"


def _num(key: str, lo: int, span: int) -> str:
    return f"({lo} + (hash(b.i, b.seed, {_q(key)}) % {span})::BIGINT)"


def _public_ip(key: str) -> str:
    return (f"concat(20 + (hash(b.i, b.seed, {_q(key)}) % 180), '.', (hash(b.i, b.seed, {_q(key)}) >> 8) % 256, "
            f"'.', (hash(b.i, b.seed, {_q(key)}) >> 16) % 256, '.', 1 + (hash(b.i, b.seed, {_q(key)}) >> 24) % 254)")


def _email_id(key: str) -> str:
    m = f"md5(concat(b.seed, {_q(key)}, b.i))"
    return (f"concat(substr({m},1,8),'-',substr({m},9,4),'-',substr({m},13,4),'-',substr({m},17,4),'-',"
            f"substr({m},21,12))")


def _column_expr(table: str, col: str, kind: str, dims: Dimensions) -> str:  # noqa: C901 - a lookup table
    """The SQL expression that fills *col* of a bulk row (aliases: b base, d device, u user, p/q process)."""
    email = table.startswith("Email") or table == "UrlClickEvents"
    by_name = {
        "Timestamp": "b.ts",
        "DeviceId": "d.DeviceId", "DeviceName": "d.DeviceName", "LocalIP": "d.LocalIP",
        "AccountName": "u.AccountName", "AccountDomain": "u.AccountDomain", "AccountSid": "u.Sid",
        "AccountUpn": "u.Upn", "AccountObjectId": "u.ObjectId", "AccountDisplayName": "u.DisplayName",
        "InitiatingProcessAccountDomain": "u.AccountDomain", "InitiatingProcessAccountName": "u.AccountName",
        "InitiatingProcessAccountSid": "u.Sid", "InitiatingProcessAccountUpn": "u.Upn",
        "InitiatingProcessAccountObjectId": "u.ObjectId",
        "FileName": "p.FileName", "FolderPath": "p.FolderPath", "SHA1": "p.SHA1", "SHA256": "p.SHA256",
        "MD5": "p.MD5", "FileSize": "p.FileSize", "ProcessCommandLine": "p.CommandLine",
        "ProcessVersionInfoCompanyName": "p.Company", "ProcessVersionInfoProductName": "p.Product",
        "ProcessVersionInfoProductVersion": "p.Version", "ProcessVersionInfoInternalFileName": "p.FileName",
        "ProcessVersionInfoOriginalFileName": "p.FileName", "ProcessVersionInfoFileDescription": "p.Description",
        "InitiatingProcessFileName": "q.FileName", "InitiatingProcessFolderPath": "q.FolderPath",
        "InitiatingProcessSHA1": "q.SHA1", "InitiatingProcessSHA256": "q.SHA256", "InitiatingProcessMD5": "q.MD5",
        "InitiatingProcessFileSize": "q.FileSize", "InitiatingProcessCommandLine": "q.CommandLine",
        "InitiatingProcessVersionInfoCompanyName": "q.Company",
        "InitiatingProcessVersionInfoProductName": "q.Product",
        "InitiatingProcessVersionInfoProductVersion": "q.Version",
        "InitiatingProcessVersionInfoInternalFileName": "q.FileName",
        "InitiatingProcessVersionInfoOriginalFileName": "q.FileName",
        "InitiatingProcessVersionInfoFileDescription": "q.Description",
        "InitiatingProcessParentFileName": _pick(PARENTS, "parent"),
        "ProcessId": _num("pid", 1000, 60000), "InitiatingProcessId": _num("ipid", 1000, 60000),
        "InitiatingProcessParentId": _num("ppid", 400, 6000), "LogonId": _num("logon", 100000, 900000),
        "InitiatingProcessLogonId": _num("logon", 100000, 900000),
        "ProcessCreationTime": "b.ts", "InitiatingProcessCreationTime": "(b.ts - INTERVAL 7 MINUTE)",
        "InitiatingProcessParentCreationTime": "(b.ts - INTERVAL 3 HOUR)",
        "ProcessIntegrityLevel": _pick(["Medium", "Medium", "High", "System"], "il"),
        "InitiatingProcessIntegrityLevel": _pick(["Medium", "Medium", "High", "System"], "iil"),
        "ProcessTokenElevation": _pick(["TokenElevationTypeDefault", "TokenElevationTypeLimited",
                                        "TokenElevationTypeFull"], "te"),
        "InitiatingProcessTokenElevation": _pick(["TokenElevationTypeDefault", "TokenElevationTypeLimited"], "ite"),
        "InitiatingProcessSignerType": _pick(["OsVendor", "Microsoft", "ThirdParty"], "sig"),
        "InitiatingProcessSignatureStatus": "'Valid'",
        "InitiatingProcessSessionId": _num("sess", 0, 3), "IsInitiatingProcessRemoteSession": "FALSE",
        "ReportId": "(b.i + 1000)" if kind == "long" else "CAST(b.i + 1000 AS VARCHAR)",
        "RemoteIP": _public_ip("rip"), "RemotePort": _list([443, 443, 443, 80, 445, 3389, 53, 135, 8080, 22]) +
        "[1 + (hash(b.i, b.seed, 'rport') % 10)::INTEGER]",
        "RemoteUrl": _pick(URLS, "url"), "LocalPort": "(49152 + (hash(b.i, b.seed, 'lport') % 16000))::INTEGER",
        "LocalIPType": "'Private'", "RemoteIPType": "'Public'",
        "ActionType": _pick(ACTIONS.get(table, [""]), "action"),
        "AppGuardContainerId": "''",
        "OSPlatform": "d.OSPlatform",
        "IPAddress": _public_ip("ipaddr"),
        "Isp": _pick(["Contoso ISP", "Fabrikam Telecom", "Tailspin Networks"], "isp"),
        "Location": _pick(["Seattle, WA, US", "London, GB", "Berlin, DE", "Redmond, WA, US"], "loc"),
        "CountryCode": _pick(["US", "US", "GB", "DE", "FR"], "cc"),
        "City": _pick(["Seattle", "Redmond", "London", "Berlin", "Paris"], "city"),
    }
    if email:
        by_name.update({
            "NetworkMessageId": _email_id("nm"),
            "SenderFromAddress": "concat('noreply@', " + _pick(SENDER_DOMAINS, "sd") + ")",
            "SenderMailFromAddress": "concat('bounce@', " + _pick(SENDER_DOMAINS, "sd") + ")",
            "SenderFromDomain": _pick(SENDER_DOMAINS, "sd"), "SenderMailFromDomain": _pick(SENDER_DOMAINS, "sd"),
            "SenderDisplayName": _pick(["Fabrikam Billing", "Northwind", "Tailspin Support", "Adatum HR"], "sdn"),
            "RecipientEmailAddress": "u.Upn", "RecipientObjectId": "u.ObjectId",
            "SHA256": "sha256(concat(b.seed, 'att', b.i))",
        })
    per_table = {
        "DeviceFileEvents": {
            "FileName": _list([f for f, _ in DOCUMENTS]) + "[1 + (hash(b.i, b.seed, 'doc') % "
            f"{len(DOCUMENTS)})::INTEGER]",
            "FolderPath": "concat('C:\\Users\\', u.AccountName, '\\Documents\\', " + _list([f for f, _ in DOCUMENTS])
            + f"[1 + (hash(b.i, b.seed, 'doc') % {len(DOCUMENTS)})::INTEGER])",
            "SHA256": "sha256(concat(b.seed, 'file', hash(b.i, b.seed, 'doc') % 97))",
            "SHA1": "substr(sha256(concat(b.seed, 'f1', hash(b.i, b.seed, 'doc') % 97)), 1, 40)",
            "MD5": "md5(concat(b.seed, 'f5', hash(b.i, b.seed, 'doc') % 97))",
            "FileSize": _num("fsize", 1024, 5_000_000),
            "FileOriginUrl": "''", "FileOriginIP": "''",
        },
        "DeviceImageLoadEvents": {
            "FileName": _pick(DLLS, "dll"), "FolderPath": "concat('C:\\Windows\\System32\\', " +
            _pick(DLLS, "dll") + ")",
            "SHA256": "sha256(" + _pick(DLLS, "dll") + ")", "SHA1": "substr(sha256(" + _pick(DLLS, "dll") + "), 1, 40)",
            "MD5": "md5(" + _pick(DLLS, "dll") + ")",
        },
        "DeviceEvents": {
            "AdditionalFields": "json_object('Command', " + _pick(["Get-Process", "Get-Service", "Import-Module",
                                                                   "Get-ChildItem", "Test-Connection"], "pscmd")
                                + ", 'IsAudit', FALSE)",
        },
        "DeviceLogonEvents": {
            "LogonType": _pick(["Interactive", "RemoteInteractive", "Network", "Network", "Batch", "Service",
                                "Unlock", "CachedInteractive"], "lt"),
            "Protocol": _pick(["Negotiate", "Kerberos", "NTLM"], "proto"),
            "FailureReason": "CASE WHEN " + _pick(ACTIONS["DeviceLogonEvents"], "action") +
            " = 'LogonFailed' THEN 'InvalidUserNameOrPassword' ELSE '' END",
            "IsLocalAdmin": "(hash(b.i, b.seed, 'adm') % 5 = 0)",
            "RemoteDeviceName": "''", "RemoteIP": "concat('10.1.', 10 + hash(b.i, b.seed, 'r') % 40, '.', "
            "20 + hash(b.i, b.seed, 'r2') % 24)", "RemoteIPType": "'Private'",
        },
        "DeviceNetworkEvents": {"Protocol": _pick(["Tcp", "Tcp", "Tcp", "Udp"], "proto")},
        "DeviceRegistryEvents": {
            "RegistryKey": _pick(REG_KEYS, "rk"), "RegistryValueType": _pick(["String", "Dword", "Binary"], "rvt"),
            "RegistryValueName": _pick(["OneDrive", "SecurityHealth", "DisableAntiSpyware", "VBAWarnings",
                                        "RunAsPPL", "Shell", "Teams"], "rvn"),
            "RegistryValueData": _pick(["C:\\Windows\\System32\\SecurityHealthSystray.exe", "1", "0",
                                        "explorer.exe",
                                        "\"C:\\Program Files\\Microsoft OneDrive\\OneDrive.exe\" /background"],
                                       "rvd"),
        },
        "EmailEvents": {
            "InternetMessageId": "concat('<', " + _email_id("nm") + ", '@', " + _pick(SENDER_DOMAINS, "sd") + ", '>')",
            "Subject": _pick(SUBJECTS, "subj"),
            "EmailClusterId": _num("cluster", 10_000_000, 90_000_000),
            "EmailDirection": _pick(["Inbound", "Inbound", "Inbound", "Outbound", "Intra-org"], "dir"),
            "DeliveryAction": _pick(["Delivered"] * 8 + ["Junked", "Blocked"], "da"),
            "DeliveryLocation": _pick(["Inbox/folder"] * 8 + ["Junk folder", "Quarantine"], "da"),
            "LatestDeliveryAction": _pick(["Delivered"] * 8 + ["Junked", "Blocked"], "da"),
            "LatestDeliveryLocation": _pick(["Inbox/folder"] * 8 + ["Junk folder", "Quarantine"], "da"),
            "ThreatTypes": _pick([""] * 8 + ["Spam", "Phish"], "da"),
            "ConfidenceLevel": "''", "BulkComplaintLevel": _num("bcl", 0, 8) + "::INTEGER",
            "AuthenticationDetails": "'{\"SPF\":\"pass\",\"DKIM\":\"pass\",\"DMARC\":\"pass\",\"CompAuth\":\"pass\"}'",
            "AttachmentCount": "(CASE WHEN hash(b.i, b.seed, 'att') % 3 = 0 THEN 1 ELSE 0 END)::INTEGER",
            "UrlCount": _num("urls", 0, 4) + "::INTEGER", "EmailLanguage": "'en'",
            "SenderIPv4": _public_ip("sip"), "SenderIPv6": "''",
        },
        "EmailAttachmentInfo": {
            "FileName":
                _list([f for f, _ in DOCUMENTS]) + f"[1 + (hash(b.i, b.seed, 'doc') % {len(DOCUMENTS)})::INTEGER]",
            "FileType":
                _list([t for _, t in DOCUMENTS]) + f"[1 + (hash(b.i, b.seed, 'doc') % {len(DOCUMENTS)})::INTEGER]",
            "FileSize": _num("fsize", 2048, 3_000_000),
        },
        "EmailUrlInfo": {
            "Url": "concat('https://', " + _pick(URLS, "url") + ", '/', hash(b.i, b.seed, 'path') % 10000)",
            "UrlDomain": _pick(URLS, "url"), "UrlLocation": _pick(["Body", "Body", "Attachment", "Subject"], "ul"),
        },
        "IdentityLogonEvents": {
            "Application":
                _pick(["Active Directory", "Active Directory", "Microsoft 365", "Azure Active Directory"], "app"),
            "LogonType":
                _pick(["Credentials Validation", "Resource Access", "Interactive Logon", "Remote Desktop"], "lt"),
            "Protocol": _pick(["Kerberos", "NTLM", "Kerberos", ""], "proto"),
            "FailureReason": "CASE WHEN " + _pick(ACTIONS["IdentityLogonEvents"], "action") +
            " = 'LogonFailed' THEN 'WrongPassword' ELSE '' END",
            "DeviceName": "d.DeviceName",
            "DeviceType": "d.DeviceType",
            "IPAddress": "d.LocalIP",
            "Port": _num("p", 49152, 16000) + "::INTEGER",
            "DestinationDeviceName": "'srv-dc-01." + dims.dns_suffix + "'",
            "DestinationIPAddress": _q(dims.device("srv-dc-01")["LocalIP"]),
            "DestinationPort": _list([88, 389, 445]) + "[1 + (hash(b.i, b.seed, 'dport') % 3)::INTEGER]",
            "TargetDeviceName": "''", "TargetAccountDisplayName": "''",
            "AdditionalFields": "json_object('Spns', 'krbtgt/" + dims.ad_domain + "')",
        },
        "IdentityQueryEvents": {
            "Application": "'Active Directory'", "QueryType": _pick(["AllUsers", "AllGroups", "AllComputers",
                                                                    "A", "SRV", "QueryUser"], "qt"),
            "QueryTarget": "u.AccountName",
            "Query": "concat('(&(objectClass=user)(sAMAccountName=', u.AccountName, '))')",
            "Protocol": _pick(["Ldap", "Dns", "Samr"], "proto"), "DeviceName": "d.DeviceName", "IPAddress": "d.LocalIP",
            "Port": _num("p", 49152, 16000) + "::INTEGER",
            "DestinationDeviceName": "'srv-dc-01." + dims.dns_suffix + "'",
            "DestinationIPAddress": _q(dims.device("srv-dc-01")["LocalIP"]), "DestinationPort": "389",
            "TargetDeviceName": "''", "TargetAccountUpn": "''", "TargetAccountDisplayName": "''",
            "AdditionalFields": "json_object('SourceComputerOperatingSystemType', 'windows')",
        },
        "IdentityDirectoryEvents": {
            "Application": "'Active Directory'",
            "Protocol": "''",
            "DeviceName": "d.DeviceName",
            "IPAddress": "d.LocalIP",
            "TargetAccountUpn": "u.Upn", "TargetAccountDisplayName": "u.DisplayName",
            "DestinationDeviceName": "'srv-dc-01." + dims.dns_suffix + "'", "ISP": "''",
            "AdditionalFields": "json_object('TO.GROUP', " + _pick(["Domain Users", "Finance", "Domain Admins",
                                                                   "Remote Desktop Users"], "grp")
                                + ", 'TARGET_OBJECT.USER', u.AccountName, 'ACTOR.ACCOUNT', 'adm-nestor')",
        },
        "DeviceNetworkInfo": {
            "MacAddress": "upper(substr(md5(d.DeviceId), 1, 12))", "NetworkAdapterName": "'Ethernet'",
            "NetworkAdapterStatus": _pick(["Up", "Up", "Up", "Down"], "nas"), "TunnelType": "'None'",
            "NetworkAdapterType": "'Ethernet'", "NetworkAdapterVendor": "'Intel Corporation'",
            "ConnectedNetworks": "json_array(json_object('Name', 'corp.contoso.local', 'Category', 'Domain', "
                                 "'IsConnectedToInternet', TRUE))",
            "DnsAddresses": "json_array('10.1.10.5', '10.1.10.6')", "DefaultGateways": "json_array('10.1.10.1')",
            "IPAddresses":
                "json_array(json_object('IPAddress', d.LocalIP, 'SubnetPrefix', 24, 'AddressType', 'Private'))",
        },
        "DeviceFileCertificateInfo": {
            "IsSigned": "TRUE",
            "SignatureType": "'Embedded'",
            "Signer": "q.Company",
            "Issuer": "'Microsoft Code Signing PCA 2011'",
            "SHA1": "q.SHA1",
            "SignerHash": "substr(sha256(q.Company), 1, 40)",
            "IssuerHash": "substr(sha256('pca'), 1, 40)",
            "CertificateSerialNumber": "substr(md5(q.Company), 1, 20)", "IsTrusted": "TRUE",
            "IsRootSignerMicrosoft": "starts_with(q.Company, 'Microsoft')",
            "CertificateCreationTime": "(b.ts - INTERVAL 400 DAY)",
            "CertificateExpirationTime": "(b.ts + INTERVAL 300 DAY)",
            "CertificateCountersignatureTime": "(b.ts - INTERVAL 10 DAY)",
        },
        "DeviceTvmSoftwareVulnerabilities": {
            "OSPlatform": "d.OSPlatform", "OSVersion": "d.OSVersion", "OSArchitecture": "'x64'",
            "SoftwareVendor": _pick(["microsoft", "google", "mozilla", "oracle", "solarwinds"], "sv"),
            "SoftwareName": _pick(["windows_11", "chrome", "firefox", "jre", "orion_platform"], "sv"),
            "SoftwareVersion": _pick(["10.0.22631.3880", "126.0.6478.127", "127.0", "8.0.411", "2020.2.1"], "sv"),
            "CveId": "concat('CVE-202', (hash(b.i, b.seed, 'cve') % 5), '-', 1000 + hash(b.i, b.seed, 'cve2') % 40000)",
            "VulnerabilitySeverityLevel": _pick(["Low", "Medium", "High", "Critical"], "sev"),
            "RecommendedSecurityUpdate": "'November 2026 Security Updates'",
            "RecommendedSecurityUpdateId": "'KB5046617'",
            "CveTags": "'[]'::JSON", "CveMitigationStatus": "''", "AadDeviceId": "d.AadDeviceId",
        },
        "DeviceTvmSecureConfigurationAssessment": {
            # scid-2010: Defender AV mode (Context [["0"]] active, "1" passive, "4" EDR blocked); scid-2011: AV
            # signature/engine/update-time/product versions; scid-91: an ASR rule setting.
            "OSPlatform": "d.OSPlatform",
            "ConfigurationId": _pick(["scid-2010", "scid-2011", "scid-91"], "scid"),
            "ConfigurationCategory": "'Security controls'",
            "ConfigurationSubcategory": _pick(["Antivirus", "Antivirus", "Attack Surface Reduction"], "scid"),
            "ConfigurationImpact": "(1 + hash(b.i, b.seed, 'imp') % 9)::DOUBLE",
            "IsApplicable": "TRUE", "IsCompliant": "(hash(b.i, b.seed, 'cmp') % 5 <> 0)",
            "IsExpectedUserImpact": "FALSE",
            "Context": "(CASE " + _pick(["scid-2010", "scid-2011", "scid-91"], "scid")
                       + " WHEN 'scid-2010' THEN json_array(json_array(" + _pick(["0", "0", "1", "4"], "avm") + "))"
                       " WHEN 'scid-2011' THEN json_array(json_array('1.421.1203.0', '1.1.24090.11', "
                       "strftime(b.ts - INTERVAL 1 DAY, '%m/%d/%Y %H:%M:%S'), '4.18.24090.11'))"
                       " ELSE json_array() END)",
        },
        "EmailPostDeliveryEvents": {
            "Action": _pick(["Soft delete", "Moved to junk folder", "Hard delete"], "act"),
            "ActionTrigger": _pick(["SpecialAction", "AdminAction", "Zap"], "trig"), "ActionResult": "'Success'",
            "DeliveryLocation": "'Junk folder'", "ThreatTypes": "'Phish'",
        },
        "UrlClickEvents": {
            "Url": "concat('https://', " + _pick(URLS, "url") + ", '/', hash(b.i, b.seed, 'path') % 10000)",
            "AccountUpn": "u.Upn", "Workload": _pick(["Email", "Teams", "Office"], "wl"),
            "IsClickedThrough": "(hash(b.i, b.seed, 'ct') % 4 = 0)", "UrlChain": "'[]'", "ThreatTypes": "''",
        },
        "CloudAppEvents": {
            "Application": _pick(["Microsoft Exchange Online", "Microsoft SharePoint Online", "Microsoft Teams",
                                  "Microsoft OneDrive for Business", "Office 365"], "app"),
            "ApplicationId":
                _list([20893, 20892, 28375, 15600, 11161]) + "[1 + (hash(b.i, b.seed, 'app') % 5)::INTEGER]",
            "AccountId": "u.ObjectId", "IsAdminOperation": "(hash(b.i, b.seed, 'adm') % 20 = 0)",
            "DeviceType": _pick(["Desktop", "Mobile", "Unknown"], "dt"),
            "OSPlatform": _pick(["Windows", "iOS", "Android", "MacOS"], "os"),
            "IsAnonymousProxy": "FALSE", "UserAgent": "'Mozilla/5.0 (Windows NT 10.0; Win64; x64)'",
            "ActivityType": _pick(["Download", "Access", "Upload", "Send", "Edit"], "at"),
            "ActivityObjects":
                "json_array(json_object('Type', 'File', 'Name', " + _pick([f for f, _ in DOCUMENTS], "doc") + "))",
            "ObjectName": _pick([f for f, _ in DOCUMENTS], "doc"), "ObjectType": "'File'",
            "ObjectId":
                "concat('https://contoso.sharepoint.com/sites/team/', " + _pick([f for f, _ in DOCUMENTS], "doc")
                + ")",
            "AccountType": "'Regular'", "IsExternalUser": "FALSE", "IsImpersonated": "FALSE",
            "IPTags": "'[]'::JSON", "IPCategory": "''", "UserAgentTags": "'[]'::JSON",
            "RawEventData":
                "json_object('Operation', " + _pick(ACTIONS["CloudAppEvents"], "action")
                + ", 'UserId', u.Upn, 'ClientIP', " + _public_ip("ipaddr") + ")",
            "AdditionalFields": "'{}'::JSON", "LastSeenForUser": "'{}'::JSON", "UncommonForUser": "'[]'::JSON",
            "AuditSource": "'Defender for Cloud Apps access control'", "SessionData": "'{}'::JSON", "OAuthAppId": "''",
        },
    }
    expr = per_table.get(table, {}).get(col) or by_name.get(col)
    if expr is None:
        expr = {"datetime": "b.ts", "long": "0", "int": "0", "bool": "FALSE", "real": "0.0",
                "dynamic": "'{}'::JSON"}.get(kind, "''")
    return f"CAST({expr} AS {DUCKDB_TYPE[kind]})"


def physical(table: str) -> str:
    """Where rows of *table* are stored: bulk tables keep only their planted rows, in ``_planted_<table>``."""
    return f"_planted_{table}" if table in EVENT_TABLES else table


def create_tables(con) -> None:
    for table, cols in TABLES.items():
        if table in ALIASES:
            continue  # a view of the table that replaced it (seed_extra.create_aliases)
        ddl = ", ".join(f'"{c}" {DUCKDB_TYPE[k]}' for c, k in cols)
        con.execute(f'CREATE OR REPLACE TABLE "{physical(table)}" ({ddl})')


def fill_bulk(con, dims: Dimensions, table: str, rows: int, now: dt.datetime, seed: int) -> None:
    cols = TABLES[table]
    key = "Email" if table in ("EmailEvents", "EmailAttachmentInfo", "EmailUrlInfo") else table
    span_us = 30 * 86400 * 1_000_000 - 3_600_000_000
    select = ", ".join(f"{_column_expr(table, c, k, dims)} AS \"{c}\"" for c, k in cols)
    nd, nu, np_ = len(dims.devices), len(dims.users), len(dims.processes)
    windows = ", ".join(str(d["idx"]) for d in dims.devices if d["OSPlatform"].startswith("Windows"))
    # A view: rows are computed when a query reads them (only the columns it reads), so a million rows per
    # table cost no build time and no memory; the planted story rows are appended from a small real table.
    con.execute(f"""
        CREATE OR REPLACE VIEW "{table}" AS
        WITH b AS (
            SELECT i, {seed} AS seed, hash(i, {seed}, {_q(key)}) AS h,
                   TIMESTAMP '{now.strftime('%Y-%m-%d %H:%M:%S.%f')}'
                     - to_microseconds((hash(i, {seed}, {_q(key)}, 'ts') % {span_us})::BIGINT) AS ts
            FROM range({int(rows)}) r(i))
        SELECT {select}
        FROM b
        JOIN _dev d ON d.idx = ([{windows}][1 + (b.h % {len(windows.split(','))})::INTEGER]
                                     * (CASE WHEN b.h % 10 < 8 THEN 1 ELSE 0 END)
                                     + (CASE WHEN b.h % 10 < 8 THEN 0 ELSE (b.h >> 8) % {nd} END))
        JOIN _usr u ON u.idx = (b.h >> 16) % {nu}
        JOIN _proc p ON p.idx = (b.h >> 24) % {np_}
        JOIN _proc q ON q.idx = (b.h >> 32) % {np_}
        UNION ALL SELECT * FROM "{physical(table)}"
    """)


def fill_device_info(con, dims: Dimensions, rows: int, now: dt.datetime) -> None:
    hours = max(1, min(720, rows // len(dims.devices)))
    values = []
    for d in dims.devices:
        users = json.dumps([{"UserName": dims.users[d["idx"] % len(dims.users)]["AccountName"],
                             "DomainName": dims.ad_domain,
                             "Sid": dims.users[d["idx"] % len(dims.users)]["Sid"]}])
        values.append(d | {"LoggedOnUsers": users})
    cols = TABLES["DeviceInfo"]
    base = {c: ("''" if k == "string" else {"long": "0", "bool": "FALSE", "datetime": "NULL"}.get(k, "NULL"))
            for c, k in cols}
    base.update({
        "DeviceId": "d.DeviceId", "DeviceName": "d.DeviceName", "PublicIP": "d.PublicIP",
        "OSPlatform": "d.OSPlatform", "OSVersion": "d.OSVersion", "OSBuild": "d.OSBuild",
        "MachineGroup": "d.MachineGroup", "DeviceType": "d.DeviceType", "AadDeviceId": "d.AadDeviceId",
        "LoggedOnUsers": "d.LoggedOnUsers", "ClientVersion": "'10.8760.22621.1'",
        "OSArchitecture": "'64-bit'", "IsAzureADJoined": "starts_with(d.OSPlatform, 'Windows1')",
        "JoinType": "CASE WHEN starts_with(d.OSPlatform, 'Windows1') THEN 'AAD Joined' ELSE 'Domain Joined' END",
        "OnboardingStatus": "'Onboarded'", "DeviceCategory": "'Endpoint'", "SensorHealthState": "'Active'",
        "ExposureLevel": "['Low', 'Medium', 'High'][1 + (hash(d.idx, h.n) % 3)::INTEGER]",
        "AssetValue": "CASE WHEN d.DeviceType = 'Server' THEN 'High' ELSE 'Normal' END",
        "Timestamp": f"TIMESTAMP '{now.strftime('%Y-%m-%d %H:%M:%S')}' - to_hours(h.n) - to_seconds(d.idx * 7)",
        "ReportId": "(h.n * 100 + d.idx)", "IsInternetFacing": "starts_with(d.Short, 'lnx-web')",
        "Vendor": "CASE WHEN d.OSPlatform = 'macOS' THEN 'Apple Inc.' ELSE 'Dell Inc.' END",
        "Model": "CASE WHEN d.OSPlatform = 'macOS' THEN 'MacBook Pro' ELSE 'Latitude 7440' END",
        "ConnectivityType": "'Streamlined'", "DeviceManualTags": "'[]'", "DeviceDynamicTags": "'[]'",
        "IsExcluded": "FALSE", "AdditionalFields": "'{}'",
    })
    cols_sql = ", ".join(f'CAST({base[c]} AS {DUCKDB_TYPE[k]})' for c, k in cols)
    keys = list(values[0])
    rows_sql = ", ".join("(" + ", ".join(_q(v[c]) for c in keys) + ")" for v in values)
    con.execute(f"""
        INSERT INTO "DeviceInfo"
        SELECT {cols_sql}
        FROM (VALUES {rows_sql}) d({", ".join(keys)}), range({hours}) h(n)
    """)


def fill_identity_info(con, dims: Dimensions, now: dt.datetime) -> None:
    for day in range(0, 30, 3):
        ts = now - dt.timedelta(days=day, hours=2)
        for u in dims.users:
            insert_row(con, "IdentityInfo", {
                "Timestamp": ts, "ReportId": _guid(dims.tenant_id, "ii", day, u["idx"]),
                "AccountObjectId": u["ObjectId"], "AccountUpn": u["Upn"], "OnPremSid": u["Sid"],
                "AccountDisplayName": u["DisplayName"], "AccountName": u["AccountName"],
                "AccountDomain": dims.domain, "Type": "User",
                "DistinguishedName": f"CN={u['DisplayName']},OU=Users,DC={dims.ad_domain.lower()},DC=local",
                "GivenName": u["DisplayName"].split()[0], "Surname": u["DisplayName"].split()[-1],
                "Department": u["Department"], "JobTitle": u["JobTitle"], "EmailAddress": u["Upn"],
                "IsAccountEnabled": True, "City": "Redmond", "Country": "US",
                "CreatedDateTime": now - dt.timedelta(days=400 + u["idx"]), "SourceProvider": "AzureActiveDirectory",
                "TenantId": dims.tenant_id, "RiskLevel": "Low" if u["AccountName"] != "megan.bowen" else "High",
                "Tags": [], "AssignedRoles": ["Global Administrator"] if u["AccountName"].startswith("adm-") else [],
                "OtherMailAddresses": [],
            })


def insert_row(con, table: str, values: dict) -> None:
    cols = dict(TABLES[table])
    names = [n for n in values if n in cols]  # story rows share dicts across tables: keep this table's columns
    params = []
    for n in names:
        v = values[n]
        if cols[n] == "dynamic" and not isinstance(v, str):
            v = json.dumps(v)
        if isinstance(v, dt.datetime):
            v = v.astimezone(UTC).replace(tzinfo=None)
        params.append(v)
    placeholders = ", ".join(f"CAST(? AS {DUCKDB_TYPE[cols[n]]}) AS \"{n}\"" for n in names)
    con.execute(f'INSERT INTO "{physical(table)}" BY NAME SELECT {placeholders}', params)


def insert_rows(con, table: str, rows: list[dict], chunk: int = 500) -> None:
    """Many rows into *table*, one INSERT per run of rows with the same columns (users' own data, the extra
    tables' seed rows)."""
    cols = dict(TABLES[table])
    groups: dict[tuple, list[dict]] = {}
    for row in rows:
        groups.setdefault(tuple(n for n in row if n in cols), []).append(row)
    for names, group in groups.items():
        if not names:
            continue
        for start in range(0, len(group), chunk):
            part = group[start:start + chunk]
            params = []
            for row in part:
                for n in names:
                    v = row[n]
                    if cols[n] == "dynamic" and not isinstance(v, str) and v is not None:
                        v = json.dumps(v)
                    if isinstance(v, dt.datetime) and v.tzinfo is not None:
                        v = v.astimezone(UTC).replace(tzinfo=None)
                    params.append(v)
            one = "(" + ", ".join(f"CAST(? AS {DUCKDB_TYPE[cols[n]]})" for n in names) + ")"
            quoted = ", ".join(f'"{n}"' for n in names)
            con.execute(f'INSERT INTO "{physical(table)}" BY NAME SELECT * FROM (VALUES '
                        f'{", ".join([one] * len(part))}) v({quoted})', params)


def fill_alerts(con, alerts: list[dict]) -> None:
    """AlertInfo / AlertEvidence rows for the seeded alerts (see incidents.py)."""
    for a in alerts:
        insert_row(con, "AlertInfo", {
            "Timestamp": a["created"], "AlertId": a["id"], "Title": a["title"], "Category": a["category"],
            "Severity": a["severity"].capitalize(), "ServiceSource": a["serviceSourceName"],
            "DetectionSource": a["detectionSourceName"], "AttackTechniques": json.dumps(a["techniqueNames"]),
        })
        for ev in a["evidence"]:
            row = {"Timestamp": a["created"], "AlertId": a["id"], "Title": a["title"],
                   "Categories": json.dumps([a["category"]]), "AttackTechniques": json.dumps(a["techniqueNames"]),
                   "ServiceSource": a["serviceSourceName"], "DetectionSource": a["detectionSourceName"],
                   "Severity": a["severity"].capitalize()}
            row.update({k: v for k, v in ev.items() if k in dict(TABLES["AlertEvidence"])})
            insert_row(con, "AlertEvidence", row)


def build(con, tenant_id: str, domain: str, rows: int, anchor: dt.datetime, alerts: list[dict]) -> Dimensions:
    """Create and fill every table on *con* for one tenant."""
    seed = seed_of(tenant_id)
    dims = Dimensions(tenant_id, domain)
    create_tables(con)
    dims.create_lookup_tables(con)
    for table in EVENT_TABLES:
        fill_bulk(con, dims, table, rows, anchor, seed)
    fill_device_info(con, dims, rows, anchor)
    fill_identity_info(con, dims, anchor)
    plant_stories(con, dims, anchor)
    fill_alerts(con, alerts)
    from . import seed_extra

    seed_extra.fill(con, dims, anchor)
    return dims


from .stories import _proc_cols, plant_stories, story_times  # noqa: E402,F401 - re-exported (incidents.py)
