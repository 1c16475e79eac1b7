"""What fills each column of a generated advanced-hunting bulk row: column name -> DuckDB SQL expression.

The expressions read the aliases of the view :func:`.generator.fill_bulk` builds: ``b`` the base row (``b.i`` row
number, ``b.seed`` tenant seed, ``b.ts`` timestamp), ``d`` the device, ``u`` the user, ``p`` the process and ``q``
the initiating process (the :class:`.dimensions.Dimensions` lookup tables).

A column is looked up, first match wins, in:

1. :data:`DIMS_COLUMNS` — per table, columns that name the tenant's own devices or domain (built from *dims*);
2. :data:`TABLE_COLUMNS` — per table, what a column means in that table (``FileName`` of a DLL load, ...);
3. :data:`CONTEXT_COLUMNS` — columns whose value depends on the table or the column's type;
4. :data:`EMAIL_COLUMNS` — the email tables' sender / recipient columns (see :func:`is_email_table`);
5. :data:`COMMON_COLUMNS` — the same meaning in every table (device, account, process, network, geo columns);
6. :data:`KIND_DEFAULTS` — a constant by column type (``''`` for a type not listed).

All the tables are computed once, at import: every expression is a function of the constants in
:mod:`.dimensions` and of the hash key it names.
"""

from __future__ import annotations

from typing import Callable

from .dimensions import (ACTIONS, DLLS, DOCUMENTS, PARENTS, REG_KEYS, SENDER_DOMAINS, SUBJECTS, URLS, Dimensions,
                         _list, _q)


# --- expression helpers ------------------------------------------------------------------------------------

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


_DOC_NAMES = [f for f, _ in DOCUMENTS]
_DOC_TYPES = [t for _, t in DOCUMENTS]
_DOC_INDEX = f"[1 + (hash(b.i, b.seed, 'doc') % {len(DOCUMENTS)})::INTEGER]"  # one document per row, by 'doc'
_URL = "concat('https://', " + _pick(URLS, "url") + ", '/', hash(b.i, b.seed, 'path') % 10000)"


# --- columns with the same meaning in every table ----------------------------------------------------------

BASE_COLUMNS = {"Timestamp": "b.ts", "AppGuardContainerId": "''"}

DEVICE_COLUMNS = {"DeviceId": "d.DeviceId", "DeviceName": "d.DeviceName", "LocalIP": "d.LocalIP",
                  "OSPlatform": "d.OSPlatform"}

ACCOUNT_COLUMNS = {
    "AccountName": "u.AccountName", "AccountDomain": "u.AccountDomain", "AccountSid": "u.Sid",
    "AccountUpn": "u.Upn", "AccountObjectId": "u.ObjectId", "AccountDisplayName": "u.DisplayName",
    "InitiatingProcessAccountDomain": "u.AccountDomain", "InitiatingProcessAccountName": "u.AccountName",
    "InitiatingProcessAccountSid": "u.Sid", "InitiatingProcessAccountUpn": "u.Upn",
    "InitiatingProcessAccountObjectId": "u.ObjectId",
}

# The process image (``p``) and the initiating process image (``q``): the same fields under two prefixes.
_IMAGE_FIELDS = {
    "FileName": "FileName", "FolderPath": "FolderPath", "SHA1": "SHA1", "SHA256": "SHA256", "MD5": "MD5",
    "FileSize": "FileSize", "ProcessCommandLine": "CommandLine",
    "ProcessVersionInfoCompanyName": "Company", "ProcessVersionInfoProductName": "Product",
    "ProcessVersionInfoProductVersion": "Version", "ProcessVersionInfoInternalFileName": "FileName",
    "ProcessVersionInfoOriginalFileName": "FileName", "ProcessVersionInfoFileDescription": "Description",
}
PROCESS_COLUMNS = {col: f"p.{field}" for col, field in _IMAGE_FIELDS.items()}
INITIATING_PROCESS_COLUMNS = {
    "InitiatingProcess" + col.removeprefix("Process"): f"q.{field}" for col, field in _IMAGE_FIELDS.items()}

PROCESS_CONTEXT_COLUMNS = {
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
}

NETWORK_COLUMNS = {
    "RemoteIP": _public_ip("rip"),
    "RemotePort":
        _list([443, 443, 443, 80, 445, 3389, 53, 135, 8080, 22]) + "[1 + (hash(b.i, b.seed, 'rport') % 10)::INTEGER]",
    "RemoteUrl": _pick(URLS, "url"), "LocalPort": "(49152 + (hash(b.i, b.seed, 'lport') % 16000))::INTEGER",
    "LocalIPType": "'Private'", "RemoteIPType": "'Public'",
    "IPAddress": _public_ip("ipaddr"),
}

GEO_COLUMNS = {
    "Isp": _pick(["Contoso ISP", "Fabrikam Telecom", "Tailspin Networks"], "isp"),
    "Location": _pick(["Seattle, WA, US", "London, GB", "Berlin, DE", "Redmond, WA, US"], "loc"),
    "CountryCode": _pick(["US", "US", "GB", "DE", "FR"], "cc"),
    "City": _pick(["Seattle", "Redmond", "London", "Berlin", "Paris"], "city"),
}

COMMON_COLUMNS = {**BASE_COLUMNS, **DEVICE_COLUMNS, **ACCOUNT_COLUMNS, **PROCESS_COLUMNS, **INITIATING_PROCESS_COLUMNS,
                  **PROCESS_CONTEXT_COLUMNS, **NETWORK_COLUMNS, **GEO_COLUMNS}


def _report_id(table: str, kind: str) -> str:
    return "(b.i + 1000)" if kind == "long" else "CAST(b.i + 1000 AS VARCHAR)"


def _action_type(table: str, kind: str) -> str:
    return _pick(ACTIONS.get(table, [""]), "action")


# Columns whose expression depends on the table or on the column's KQL type: name -> builder(table, kind).
CONTEXT_COLUMNS: dict[str, Callable[[str, str], str]] = {"ReportId": _report_id, "ActionType": _action_type}

# The email tables' own meaning of a few columns (overrides COMMON_COLUMNS there).
EMAIL_COLUMNS = {
    "NetworkMessageId": _email_id("nm"),
    "SenderFromAddress": "concat('noreply@', " + _pick(SENDER_DOMAINS, "sd") + ")",
    "SenderMailFromAddress": "concat('bounce@', " + _pick(SENDER_DOMAINS, "sd") + ")",
    "SenderFromDomain": _pick(SENDER_DOMAINS, "sd"), "SenderMailFromDomain": _pick(SENDER_DOMAINS, "sd"),
    "SenderDisplayName": _pick(["Fabrikam Billing", "Northwind", "Tailspin Support", "Adatum HR"], "sdn"),
    "RecipientEmailAddress": "u.Upn", "RecipientObjectId": "u.ObjectId",
    "SHA256": "sha256(concat(b.seed, 'att', b.i))",
}

# Fallback by KQL type when no table names the column; a type not listed gets ''.
KIND_DEFAULTS = {"datetime": "b.ts", "long": "0", "int": "0", "bool": "FALSE", "real": "0.0", "dynamic": "'{}'::JSON"}


def is_email_table(table: str) -> bool:
    """Whether *table* takes :data:`EMAIL_COLUMNS` (the Email* tables and UrlClickEvents)."""
    return table.startswith("Email") or table == "UrlClickEvents"


# --- per-table columns: device tables ----------------------------------------------------------------------

FILE_TABLE_COLUMNS = {
    "DeviceFileEvents": {
        "FileName": _list(_DOC_NAMES) + _DOC_INDEX,
        "FolderPath": "concat('C:\\Users\\', u.AccountName, '\\Documents\\', " + _list(_DOC_NAMES) + _DOC_INDEX + ")",
        "SHA256": "sha256(concat(b.seed, 'file', hash(b.i, b.seed, 'doc') % 97))",
        "SHA1": "substr(sha256(concat(b.seed, 'f1', hash(b.i, b.seed, 'doc') % 97)), 1, 40)",
        "MD5": "md5(concat(b.seed, 'f5', hash(b.i, b.seed, 'doc') % 97))",
        "FileSize": _num("fsize", 1024, 5_000_000),
        "FileOriginUrl": "''", "FileOriginIP": "''",
    },
    "DeviceImageLoadEvents": {
        "FileName": _pick(DLLS, "dll"), "FolderPath": "concat('C:\\Windows\\System32\\', " + _pick(DLLS, "dll") + ")",
        "SHA256": "sha256(" + _pick(DLLS, "dll") + ")", "SHA1": "substr(sha256(" + _pick(DLLS, "dll") + "), 1, 40)",
        "MD5": "md5(" + _pick(DLLS, "dll") + ")",
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
}

DEVICE_TABLE_COLUMNS = {
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
        "RegistryValueData": _pick(["C:\\Windows\\System32\\SecurityHealthSystray.exe", "1", "0", "explorer.exe",
                                    "\"C:\\Program Files\\Microsoft OneDrive\\OneDrive.exe\" /background"], "rvd"),
    },
    "DeviceNetworkInfo": {
        "MacAddress": "upper(substr(md5(d.DeviceId), 1, 12))", "NetworkAdapterName": "'Ethernet'",
        "NetworkAdapterStatus": _pick(["Up", "Up", "Up", "Down"], "nas"), "TunnelType": "'None'",
        "NetworkAdapterType": "'Ethernet'", "NetworkAdapterVendor": "'Intel Corporation'",
        "ConnectedNetworks": "json_array(json_object('Name', 'corp.contoso.local', 'Category', 'Domain', "
                             "'IsConnectedToInternet', TRUE))",
        "DnsAddresses": "json_array('10.1.10.5', '10.1.10.6')", "DefaultGateways": "json_array('10.1.10.1')",
        "IPAddresses": "json_array(json_object('IPAddress', d.LocalIP, 'SubnetPrefix', 24, 'AddressType', 'Private'))",
    },
}

TVM_TABLE_COLUMNS = {
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
}


# --- per-table columns: email tables -----------------------------------------------------------------------

_DELIVERED_OR_NOT = ["Delivered"] * 8 + ["Junked", "Blocked"]
_INBOX_OR_NOT = ["Inbox/folder"] * 8 + ["Junk folder", "Quarantine"]

EMAIL_TABLE_COLUMNS = {
    "EmailEvents": {
        "InternetMessageId": "concat('<', " + _email_id("nm") + ", '@', " + _pick(SENDER_DOMAINS, "sd") + ", '>')",
        "Subject": _pick(SUBJECTS, "subj"),
        "EmailClusterId": _num("cluster", 10_000_000, 90_000_000),
        "EmailDirection": _pick(["Inbound", "Inbound", "Inbound", "Outbound", "Intra-org"], "dir"),
        "DeliveryAction": _pick(_DELIVERED_OR_NOT, "da"), "DeliveryLocation": _pick(_INBOX_OR_NOT, "da"),
        "LatestDeliveryAction": _pick(_DELIVERED_OR_NOT, "da"), "LatestDeliveryLocation": _pick(_INBOX_OR_NOT, "da"),
        "ThreatTypes": _pick([""] * 8 + ["Spam", "Phish"], "da"),
        "ConfidenceLevel": "''", "BulkComplaintLevel": _num("bcl", 0, 8) + "::INTEGER",
        "AuthenticationDetails": "'{\"SPF\":\"pass\",\"DKIM\":\"pass\",\"DMARC\":\"pass\",\"CompAuth\":\"pass\"}'",
        "AttachmentCount": "(CASE WHEN hash(b.i, b.seed, 'att') % 3 = 0 THEN 1 ELSE 0 END)::INTEGER",
        "UrlCount": _num("urls", 0, 4) + "::INTEGER", "EmailLanguage": "'en'",
        "SenderIPv4": _public_ip("sip"), "SenderIPv6": "''",
    },
    "EmailAttachmentInfo": {
        "FileName": _list(_DOC_NAMES) + _DOC_INDEX, "FileType": _list(_DOC_TYPES) + _DOC_INDEX,
        "FileSize": _num("fsize", 2048, 3_000_000),
    },
    "EmailUrlInfo": {
        "Url": _URL, "UrlDomain": _pick(URLS, "url"),
        "UrlLocation": _pick(["Body", "Body", "Attachment", "Subject"], "ul"),
    },
    "EmailPostDeliveryEvents": {
        "Action": _pick(["Soft delete", "Moved to junk folder", "Hard delete"], "act"),
        "ActionTrigger": _pick(["SpecialAction", "AdminAction", "Zap"], "trig"), "ActionResult": "'Success'",
        "DeliveryLocation": "'Junk folder'", "ThreatTypes": "'Phish'",
    },
    "UrlClickEvents": {
        "Url": _URL, "AccountUpn": "u.Upn", "Workload": _pick(["Email", "Teams", "Office"], "wl"),
        "IsClickedThrough": "(hash(b.i, b.seed, 'ct') % 4 = 0)", "UrlChain": "'[]'", "ThreatTypes": "''",
    },
}


# --- per-table columns: identity and cloud-app tables ------------------------------------------------------

_IDENTITY_PORT = _num("p", 49152, 16000) + "::INTEGER"

IDENTITY_TABLE_COLUMNS = {
    "IdentityLogonEvents": {
        "Application":
            _pick(["Active Directory", "Active Directory", "Microsoft 365", "Azure Active Directory"], "app"),
        "LogonType": _pick(["Credentials Validation", "Resource Access", "Interactive Logon", "Remote Desktop"], "lt"),
        "Protocol": _pick(["Kerberos", "NTLM", "Kerberos", ""], "proto"),
        "FailureReason": "CASE WHEN " + _pick(ACTIONS["IdentityLogonEvents"], "action") +
        " = 'LogonFailed' THEN 'WrongPassword' ELSE '' END",
        "DeviceName": "d.DeviceName", "DeviceType": "d.DeviceType", "IPAddress": "d.LocalIP", "Port": _IDENTITY_PORT,
        "DestinationPort": _list([88, 389, 445]) + "[1 + (hash(b.i, b.seed, 'dport') % 3)::INTEGER]",
        "TargetDeviceName": "''", "TargetAccountDisplayName": "''",
    },
    "IdentityQueryEvents": {
        "Application": "'Active Directory'", "QueryType": _pick(["AllUsers", "AllGroups", "AllComputers",
                                                                "A", "SRV", "QueryUser"], "qt"),
        "QueryTarget": "u.AccountName",
        "Query": "concat('(&(objectClass=user)(sAMAccountName=', u.AccountName, '))')",
        "Protocol": _pick(["Ldap", "Dns", "Samr"], "proto"), "DeviceName": "d.DeviceName", "IPAddress": "d.LocalIP",
        "Port": _IDENTITY_PORT, "DestinationPort": "389",
        "TargetDeviceName": "''", "TargetAccountUpn": "''", "TargetAccountDisplayName": "''",
        "AdditionalFields": "json_object('SourceComputerOperatingSystemType', 'windows')",
    },
    "IdentityDirectoryEvents": {
        "Application": "'Active Directory'", "Protocol": "''", "DeviceName": "d.DeviceName", "IPAddress": "d.LocalIP",
        "TargetAccountUpn": "u.Upn", "TargetAccountDisplayName": "u.DisplayName", "ISP": "''",
        "AdditionalFields": "json_object('TO.GROUP', " + _pick(["Domain Users", "Finance", "Domain Admins",
                                                               "Remote Desktop Users"], "grp")
                            + ", 'TARGET_OBJECT.USER', u.AccountName, 'ACTOR.ACCOUNT', 'adm-nestor')",
    },
}

CLOUD_APP_TABLE_COLUMNS = {
    "CloudAppEvents": {
        "Application": _pick(["Microsoft Exchange Online", "Microsoft SharePoint Online", "Microsoft Teams",
                              "Microsoft OneDrive for Business", "Office 365"], "app"),
        "ApplicationId": _list([20893, 20892, 28375, 15600, 11161]) + "[1 + (hash(b.i, b.seed, 'app') % 5)::INTEGER]",
        "AccountId": "u.ObjectId", "IsAdminOperation": "(hash(b.i, b.seed, 'adm') % 20 = 0)",
        "DeviceType": _pick(["Desktop", "Mobile", "Unknown"], "dt"),
        "OSPlatform": _pick(["Windows", "iOS", "Android", "MacOS"], "os"),
        "IsAnonymousProxy": "FALSE", "UserAgent": "'Mozilla/5.0 (Windows NT 10.0; Win64; x64)'",
        "ActivityType": _pick(["Download", "Access", "Upload", "Send", "Edit"], "at"),
        "ActivityObjects": "json_array(json_object('Type', 'File', 'Name', " + _pick(_DOC_NAMES, "doc") + "))",
        "ObjectName": _pick(_DOC_NAMES, "doc"), "ObjectType": "'File'",
        "ObjectId": "concat('https://contoso.sharepoint.com/sites/team/', " + _pick(_DOC_NAMES, "doc") + ")",
        "AccountType": "'Regular'", "IsExternalUser": "FALSE", "IsImpersonated": "FALSE",
        "IPTags": "'[]'::JSON", "IPCategory": "''", "UserAgentTags": "'[]'::JSON",
        "RawEventData": "json_object('Operation', " + _pick(ACTIONS["CloudAppEvents"], "action")
                        + ", 'UserId', u.Upn, 'ClientIP', " + _public_ip("ipaddr") + ")",
        "AdditionalFields": "'{}'::JSON", "LastSeenForUser": "'{}'::JSON", "UncommonForUser": "'[]'::JSON",
        "AuditSource": "'Defender for Cloud Apps access control'", "SessionData": "'{}'::JSON", "OAuthAppId": "''",
    },
}

TABLE_COLUMNS: dict[str, dict[str, str]] = {**FILE_TABLE_COLUMNS, **DEVICE_TABLE_COLUMNS, **TVM_TABLE_COLUMNS,
                                            **EMAIL_TABLE_COLUMNS, **IDENTITY_TABLE_COLUMNS, **CLOUD_APP_TABLE_COLUMNS}


# --- per-table columns that name the tenant's own domain controller and AD domain --------------------------

def _dc_name(dims: Dimensions) -> str:
    return "'srv-dc-01." + dims.dns_suffix + "'"


def _dc_ip(dims: Dimensions) -> str:
    return _q(dims.device("srv-dc-01")["LocalIP"])


def _krbtgt_spn(dims: Dimensions) -> str:
    return "json_object('Spns', 'krbtgt/" + dims.ad_domain + "')"


DIMS_COLUMNS: dict[str, dict[str, Callable[[Dimensions], str]]] = {
    "IdentityLogonEvents": {"DestinationDeviceName": _dc_name, "DestinationIPAddress": _dc_ip,
                            "AdditionalFields": _krbtgt_spn},
    "IdentityQueryEvents": {"DestinationDeviceName": _dc_name, "DestinationIPAddress": _dc_ip},
    "IdentityDirectoryEvents": {"DestinationDeviceName": _dc_name},
}


# --- lookups -----------------------------------------------------------------------------------------------

def table_expr(table: str, col: str, dims: Dimensions) -> str | None:
    """What *col* means in *table* specifically (:data:`DIMS_COLUMNS`, then :data:`TABLE_COLUMNS`), if anything."""
    build = DIMS_COLUMNS.get(table, {}).get(col)
    return build(dims) if build else TABLE_COLUMNS.get(table, {}).get(col)


def common_expr(table: str, col: str, kind: str) -> str | None:
    """What *col* means in any table (:data:`CONTEXT_COLUMNS`, the email columns, :data:`COMMON_COLUMNS`)."""
    build = CONTEXT_COLUMNS.get(col)
    if build:
        return build(table, kind)
    if is_email_table(table) and col in EMAIL_COLUMNS:
        return EMAIL_COLUMNS[col]
    return COMMON_COLUMNS.get(col)
