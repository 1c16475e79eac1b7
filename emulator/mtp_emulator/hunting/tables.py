"""Advanced-hunting table schemas: column names and KQL types, in the documented order.

Source: reference/defender-api.md §8.2 (verbatim) and, for the §8.3 tables, the Microsoft Learn schema pages
(``defender-xdr/advanced-hunting-<table>-table.md``). A column not given a type is ``string``.
"""

from __future__ import annotations

# KQL type -> DuckDB column type used to store it.
DUCKDB_TYPE = {
    "string": "VARCHAR",
    "datetime": "TIMESTAMP",
    "long": "BIGINT",
    "int": "INTEGER",
    "bool": "BOOLEAN",
    "real": "DOUBLE",
    "dynamic": "JSON",
    "guid": "UUID",
    "timespan": "INTERVAL",
}

# KQL type -> API Schema.Type string (§8.1).
API_TYPE = {
    "datetime": "DateTime",
    "string": "String",
    "long": "Int64",
    "int": "Int32",
    "bool": "Boolean",
    "real": "Double",
    "decimal": "Double",
    "dynamic": "Object",
    "guid": "Guid",
    "timespan": "TimeSpan",
}


def _cols(spec: str) -> list[tuple[str, str]]:
    """``"A, B:long, C:datetime"`` -> [(A, string), (B, long), (C, datetime)]."""
    out = []
    for part in spec.replace("\n", " ").split(","):
        part = part.strip()
        if not part:
            continue
        name, _, kind = part.partition(":")
        out.append((name.strip(), kind.strip() or "string"))
    return out


VERSION_INFO = ("InitiatingProcessVersionInfoCompanyName, InitiatingProcessVersionInfoProductName, "
                "InitiatingProcessVersionInfoProductVersion, InitiatingProcessVersionInfoInternalFileName, "
                "InitiatingProcessVersionInfoOriginalFileName, InitiatingProcessVersionInfoFileDescription")
IP_ACCOUNT = ("InitiatingProcessAccountDomain, InitiatingProcessAccountName, InitiatingProcessAccountSid, "
              "InitiatingProcessAccountUpn, InitiatingProcessAccountObjectId")
REMOTE_SESSION = ("InitiatingProcessSessionId:long, IsInitiatingProcessRemoteSession:bool, "
                  "InitiatingProcessRemoteSessionDeviceName, InitiatingProcessRemoteSessionIP")
# The initiating-process block shared by the file, registry and image-load tables.
IP_BLOCK = (f"{IP_ACCOUNT}, InitiatingProcessSHA1, InitiatingProcessSHA256, InitiatingProcessMD5, "
            f"InitiatingProcessFileName, InitiatingProcessFileSize:long, {VERSION_INFO}, InitiatingProcessId:long, "
            "InitiatingProcessCommandLine, InitiatingProcessCreationTime:datetime, InitiatingProcessFolderPath, "
            "InitiatingProcessParentId:long, InitiatingProcessParentFileName, "
            "InitiatingProcessParentCreationTime:datetime, InitiatingProcessIntegrityLevel, "
            "InitiatingProcessTokenElevation")

TABLES: dict[str, list[tuple[str, str]]] = {
    "DeviceInfo": _cols(
        "Timestamp:datetime, DeviceId, DeviceName, ClientVersion, PublicIP, OSArchitecture, OSPlatform, "
        "OSBuild:long, IsAzureADJoined:bool, JoinType, AadDeviceId, LoggedOnUsers, RegistryDeviceTag, OSVersion, "
        "MachineGroup, ReportId:long, OnboardingStatus, AdditionalFields, DeviceCategory, DeviceType, "
        "DeviceSubtype, Model, Vendor, OSDistribution, OSVersionInfo, MergedDeviceIds, MergedToDeviceId, "
        "IsInternetFacing:bool, SensorHealthState, IsExcluded:bool, ExclusionReason, ExposureLevel, AssetValue, "
        "DeviceManualTags, DeviceDynamicTags, ConnectivityType, HostDeviceId"),
    "DeviceProcessEvents": _cols(
        "Timestamp:datetime, DeviceId, DeviceName, ActionType, FileName, FolderPath, SHA1, SHA256, MD5, "
        "FileSize:long, ProcessVersionInfoCompanyName, ProcessVersionInfoProductName, "
        "ProcessVersionInfoProductVersion, ProcessVersionInfoInternalFileName, ProcessVersionInfoOriginalFileName, "
        "ProcessVersionInfoFileDescription, ProcessId:long, ProcessCommandLine, ProcessIntegrityLevel, "
        "ProcessTokenElevation, ProcessCreationTime:datetime, AccountDomain, AccountName, AccountSid, AccountUpn, "
        f"AccountObjectId, LogonId:long, {IP_ACCOUNT}, InitiatingProcessLogonId:long, "
        "InitiatingProcessIntegrityLevel, InitiatingProcessTokenElevation, InitiatingProcessSHA1, "
        "InitiatingProcessSHA256, InitiatingProcessMD5, InitiatingProcessFileName, InitiatingProcessFileSize:long, "
        f"{VERSION_INFO}, InitiatingProcessId:long, InitiatingProcessCommandLine, "
        "InitiatingProcessCreationTime:datetime, InitiatingProcessFolderPath, InitiatingProcessParentId:long, "
        "InitiatingProcessParentFileName, InitiatingProcessParentCreationTime:datetime, "
        "InitiatingProcessSignerType, InitiatingProcessSignatureStatus, ReportId:long, AppGuardContainerId, "
        "AdditionalFields"),
    "DeviceNetworkEvents": _cols(
        "Timestamp:datetime, DeviceId, DeviceName, ActionType, RemoteIP, RemotePort:int, RemoteUrl, LocalIP, "
        "LocalPort:int, Protocol, LocalIPType, RemoteIPType, InitiatingProcessSHA1, InitiatingProcessSHA256, "
        "InitiatingProcessMD5, InitiatingProcessFileName, InitiatingProcessFileSize:long, "
        f"{VERSION_INFO}, InitiatingProcessId:long, InitiatingProcessCommandLine, "
        "InitiatingProcessCreationTime:datetime, InitiatingProcessFolderPath, InitiatingProcessParentFileName, "
        "InitiatingProcessParentId:long, InitiatingProcessParentCreationTime:datetime, "
        f"{IP_ACCOUNT}, InitiatingProcessIntegrityLevel, InitiatingProcessTokenElevation, ReportId:long, "
        f"AppGuardContainerId, AdditionalFields, {REMOTE_SESSION}"),
    "DeviceFileEvents": _cols(
        "Timestamp:datetime, DeviceId, DeviceName, ActionType, FileName, FolderPath, SHA1, SHA256, MD5, "
        "FileOriginUrl, FileOriginReferrerUrl, FileOriginIP, PreviousFolderPath, PreviousFileName, FileSize:long, "
        f"{IP_BLOCK}, RequestProtocol, RequestSourceIP, RequestSourcePort:int, RequestAccountName, "
        "RequestAccountDomain, RequestAccountSid, ShareName, SensitivityLabel, SensitivitySubLabel, "
        f"IsAzureInfoProtectionApplied:bool, ReportId:long, AppGuardContainerId, AdditionalFields, {REMOTE_SESSION}"),
    "DeviceEvents": _cols(
        "Timestamp:datetime, DeviceId, DeviceName, ActionType, FileName, FolderPath, SHA1, SHA256, MD5, "
        "FileSize:long, AccountDomain, AccountName, AccountSid, RemoteUrl, RemoteDeviceName, ProcessId:long, "
        "ProcessCommandLine, ProcessCreationTime:datetime, ProcessTokenElevation, LogonId:long, RegistryKey, "
        "RegistryValueName, RegistryValueData, RemoteIP, RemotePort:int, LocalIP, LocalPort:int, FileOriginUrl, "
        f"FileOriginIP, AdditionalFields:dynamic, {IP_BLOCK}, InitiatingProcessLogonId:long, ReportId:long, "
        f"AppGuardContainerId, {REMOTE_SESSION}, CreatedProcessSessionId:long, IsProcessRemoteSession:bool, "
        "ProcessRemoteSessionDeviceName, ProcessRemoteSessionIP"),
    "DeviceLogonEvents": _cols(
        "Timestamp:datetime, DeviceId, DeviceName, ActionType, LogonType, AccountDomain, AccountName, AccountSid, "
        "Protocol, FailureReason, IsLocalAdmin:bool, LogonId:long, RemoteDeviceName, RemoteIP, RemoteIPType, "
        f"RemotePort:int, {IP_ACCOUNT}, InitiatingProcessIntegrityLevel, InitiatingProcessTokenElevation, "
        "InitiatingProcessSHA1, InitiatingProcessSHA256, InitiatingProcessMD5, InitiatingProcessFileName, "
        f"InitiatingProcessFileSize:long, {VERSION_INFO}, InitiatingProcessId:long, InitiatingProcessCommandLine, "
        "InitiatingProcessCreationTime:datetime, InitiatingProcessFolderPath, InitiatingProcessParentId:long, "
        "InitiatingProcessParentFileName, InitiatingProcessParentCreationTime:datetime, ReportId:long, "
        f"AppGuardContainerId, AdditionalFields, {REMOTE_SESSION}"),
    "DeviceRegistryEvents": _cols(
        "Timestamp:datetime, DeviceId, DeviceName, ActionType, RegistryKey, RegistryValueType, RegistryValueName, "
        "RegistryValueData, PreviousRegistryKey, PreviousRegistryValueName, PreviousRegistryValueData, "
        f"{IP_BLOCK}, ReportId:long, AppGuardContainerId, {REMOTE_SESSION}"),
    "DeviceImageLoadEvents": _cols(
        "Timestamp:datetime, DeviceId, DeviceName, ActionType, FileName, FolderPath, SHA1, SHA256, MD5, "
        f"FileSize:long, {IP_BLOCK}, ReportId:long, AppGuardContainerId, {REMOTE_SESSION}"),
    "EmailEvents": _cols(
        "Timestamp:datetime, NetworkMessageId, InternetMessageId, SenderMailFromAddress, SenderFromAddress, "
        "SenderDisplayName, SenderObjectId, SenderMailFromDomain, SenderFromDomain, SenderIPv4, SenderIPv6, "
        "RecipientEmailAddress, RecipientObjectId, Subject, EmailClusterId:long, EmailDirection, DeliveryAction, "
        "DeliveryLocation, ThreatTypes, ThreatNames, DetectionMethods, ConfidenceLevel, BulkComplaintLevel:int, "
        "EmailAction, EmailActionPolicy, EmailActionPolicyGuid, AuthenticationDetails, AttachmentCount:int, "
        "UrlCount:int, EmailLanguage, Connectors, OrgLevelAction, OrgLevelPolicy, UserLevelAction, "
        "UserLevelPolicy, ReportId, AdditionalFields, LatestDeliveryLocation, LatestDeliveryAction"),
    "EmailAttachmentInfo": _cols(
        "Timestamp:datetime, NetworkMessageId, SenderFromAddress, SenderDisplayName, SenderObjectId, "
        "RecipientEmailAddress, RecipientObjectId, FileName, FileType, SHA256, FileSize:long, ThreatTypes, "
        "ThreatNames, DetectionMethods, ReportId"),
    "EmailUrlInfo": _cols("Timestamp:datetime, NetworkMessageId, Url, UrlDomain, UrlLocation, ReportId"),
    "AlertInfo": _cols(
        "Timestamp:datetime, AlertId, Title, Category, Severity, ServiceSource, DetectionSource, AttackTechniques"),
    "AlertEvidence": _cols(
        "Timestamp:datetime, AlertId, Title, Categories, AttackTechniques, ServiceSource, DetectionSource, "
        "EntityType, EvidenceRole, EvidenceDirection, FileName, FolderPath, SHA1, SHA256, FileSize:long, "
        "ThreatFamily, RemoteIP, RemoteUrl, AccountName, AccountDomain, AccountSid, AccountObjectId, AccountUpn, "
        "DeviceId, DeviceName, LocalIP, NetworkMessageId, EmailSubject, Application, ApplicationId:int, "
        "OAuthApplicationId, ProcessCommandLine, RegistryKey, RegistryValueName, RegistryValueData, "
        "AdditionalFields, Severity, CloudResource, CloudPlatform, ResourceType, ResourceID, SubscriptionId"),
    "IdentityLogonEvents": _cols(
        "Timestamp:datetime, ActionType, Application, LogonType, Protocol, FailureReason, AccountName, "
        "AccountDomain, AccountUpn, AccountSid, AccountObjectId, AccountDisplayName, DeviceName, DeviceType, "
        "OSPlatform, IPAddress, Port:int, DestinationDeviceName, DestinationIPAddress, DestinationPort:int, "
        "TargetDeviceName, TargetAccountDisplayName, Location, Isp, ReportId, AdditionalFields:dynamic"),
    "IdentityInfo": _cols(
        "Timestamp:datetime, ReportId, AccountObjectId, AccountUpn, OnPremSid, AccountDisplayName, AccountName, "
        "AccountDomain, Type, DistinguishedName, CloudSid, GivenName, Surname, Department, JobTitle, "
        "EmailAddress, SipProxyAddress, Address, City, Country, IsAccountEnabled:bool, Manager, Phone, "
        "CreatedDateTime:datetime, SourceProvider, ChangeSource, BlastRadius, CompanyName, "
        "DeletedDateTime:datetime, EmployeeId, OtherMailAddresses:dynamic, RiskLevel, RiskLevelDetails, State, "
        "Tags:dynamic, AssignedRoles:dynamic, TenantId"),
    "IdentityQueryEvents": _cols(
        "Timestamp:datetime, ActionType, Application, QueryType, QueryTarget, Query, Protocol, AccountName, "
        "AccountDomain, AccountUpn, AccountSid, AccountObjectId, AccountDisplayName, DeviceName, IPAddress, "
        "Port:int, DestinationDeviceName, DestinationIPAddress, DestinationPort:int, TargetDeviceName, "
        "TargetAccountUpn, TargetAccountDisplayName, Location, ReportId, AdditionalFields:dynamic"),
    "CloudAppEvents": _cols(
        "Timestamp:datetime, ActionType, Application, ApplicationId:int, AccountObjectId, AccountId, "
        "AccountDisplayName, IsAdminOperation:bool, DeviceType, OSPlatform, IPAddress, IsAnonymousProxy:bool, "
        "CountryCode, City, Isp, UserAgent, ActivityType, ActivityObjects:dynamic, ObjectName, ObjectType, "
        "ObjectId, ReportId, AccountType, IsExternalUser:bool, IsImpersonated:bool, IPTags:dynamic, IPCategory, "
        "UserAgentTags:dynamic, RawEventData:dynamic, AdditionalFields:dynamic, LastSeenForUser:dynamic, "
        "UncommonForUser:dynamic, AuditSource, SessionData:dynamic, OAuthAppId"),
    "IdentityDirectoryEvents": _cols(
        "Timestamp:datetime, ActionType, Application, TargetAccountUpn, TargetAccountDisplayName, TargetDeviceName, "
        "DestinationDeviceName, DestinationIPAddress, DestinationPort:int, Protocol, AccountName, AccountDomain, "
        "AccountUpn, AccountSid, AccountObjectId, AccountDisplayName, DeviceName, IPAddress, Port:int, Location, "
        "ISP, ReportId, AdditionalFields:dynamic"),
    "DeviceNetworkInfo": _cols(
        "Timestamp:datetime, DeviceId, DeviceName, MacAddress, NetworkAdapterName, NetworkAdapterStatus, "
        "TunnelType, ConnectedNetworks:dynamic, DnsAddresses:dynamic, IPv4Dhcp, IPv6Dhcp, "
        "DefaultGateways:dynamic, IPAddresses:dynamic, ReportId:long, NetworkAdapterType, NetworkAdapterVendor"),
    "DeviceFileCertificateInfo": _cols(
        "Timestamp:datetime, DeviceId, DeviceName, SHA1, IsSigned:bool, SignatureType, Signer, SignerHash, Issuer, "
        "IssuerHash, CertificateSerialNumber, CrlDistributionPointUrls, CertificateCreationTime:datetime, "
        "CertificateExpirationTime:datetime, CertificateCountersignatureTime:datetime, IsTrusted:bool, "
        "IsRootSignerMicrosoft:bool, ReportId:long"),
    "DeviceTvmSoftwareVulnerabilities": _cols(
        "DeviceId, DeviceName, OSPlatform, OSVersion, OSArchitecture, SoftwareVendor, SoftwareName, SoftwareVersion, "
        "CveId, VulnerabilitySeverityLevel, RecommendedSecurityUpdate, RecommendedSecurityUpdateId, "
        "CveTags:dynamic, CveMitigationStatus, AadDeviceId"),
    "DeviceTvmSecureConfigurationAssessment": _cols(
        "DeviceId, DeviceName, OSPlatform, Timestamp:datetime, ConfigurationId, ConfigurationCategory, "
        "ConfigurationSubcategory, ConfigurationImpact:real, IsApplicable:bool, IsCompliant:bool, "
        "IsExpectedUserImpact:bool, Context:dynamic"),
    "EmailPostDeliveryEvents": _cols(
        "Timestamp:datetime, NetworkMessageId, InternetMessageId, Action, ActionType, ActionTrigger, ActionResult, "
        "RecipientEmailAddress, DeliveryLocation, ThreatTypes, DetectionMethods, ReportId"),
    "UrlClickEvents": _cols(
        "Timestamp:datetime, Url, ActionType, AccountUpn, Workload, NetworkMessageId, ThreatTypes, "
        "DetectionMethods, IPAddress, IsClickedThrough:bool, UrlChain, ReportId"),
}

# Tables whose row count follows ``hunting_rows``; the others are sized by the seeded directory.
EVENT_TABLES = ("DeviceProcessEvents", "DeviceNetworkEvents", "DeviceFileEvents", "DeviceEvents",
                "DeviceLogonEvents", "DeviceRegistryEvents", "DeviceImageLoadEvents", "EmailEvents",
                "EmailAttachmentInfo", "EmailUrlInfo", "IdentityLogonEvents", "IdentityQueryEvents",
                "CloudAppEvents", "IdentityDirectoryEvents", "DeviceNetworkInfo", "DeviceFileCertificateInfo",
                "DeviceTvmSoftwareVulnerabilities", "DeviceTvmSecureConfigurationAssessment", "EmailPostDeliveryEvents",
                "UrlClickEvents")


def column_type(table: str, column: str) -> str:
    for name, kind in TABLES[table]:
        if name == column:
            return kind
    raise KeyError(f"{table}.{column}")
