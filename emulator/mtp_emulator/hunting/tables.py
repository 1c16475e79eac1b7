"""Advanced-hunting table schemas: column names and KQL types, in the documented order.

Source: docs/developer/reference/defender-api.md §8.2 (verbatim) and, for the §8.3 tables, the Microsoft Learn schema pages
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



# --- the rest of Microsoft Learn's advanced hunting schema reference, one entry per table page (source()) ---

MORE_TABLES: dict[str, list[tuple[str, str]]] = {
    "EntraIdSignInEvents": _cols(
        "Timestamp:datetime, Application, ApplicationId, LogonType, ErrorCode:int, CorrelationId, SessionId, "
        "AccountDisplayName, AccountObjectId, AccountUpn, IsExternalUser:int, IsGuestUser:bool, "
        "AlternateSignInName, LastPasswordChangeTimestamp:datetime, ResourceDisplayName, ResourceId, "
        "ResourceTenantId, DeviceName, EntraIdDeviceId, OSPlatform, DeviceTrustType, IsManaged:int, "
        "IsCompliant:int, AuthenticationProcessingDetails, AuthenticationRequirement, TokenIssuerType:int, "
        "RiskLevelAggregated:int, RiskDetails:int, RiskState:int, UserAgent, ClientAppUsed, Browser, "
        "ConditionalAccessPolicies, ConditionalAccessStatus:int, IPAddress, Country, State, City, Latitude, "
        "Longitude, NetworkLocationDetails, RequestId, ReportId, EndpointCall, IsThroughGlobalSecureAccess:bool, "
        "UniqueTokenId"),
    "EntraIdSpnSignInEvents": _cols(
        "Timestamp:datetime, Application, ApplicationId, IsManagedIdentity:bool, ErrorCode:int, CorrelationId, "
        "ServicePrincipalName, ServicePrincipalId, ResourceDisplayName, ResourceId, ResourceTenantId, IPAddress, "
        "Country, State, City, Latitude, Longitude, RequestId, ReportId"),
    "AADSignInEventsBeta": _cols(
        "Timestamp:datetime, Application, ApplicationId, LogonType, ErrorCode:int, CorrelationId, SessionId, "
        "AccountDisplayName, AccountObjectId, AccountUpn, IsExternalUser:int, IsGuestUser:bool, "
        "AlternateSignInName, LastPasswordChangeTimestamp:datetime, ResourceDisplayName, ResourceId, "
        "ResourceTenantId, DeviceName, AadDeviceId, EntraIdDeviceId, OSPlatform, DeviceTrustType, IsManaged:int, "
        "IsCompliant:int, AuthenticationProcessingDetails, AuthenticationRequirement, TokenIssuerType:int, "
        "RiskLevelAggregated:int, RiskDetails:int, RiskState:int, UserAgent, ClientAppUsed, Browser, "
        "ConditionalAccessPolicies, ConditionalAccessStatus:int, IPAddress, Country, State, City, Latitude, "
        "Longitude, NetworkLocationDetails, RequestId, ReportId, EndpointCall"),
    "AADSpnSignInEventsBeta": _cols(
        "Timestamp:datetime, Application, ApplicationId, IsManagedIdentity:bool, ErrorCode:int, CorrelationId, "
        "ServicePrincipalName, ServicePrincipalId, ResourceDisplayName, ResourceId, ResourceTenantId, IPAddress, "
        "Country, State, City, Latitude, Longitude, RequestId, ReportId"),
    "BehaviorInfo": _cols(
        "Timestamp:datetime, BehaviorId, ActionType, Description, Categories, AttackTechniques, ServiceSource, "
        "DetectionSource, DataSources, DeviceId, AccountUpn, AccountObjectId, StartTime:datetime, "
        "EndTime:datetime, AdditionalFields, Title"),
    "BehaviorEntities": _cols(
        "Timestamp:datetime, BehaviorId, ActionType, Categories, ServiceSource, DetectionSource, DataSources, "
        "EntityType, EntityRole, DetailedEntityRole, FileName, FolderPath, SHA1, SHA256, FileSize:long, "
        "ThreatFamily, RemoteIP, RemoteUrl, AccountName, AccountDomain, AccountSid, AccountObjectId, AccountUpn, "
        "DeviceId, DeviceName, LocalIP, NetworkMessageId, EmailSubject, EmailClusterId, Application, "
        "ApplicationId:int, OAuthApplicationId, ProcessCommandLine, RegistryKey, RegistryValueName, "
        "RegistryValueData, AdditionalFields"),
    "CampaignInfo": _cols(
        "Timestamp:datetime, CampaignName, CampaignId, CampaignType, CampaignSubtype, NetworkMessageId, "
        "RecipientEmailAddress, ReportId"),
    "IdentityAccountInfo": _cols(
        "Timestamp:datetime, ReportId, SourceProviderAccountId, AccountId, IdentityId, IsPrimary:bool, "
        "IdentityLinkType, IdentityLinkReason, IdentityLinkTime:datetime, IdentityLinkBy, DisplayName, "
        "AccountUpn, EmailAddress, CriticalityLevel:int, DefenderRiskLevel:int, DefenderRiskUpdateTime:datetime, "
        "Type, GivenName, Surname, EmployeeId, Department, JobTitle, Address, City, Country, Phone, Manager, Sid, "
        "AccountStatus, SourceProvider, SourceProviderInstanceId, SourceProviderInstanceDisplayName, "
        "AuthenticationMethod, AuthenticationSourceAcccountId, EnrolledMfas:dynamic, "
        "LastPasswordChangeTime:datetime, GroupMembership:dynamic, AssignedRoles:dynamic, EligibleRoles:dynamic, "
        "TenantMembershipType, CreatedDateTime:datetime, DeletedDateTime:datetime, Tags:dynamic, "
        "SourceProvderRiskLevel:dynamic, AdditionalFields:dynamic, TenantId"),
    "IdentityEvents": _cols(
        "Timestamp:datetime, ReportId, AccountId, AccountType, AccountDisplayName, AccountUpn, ActionType, "
        "ActionResult, ActionFailureReason, IPAddress, UserAgent, TargetObjects:dynamic, Application, "
        "ApplicationInstanceId, ApplicationEventId, ApplicationSessionId, RawEventData:dynamic, "
        "AdditionalFields:dynamic"),
    "OAuthAppInfo": _cols(
        "ReportId, Timestamp:datetime, OAuthAppId, ServicePrincipalId, AppName, AddedOnTime:datetime, "
        "LastModifiedTime:datetime, AppStatus, VerifiedPublisher:dynamic, PrivilegeLevel, Permissions:dynamic, "
        "ConsentedUsersCount:int, IsAdminConsented:bool, AppOrigin, LastUsedTime:datetime, AppOwnerTenantId, "
        "RiskScore:int, AssignedRoles:dynamic"),
    "GraphApiAuditEvents": _cols(
        "IdentityProvider, ApiVersion, ApplicationId, IPAddress, ClientRequestId, EntityType, RequestUri, "
        "AccountObjectId, OperationId, Location, RequestDuration, RequestId, RequestMethod, Timestamp:datetime, "
        "ResponseStatusCode, Scopes, UniqueTokenIdentifier, TargetWorkload, ServicePrincipalId, ResponseSize:int"),
    "DisruptionAndResponseEvents": _cols(
        "Timestamp:datetime, ActionType, DeviceId, SourceDeviceId, TargetDeviceId, TargetDeviceName, "
        "TargetDomainName, DeviceName, DomainName, InitiatingProcessId:int, InitiatingProcessFileName, "
        "SourceUserSid, SourceUserName, SourceUserDomainName, SourceIPAddress, SourcePort:int, IPAddress, Port, "
        "SourceDeviceName, SourceDomainName, AuthenticationProtocol, Service, InterfaceUuidSourceDomainName, "
        "InterfaceFriendlyName, FileName, ShareName, LogonType, LogonId:long, SessionId:long, "
        "CompromisedAccountCount:int, PolicyId, PolicyName, PolicyVersion, PolicyHash, DataSources:dynamic, "
        "IsPolicyOn:bool, ReportType"),
    "MessageEvents": _cols(
        "Timestamp:datetime, LastEditedTime, TeamsMessageId, SenderEmailAddress, SenderDisplayName, "
        "SenderObjectId, SenderType, RecipientDetails:dynamic, IsOwnedThread:bool, MessageId, ParentMessageId, "
        "GroupId, GroupName, ThreadId, ThreadSubtype, IsExternalThread:bool, MessageFormatType, "
        "MessageFormatSubtype, MessageVersion, MessageSubject, ThreatTypes, DetectionMethods:dynamic, "
        "ConfidenceLevel:dynamic, DeliveryAction, DeliveryLocation, ReportId, SafetyTip"),
    "MessagePostDeliveryEvents": _cols(
        "Timestamp:datetime, TeamsMessageId, Action, ActionType, ActionTrigger, ActionResult, SenderEmailAddress, "
        "RecipientDetails:dynamic, ThreatTypes, ConfidenceLevel:dynamic, DetectionMethods, "
        "LatestDeliveryLocation, ReportId, IsExternalThread:bool, SafetyTip"),
    "MessageUrlInfo": _cols(
        "Timestamp:datetime, TeamsMessageId, Url, UrlDomain, ThreatTypes, ReportId"),
    "FileMaliciousContentInfo": _cols(
        "Timestamp:datetime, Workload, FileName, FolderPath, FileSize:long, SHA256, FileOwnerDisplayName, "
        "FileOwnerUpn, DocumentId, ThreatTypes:dynamic, ThreatNames, DetectionMethods, LastModifyingAccountUpn, "
        "LastModifiedTime:datetime, FileCreationTime:datetime, ReportId"),
    "ExposureGraphEdges": _cols(
        "EdgeId, EdgeLabel, SourceNodeId, SourceNodeName, SourceNodeLabel, SourceNodeCategories:dynamic, "
        "TargetNodeId, TargetNodeName, TargetNodeLabel, TargetNodeCategories:dynamic, EdgeProperties:dynamic"),
    "ExposureGraphNodes": _cols(
        "NodeId, NodeLabel, NodeName, Categories:dynamic, NodeProperties:dynamic, EntityIds:dynamic"),
    "DeviceTvmSoftwareVulnerabilitiesKB": _cols(
        "CveId, CvssScore, IsExploitAvailable:bool, VulnerabilitySeverityLevel, LastModifiedTime:datetime, "
        "PublishedDate:datetime, VulnerabilityDescription, AffectedSoftware:dynamic"),
    "DeviceTvmSecureConfigurationAssessmentKB": _cols(
        "ConfigurationId, ConfigurationImpact:real, ConfigurationName, ConfigurationDescription, RiskDescription, "
        "ConfigurationCategory, ConfigurationSubcategory, ConfigurationBenchmarks:dynamic, Tags:dynamic, "
        "RemediationOptions"),
    "DeviceTvmSoftwareInventory": _cols(
        "DeviceId, DeviceName, OSPlatform, OSVersion, OSArchitecture, SoftwareVendor, SoftwareName, "
        "SoftwareVersion, EndOfSupportStatus, EndOfSupportDate:datetime, ProductCodeCpe"),
    "DeviceTvmSoftwareEvidenceBeta": _cols(
        "DeviceId, SoftwareVendor, SoftwareName, SoftwareVersion, RegistryPaths:dynamic, DiskPaths:dynamic, "
        "LastSeenTime"),
    "DeviceTvmInfoGathering": _cols(
        "Timestamp:datetime, LastSeenTime:datetime, DeviceId, DeviceName, OSPlatform, AdditionalFields:dynamic"),
    "DeviceTvmInfoGatheringKB": _cols(
        "IgId, FieldName, Description, Categories:dynamic, DataStructure"),
    "DeviceTvmHardwareFirmware": _cols(
        "DeviceId, DeviceName, ComponentType, Manufacturer, ComponentName, ComponentFamily, ComponentVersion, "
        "AdditionalFields:dynamic"),
    "DeviceTvmCertificateInfo": _cols(
        "DeviceId, Thumbprint, Path, SerialNumber, IssuedTo:dynamic, IssuedBy:dynamic, FriendlyName, "
        "SignatureAlgorithm, KeySize, ExpirationDate, IssueDate, SubjectType, KeyUsage, ExtendedKeyUsage"),
    "DeviceTvmBrowserExtensions": _cols(
        "DeviceId, BrowserName, ExtensionId, ExtensionName, ExtensionDescription, ExtensionVersion, "
        "ExtensionRisk, ExtensionVendor, IsActivated, InstallationTime:datetime"),
    "DeviceTvmBrowserExtensionsKB": _cols(
        "BrowserName, ExtensionId, ExtensionName, ExtensionDescription, ExtensionVersion:dynamic, ExtensionRisk, "
        "PermissionId, PermissionName, PermissionDescription, PermissionRisk, IsPermissionRequired"),
    "DeviceBaselineComplianceAssessment": _cols(
        "DeviceId, DeviceName, OSPlatform, OSVersion, ConfigurationId, ProfileId, IsCompliant:bool, "
        "IsApplicable:bool, Source:dynamic, RecommendedValue:dynamic, CurrentValue:dynamic, IsExempt:bool"),
    "DeviceBaselineComplianceAssessmentKB": _cols(
        "ConfigurationId, ConfigurationName, ConfigurationDescription, ConfigurationRationale, "
        "ConfigurationCategory, BenchmarkProfileLevels:dynamic, CCEReference, RemediationOptions, "
        "ConfigurationBenchmark, Source:dynamic, RecommendedValue:dynamic"),
    "DeviceBaselineComplianceProfiles": _cols(
        "ProfileId, ProfileName, ProfileDescription, OSPlatform:dynamic, OSVersion, BaseBenchmark, "
        "BenchmarkVersion, BenchmarkProfileLevel, Status:bool, CreatedBy, CreatedOn:datetime, LastUpdatedBy, "
        "LastUpdatedOn:datetime"),
    "CloudAuditEvents": _cols(
        "Timestamp:datetime, ReportId, DataSource, ActionType, OperationName, ResourceId, IPAddress, "
        "IsAnonymousProxy:bool, CountryCode, City, Isp, UserAgent, RawEventData:dynamic, AdditionalFields:dynamic"),
    "CloudDnsEvents": _cols(
        "Timestamp:datetime, ReportId, ActionType, AzureResourceId, AwsResourceName, GcpFullResourceName, "
        "KubernetesResource, KubernetesNamespace, KubernetesPodName, ContainerName, ContainerId, ImageName, "
        "ProcessName, ProcessId:long, DnsEventType, DnsEventSubType, DnsQuery, DnsQueryTypeName, "
        "DnsResponseCodeName, DnsNetworkDuration:long, TransactionIdHex, ImageDigest, Region, HostName, "
        "AdditionalFields:dynamic"),
    "CloudProcessEvents": _cols(
        "Timestamp:datetime, AzureResourceId, AwsResourceName, GcpFullResourceName, ContainerImageName, "
        "KubernetesNamespace, KubernetesPodName, KubernetesResource, ContainerName, ContainerId, ActionType, "
        "FileName, FolderPath, ProcessId:long, ProcessName, ParentProcessName, ParentProcessId, "
        "ProcessCommandLine, ProcessCreationTime:datetime, ProcessCurrentWorkingDirectory, AccountName, "
        "LogonId:long, InitiatingProcessId, AdditionalFields"),
    "CloudStorageAggregatedEvents": _cols(
        "DataAggregationStartTime:datetime, DataAggregationEndTime:datetime, DataSource, SubscriptionId, "
        "ResourceGroup, StorageAccount, StorageContainer, StorageFileShare, ServiceType, IpAddress, "
        "UserAgentHeader, OperationNamesList:dynamic, AuthenticationType, AccountObjectId, AccountTenantId:long, "
        "AccountApplicationId, AccountUpn, AccountType:long, OperationsCount:int, SuccessfulOperationsCount:int, "
        "FailedOperationsCount:int, FirstEventTimestamp:datetime, LastEventTimestamp:datetime, "
        "TotalResponseLength:int, SuccessfulReadOperations:int, DistinctGetOperations:int, "
        "AnonymousSuccessfulOperations:int, HasAnonymousResourceNotFoundFailures:bool, CountryName, CityName, "
        "ProvinceName, ClientSystemServiceName, ClientCloudPlatformName, IsTorExitNode:bool, "
        "IsKnownSuspiciousIp:bool, IsPrivateIp:bool, SuspiciousUserAgentName, HashReputationMd5List:dynamic, "
        "AzureResourceId, Location, Timestamp:datetime, ReportId, ActionType, AdditionalFields:dynamic"),
    "DataSecurityBehaviors": _cols(
        "Timestamp:datetime, BehaviorId, ActionType, StartTime:datetime, EndTime:datetime, AttackTechniques, "
        "Categories, ActionCategory, Description, ServiceSource, DetectionSource, ActivityCount:int, "
        "IsAnomalous:bool, IsContentHidden:bool, AccountUpn, AccountEmail, Application, DeviceInfo:dynamic, "
        "SensitivityLabelInfo:dynamic, SensitiveInfoTypesInfo:dynamic, UrlDomainInfo:dynamic, "
        "SharepointSiteInfo:dynamic, RecipientEmailInfo:dynamic, RemovableMediaInfo:dynamic, PrinterName:dynamic, "
        "PriorityContentMatchInfo:dynamic"),
    "DataSecurityEvents": _cols(
        "ApplicationNames, DeviceId, DeviceName, AadDeviceId:guid, IsManagedDevice:bool, DlpPolicyMatchInfo, "
        "DlpPolicyEnforcementMode:int, DlpPolicyRuleMatchInfo:dynamic, FileRenameInfo, PhysicalAccessPointId, "
        "PhysicalAccessPointName, PhysicalAccessStatus, PhysicalAssetTag, RemovableMediaManufacturer, "
        "RemovableMediaModel, RemovableMediaSerialNumber, TeamsChannelName, TeamsChannelType, TeamsTeamName, "
        "UserAlternateEmails, AccountUpn, AccountObjectId, Department, SourceCodeInfo, CcPolicyMatchInfo:dynamic, "
        "IPAddress, Timestamp:datetime, DeviceSourceLocationType:int, DeviceDestinationLocationType:int, "
        "IrmPolicyMatchInfo:dynamic, UnallowedUrlDomains, ExternalUrlDomains, UrlDomainInfo, SourceUrlDomain, "
        "TargetUrlDomain, EmailAttachmentCount:int, EmailAttachmentInfo:dynamic, InternetMessageId, "
        "NetworkMessageId:guid, EmailSubject, ObjectId, ObjectName, ObjectType, ObjectSize:int, IsHidden:bool, "
        "ActivityId:guid, ActionType, SensitiveInfoTypeInfo:dynamic, SensitivityLabelId, "
        "SharepointSiteSensitivityLabelIds, PreviousSensitivityLabelId, Operation, RecipientEmailAddress, "
        "SiteUrl, SourceRelativeUrl, TargetFilePath, PrinterName, Workload, IrmActionCategory, "
        "SequenceCorrelationId, CloudAppAlertId"),
    "AIAgentsInfo": _cols(
        "Timestamp:datetime, AIAgentId:guid, AIAgentName, AgentCreationTime:datetime, CreatorAccountUpn, "
        "OwnerAccountUpns, LastModifiedByUpn, LastModifiedTime:datetime, LastPublishedTime:datetime, "
        "LastPublishedByUpn, AgentDescription, AgentStatus, UserAuthenticationType, AgentUsers, KnowledgeDetails, "
        "AgentActionTriggers, RawAgentInfo, AuthenticationTrigger, AccessControlPolicy, "
        "AuthorizedSecurityGroupIds:dynamic, AgentTopicsDetails:dynamic, AgentToolsDetails:dynamic, "
        "EnvironmentId, Platform"),
}

#: Deprecated names Kusto still resolves, each a view of the table that replaced it (the AAD pages keep
#: ``AadDeviceId``, the legacy name of ``EntraIdDeviceId``).
ALIASES = {"AADSignInEventsBeta": "EntraIdSignInEvents", "AADSpnSignInEventsBeta": "EntraIdSpnSignInEvents"}
ALIAS_COLUMNS = {"AadDeviceId": "EntraIdDeviceId"}

TABLES.update(MORE_TABLES)


def source(table: str) -> str:
    """The Microsoft Learn page a table's columns are taken from."""
    return f"https://learn.microsoft.com/defender-xdr/advanced-hunting-{table.lower()}-table"


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
