"""Seeded Defender incidents and alerts, one store per tenant, rendered in the MTP or the Graph shape.

Stored in a canonical form (Graph camelCase enum values, ``datetime`` objects); :func:`mtp_incident` and
:func:`graph_incident` render the wire shapes of docs/developer/reference/defender-api.md §4. The first incidents are the
attack stories planted in the hunting tables (``hunting/generator.py``); their alerts are the ``AlertInfo`` /
``AlertEvidence`` rows. The rest are low-noise filler so that paging has several pages.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import random
import re

from .hunting import generator
from .hunting.generator import Dimensions

UTC = dt.timezone.utc
FILLER_INCIDENTS = 117  # 120 in all: 2 MTP pages of 100, 3 Graph pages of 50
FIRST_ID = 1001

# --- enums (§4.5, §4.6) -------------------------------------------------------------------------------------

STATUS = {"active": "Active", "inProgress": "InProgress", "resolved": "Resolved", "redirected": "Redirected"}
GRAPH_STATUS_EXTRA = ("unknownFutureValue", "awaitingAction")
SEVERITY = {"unknown": "UnSpecified", "informational": "Informational", "low": "Low", "medium": "Medium",
            "high": "High"}
CLASSIFICATION = {"unknown": "Unknown", "falsePositive": "FalsePositive", "truePositive": "TruePositive",
                  "informationalExpectedActivity": "InformationalExpectedActivity"}
# Graph wire value -> MTP PATCH value
DETERMINATION = {
    "multiStagedAttack": "MultiStagedAttack", "maliciousUserActivity": "MaliciousUserActivity",
    "compromisedAccount": "CompromisedAccount", "malware": "Malware", "phishing": "Phishing",
    "unwantedSoftware": "UnwantedSoftware", "other": "Other", "securityTesting": "SecurityTesting",
    "lineOfBusinessApplication": "LineOfBusinessApplication", "confirmedActivity": "ConfirmedActivity",
    "notMalicious": "Clean", "notEnoughDataToValidate": "NoEnoughDataToValidate", "apt": "Apt",
    "securityPersonnel": "SecurityPersonnel", "unknown": "NotAvailable",
}
DETERMINATION_ALIASES = {"clean": "notMalicious", "insufficientdata": "notEnoughDataToValidate",
                         "noenoughdatatovalidate": "notEnoughDataToValidate", "compromiseduser": "compromisedAccount",
                         "confirmeduseractivity": "confirmedActivity", "notavailable": "unknown"}
ALLOWED_DETERMINATIONS = {
    "truePositive": {"multiStagedAttack", "maliciousUserActivity", "compromisedAccount", "malware", "phishing",
                     "unwantedSoftware", "other", "apt"},
    "informationalExpectedActivity": {"securityTesting", "lineOfBusinessApplication", "confirmedActivity",
                                      "other", "securityPersonnel"},
    "falsePositive": {"notMalicious", "notEnoughDataToValidate", "other"},
}
ALERT_STATUS = {"new": "New", "inProgress": "InProgress", "resolved": "Resolved"}  # Graph / MDE alert PATCH
MTP_ALERT_STATUS = {"new": "New", "inProgress": "Active", "resolved": "Resolved"}  # MTP incident alerts (§4.3)
SERVICE_SOURCES = {  # graph value -> (MTP alert serviceSource, hunting ServiceSource)
    "microsoftDefenderForEndpoint": ("MicrosoftDefenderForEndpoint", "Microsoft Defender for Endpoint"),
    "microsoftDefenderForOffice365": ("MicrosoftDefenderForOffice365", "Microsoft Defender for Office 365"),
    "microsoftDefenderForIdentity": ("MicrosoftDefenderForIdentity", "Microsoft Defender for Identity"),
    "microsoftDefenderForCloudApps": ("MicrosoftCloudAppSecurity", "Microsoft Defender for Cloud Apps"),
}
DETECTION_SOURCES = {"microsoftDefenderForEndpoint": "EDR", "antivirus": "Antivirus",
                     "microsoftDefenderForOffice365": "Microsoft Defender for Office 365",
                     "microsoftDefenderForIdentity": "Microsoft Defender for Identity",
                     "microsoftDefenderForCloudApps": "Microsoft Defender for Cloud Apps"}


class InvalidValue(ValueError):
    """A value outside an enum, or an inconsistent combination (answered 400 by the routes)."""


def normalize(value: object, canon: dict | tuple, what: str) -> str:
    """Map any casing of an enum value (Graph or MTP form) to the canonical Graph value."""
    if not isinstance(value, str):
        raise InvalidValue(f"Invalid value for {what}: {value!r}.")
    low = value.strip().lower()
    keys = list(canon) if isinstance(canon, dict) else list(canon)
    for key in keys:
        if key.lower() == low:
            return key
    if isinstance(canon, dict):
        for key, mtp in canon.items():
            if mtp.lower() == low:
                return key
    raise InvalidValue(f"Requested value '{value}' is not a valid value for {what}.")


def normalize_determination(value: object) -> str:
    if isinstance(value, str) and value.strip().lower() in DETERMINATION_ALIASES:
        return DETERMINATION_ALIASES[value.strip().lower()]
    return normalize(value, DETERMINATION, "determination")


def fmt_time(value: dt.datetime | None) -> str | None:
    """``2024-05-01T10:15:00.1234567Z`` (7 fractional digits, UTC)."""
    if value is None:
        return None
    value = value.astimezone(UTC) if value.tzinfo else value
    return value.strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond:06d}0Z"


def parse_time(text: str) -> dt.datetime:
    text = text.strip().strip("'")
    m = re.fullmatch(r"(\d{4}-\d{2}-\d{2})(?:T(\d{2}:\d{2}(?::\d{2})?)(\.\d+)?)?(Z|[+-]\d{2}:\d{2})?", text)
    if not m:
        raise InvalidValue(f"'{text}' is not a valid DateTimeOffset.")
    date, clock, frac, zone = m.groups()
    clock = clock or "00:00:00"
    if len(clock) == 5:
        clock += ":00"
    frac = (frac or ".0")[1:7].ljust(6, "0")
    zone = "+00:00" if zone in (None, "Z") else zone
    return dt.datetime.fromisoformat(f"{date}T{clock}.{frac}{zone}").astimezone(UTC)


# --- seeding ------------------------------------------------------------------------------------------------

def _alert(store: "IncidentStore", incident_id: int, title: str, category: str, severity: str, source: str,
           detection: str, created: dt.datetime, techniques: list[str], evidence: list[dict],
           description: str = "", threat: str | None = None) -> dict:
    prefix = {"microsoftDefenderForEndpoint": "da", "microsoftDefenderForOffice365": "fa",
              "microsoftDefenderForIdentity": "aa", "microsoftDefenderForCloudApps": "ca"}[source]
    n = store.next_alert
    store.next_alert += 1
    digest = int(hashlib.sha256(f"{store.tenant_id}{n}".encode()).hexdigest()[:8], 16) % 2_000_000_000
    return {
        "id": f"{prefix}{638600000000000000 + n * 7919}_{-digest}", "incidentId": incident_id, "title": title,
        "description": description or f"{title}. Review the evidence and the device timeline.",
        "category": category, "severity": severity, "status": "new", "classification": None,
        "determination": None, "assignedTo": None, "serviceSource": source,
        "serviceSourceName": SERVICE_SOURCES[source][1], "detectionSource": detection,
        "detectionSourceName": DETECTION_SOURCES.get(detection, detection), "created": created,
        # never in the future: an alert created just now has not been updated yet
        "updated": max(created, min(created + dt.timedelta(minutes=5), dt.datetime.now(dt.timezone.utc))),
        "firstActivity": created - dt.timedelta(minutes=1),
        "lastActivity": created, "resolved": None, "techniqueNames": techniques,
        "mitreTechniques": [t.split("(")[-1].rstrip(")") for t in techniques], "evidence": evidence,
        "threatFamilyName": threat, "comments": [],
    }


def _device_evidence(dev: dict) -> dict:
    return {"EntityType": "Machine", "EvidenceRole": "Impacted", "DeviceId": dev["DeviceId"],
            "DeviceName": dev["DeviceName"], "LocalIP": dev["LocalIP"], "_os": dev["OSPlatform"]}


def _user_evidence(user: dict) -> dict:
    return {"EntityType": "User", "EvidenceRole": "Impacted", "AccountName": user["AccountName"],
            "AccountDomain": user["AccountDomain"], "AccountSid": user["Sid"], "AccountObjectId": user["ObjectId"],
            "AccountUpn": user["Upn"]}


class IncidentStore:
    """Incidents of one tenant (a list of canonical dicts, newest last)."""

    def __init__(self, tenant_id: str, domain: str, anchor: dt.datetime) -> None:
        self.tenant_id = tenant_id
        self.domain = domain
        self.anchor = anchor
        self.dims = Dimensions(tenant_id, domain)
        self.incidents: list[dict] = []
        self.by_id: dict[int, dict] = {}
        self.next_id = FIRST_ID
        self.next_alert = 1
        self.rng = random.Random(generator.seed_of(tenant_id))
        self._seed()

    # --- building ---------------------------------------------------------------------------------------
    def _incident(self, name: str, severity: str, created: dt.datetime, alerts_fn, status: str = "active",
                  assigned: str | None = None, tags: list[str] | None = None, iid: int | None = None) -> dict:
        iid = self.next_id if iid is None else iid
        self.next_id = max(self.next_id, iid + 1)
        alerts = alerts_fn(iid)
        inc = {
            "id": iid, "name": name, "created": created, "updated": max(a["updated"] for a in alerts),
            "assignedTo": assigned, "severity": severity, "status": status, "classification": None,
            "determination": None, "tags": list(tags or []), "systemTags": [], "comments": [],
            "alerts": alerts, "redirectIncidentId": None, "description": "", "summary": None,
            "resolvingComment": None, "lastModifiedBy": "API-App:automation",
        }
        self.incidents.append(inc)
        self.by_id[iid] = inc
        return inc

    def _seed(self) -> None:
        d, t = self.dims, generator.story_times(self.anchor)
        ws, srv, dc = d.device("ws-fin-07"), d.device("srv-file-02"), d.device("srv-dc-01")
        megan = d.user("megan.bowen")
        mde, mdo, mdi = ("microsoftDefenderForEndpoint", "microsoftDefenderForOffice365",
                         "microsoftDefenderForIdentity")

        def story1(iid):
            return [
                _alert(self, iid, "Email messages containing malicious file removed after delivery", "InitialAccess",
                       "medium", mdo, mdo, t["phish"] + dt.timedelta(minutes=30), ["Phishing (T1566.001)"],
                       [_user_evidence(megan) | {"EvidenceRole": "Impacted"},
                        {"EntityType": "MailMessage", "EvidenceRole": "Related",
                         "EmailSubject": "Overdue invoice INV-4471",
                         "NetworkMessageId": generator._guid(self.tenant_id, "phish-mail")},
                        {"EntityType": "File", "EvidenceRole": "Related", "FileName": "INV-4471.docm",
                         "SHA256": generator._h("phish-doc", self.tenant_id)}]),
                _alert(self, iid, "Suspicious PowerShell download cradle", "Execution", "high", mde,
                       "microsoftDefenderForEndpoint", t["phish"] + dt.timedelta(minutes=5),
                       ["PowerShell (T1059.001)", "Ingress Tool Transfer (T1105)"],
                       [_device_evidence(ws), _user_evidence(megan),
                        {"EntityType": "Process", "EvidenceRole": "Related", "FileName": "powershell.exe",
                         "ProcessCommandLine": f"powershell.exe -nop -w hidden -enc {generator.CRADLE_B64}"},
                        {"EntityType": "Ip", "EvidenceRole": "Related", "RemoteIP": generator.ATTACKER_IP}]),
                _alert(self, iid, "Credential dumping: Mimikatz", "CredentialAccess", "high", mde, "antivirus",
                       t["creds"] + dt.timedelta(minutes=1), ["LSASS Memory (T1003.001)"],
                       [_device_evidence(ws), _user_evidence(megan),
                        {"EntityType": "File", "EvidenceRole": "Impacted", "FileName": "mimikatz.exe",
                         "FolderPath": "C:\\Users\\Public\\mimikatz.exe", "SHA256": generator._h("mimikatz-256"),
                         "ThreatFamily": "Mimikatz"}], threat="Mimikatz"),
            ]

        def story2(iid):
            return [
                _alert(self, iid, "Ransomware behavior detected in the file system", "Ransomware", "high", mde,
                       "microsoftDefenderForEndpoint", t["ransom"] + dt.timedelta(minutes=4),
                       ["Data Encrypted for Impact (T1486)"],
                       [_device_evidence(srv), _user_evidence(megan),
                        {"EntityType": "File", "EvidenceRole": "Impacted", "FileName": "locker.exe",
                         "FolderPath": "C:\\ProgramData\\locker.exe", "SHA256": generator._h("locker-256")}]),
                _alert(self, iid, "File backups were deleted", "Impact", "high", mde, "microsoftDefenderForEndpoint",
                       t["ransom"] + dt.timedelta(minutes=1), ["Inhibit System Recovery (T1490)"],
                       [_device_evidence(srv),
                        {"EntityType": "Process", "EvidenceRole": "Related", "FileName": "vssadmin.exe",
                         "ProcessCommandLine": "vssadmin.exe delete shadows /all /quiet"}]),
            ]

        def story3(iid):
            return [_alert(self, iid, "Password Spray attack", "CredentialAccess", "medium", mdi,
                           "microsoftDefenderForIdentity", t["spray"] + dt.timedelta(minutes=12),
                           ["Password Spraying (T1110.003)"],
                           [_device_evidence(dc), {"EntityType": "Ip", "EvidenceRole": "Related",
                                                   "RemoteIP": generator.SPRAY_IP}])]

        self._incident("Multi-stage incident involving Initial access & Credential access on one endpoint",
                       "high", t["phish"] + dt.timedelta(minutes=5), story1, tags=["Phishing"])
        self._incident("Ransomware activity on one endpoint", "high", t["ransom"] + dt.timedelta(minutes=1),
                       story2, status="inProgress", assigned=f"soc1@{self.domain}")
        self._incident("Password Spray attack on multiple accounts", "medium", t["spray"] + dt.timedelta(minutes=12),
                       story3)
        fillers = [
            ("Suspicious PowerShell command line", "Execution", "low", ["PowerShell (T1059.001)"]),
            ("Suspicious scheduled task", "Persistence", "low", ["Scheduled Task (T1053.005)"]),
            ("An active 'Wacatac' malware was blocked", "Malware", "informational", []),
            ("Unusual sign-in activity", "InitialAccess", "medium", ["Valid Accounts (T1078)"]),
            ("Suspicious file dropped", "Malware", "low", []),
            ("Anomalous account lookups", "Discovery", "low", ["Account Discovery (T1087)"]),
            ("Potentially unwanted application", "UnwantedSoftware", "informational", []),
        ]
        for k in range(FILLER_INCIDENTS):
            title, cat, sev, tech = fillers[k % len(fillers)]
            dev = self.dims.devices[self.rng.randrange(len(self.dims.devices))]
            user = self.dims.users[self.rng.randrange(len(self.dims.users))]
            created = self.anchor - dt.timedelta(seconds=self.rng.randrange(60, 29 * 86400))

            def filler(iid, title=title, cat=cat, sev=sev, tech=tech, dev=dev, user=user, created=created):
                return [_alert(self, iid, title, cat, sev, "microsoftDefenderForEndpoint",
                               "microsoftDefenderForEndpoint", created, tech,
                               [_device_evidence(dev), _user_evidence(user)])]

            status = self.rng.choice(["active", "active", "resolved", "inProgress"])
            inc = self._incident(f"{title} on one endpoint", sev, created, filler, status=status,
                                 assigned=self.rng.choice([None, f"soc1@{self.domain}", f"soc2@{self.domain}"]))
            if status == "resolved":
                inc["classification"] = "falsePositive"
                inc["determination"] = "notMalicious"
                for a in inc["alerts"]:
                    a["status"] = "resolved"
                    a["resolved"] = a["updated"]

    def alerts(self) -> list[dict]:
        """The alerts the hunting tables hold (AlertInfo / AlertEvidence): all but bulk-generated ones."""
        return [a for inc in self.incidents for a in inc["alerts"] if not a.get("_bulk")]

    def all_alerts(self) -> list[dict]:
        """Every alert (what alerts_v2 lists)."""
        return [a for inc in self.incidents for a in inc["alerts"]]

    def get(self, incident_id: str | int) -> dict | None:
        try:
            return self.by_id.get(int(str(incident_id).strip()))
        except ValueError:
            return None

    def get_alert(self, alert_id: str) -> dict | None:
        for a in self.all_alerts():
            if a["id"] == alert_id:
                return a
        return None

    # --- users' own incidents (hunting/userdata.py) ------------------------------------------------------
    def user_alerts(self, iid: int, specs: list[dict]) -> list[dict]:
        """Alerts of incident *iid* from validated specs (incidents_userdata.validate_user_alerts)."""
        return [_alert(self, iid, a["title"], a["category"], a["severity"], a["serviceSource"],
                       a["detectionSource"], a["created"], a["techniques"], a["evidence"], a["description"],
                       a["threatFamilyName"]) | {"status": a["status"], "assignedTo": a.get("assignedTo"),
                                                 "resolved": a["created"] if a["status"] == "resolved" else None}
                for a in specs]

    def add_user_incident(self, spec: dict) -> dict:
        """A validated incident (incidents_userdata.validate_user_incident) with its alerts, appended."""
        if spec.get("id") is not None and spec["id"] in self.by_id:
            raise InvalidValue(f"Incident id {spec['id']} is already taken.")
        inc = self._incident(spec["title"], spec["severity"], spec["created"],
                             lambda iid: self.user_alerts(iid, spec["alerts"]), status=spec["status"],
                             assigned=spec["assignedTo"], tags=spec["tags"], iid=spec.get("id"))
        inc["description"] = spec["description"]
        inc["systemTags"] = list(spec.get("systemTags") or [])
        inc["comments"] = [dict(c) for c in spec.get("comments") or []]
        if spec.get("updated"):
            inc["updated"] = max(spec["updated"], inc["created"])
        if spec["classification"] or spec["determination"]:
            apply_classification(inc, {"classification": spec["classification"],
                                       "determination": spec["determination"]})
        return inc

    # --- change feed (control plane) ----------------------------------------------------------------------
    def advance(self, new: int = 1, update: int = 1, now: dt.datetime | None = None) -> dict:
        """Create *new* incidents and touch *update* existing ones, so a poller sees changes."""
        now = now or dt.datetime.now(UTC)
        created, updated = [], []
        for _ in range(max(0, new)):
            dev = self.dims.devices[self.rng.randrange(len(self.dims.devices))]
            user = self.dims.users[self.rng.randrange(len(self.dims.users))]

            def alerts_fn(iid, dev=dev, user=user):
                return [_alert(self, iid, "Suspicious process injection observed", "DefenseEvasion", "medium",
                               "microsoftDefenderForEndpoint", "microsoftDefenderForEndpoint", now,
                               ["Process Injection (T1055)"], [_device_evidence(dev), _user_evidence(user)])]

            inc = self._incident("Suspicious process injection on one endpoint", "medium", now, alerts_fn)
            inc["updated"] = now
            created.append(inc)
        candidates = [i for i in self.incidents if i["status"] != "resolved" and i not in created]
        for inc in candidates[:max(0, update)]:
            inc["status"] = "inProgress"
            inc["updated"] = now
            inc["comments"].append({"comment": "Automated investigation updated the incident.",
                                    "createdBy": "Automation", "createdTime": now})
            updated.append(inc)
        return {"created": created, "updated": updated}


# --- users' own incidents: validated in incidents_userdata.py -----------------------------------------------

# --- rendering ----------------------------------------------------------------------------------------------

def _entity(ev: dict) -> dict:
    kind = ev["EntityType"]
    return {
        "entityType": {"RegistryKey": "Registry", "RegistryValue": "Registry"}.get(kind, kind),
        "evidenceCreationTime": None,
        "sha1": ev.get("SHA1"), "sha256": ev.get("SHA256"), "fileName": ev.get("FileName"),
        "filePath": ev.get("FolderPath"), "processId": None, "processCommandLine": ev.get("ProcessCommandLine"),
        "processCreationTime": None, "parentProcessId": None, "parentProcessCreationTime": None,
        "ipAddress": ev.get("RemoteIP"), "url": ev.get("RemoteUrl"), "accountName": ev.get("AccountName"),
        "domainName": ev.get("AccountDomain"), "userSid": ev.get("AccountSid"),
        "aadUserId": ev.get("AccountObjectId"), "userPrincipalName": ev.get("AccountUpn"),
        "mailboxDisplayName": None, "mailboxAddress": None, "clusterBy": None, "sender": None,
        "recipient": None, "subject": ev.get("EmailSubject"), "deliveryAction": None, "securityGroupId": None,
        "securityGroupName": None, "registryHive": None, "registryKey": ev.get("RegistryKey"),
        "registryValueType": None, "registryValue": ev.get("RegistryValueData"), "deviceId": ev.get("DeviceId"),
    }


def mtp_alert(a: dict) -> dict:
    devices = [{"mdatpDeviceId": e["DeviceId"], "aadDeviceId": None, "deviceDnsName": e["DeviceName"],
                "osPlatform": e.get("_os"), "osBuild": None, "rbacGroupName": "UnassignedGroup",
                "firstSeen": None, "healthStatus": "Active", "riskScore": "High", "entities": []}
               for e in a["evidence"] if e["EntityType"] == "Machine"]
    return {
        "alertId": a["id"], "providerAlertId": a["id"], "incidentId": a["incidentId"],
        "serviceSource": SERVICE_SOURCES[a["serviceSource"]][0], "creationTime": fmt_time(a["created"]),
        "lastUpdatedTime": fmt_time(a["updated"]), "resolvedTime": fmt_time(a["resolved"]),
        "firstActivity": fmt_time(a["firstActivity"]), "lastActivity": fmt_time(a["lastActivity"]),
        "title": a["title"], "description": a["description"], "category": a["category"],
        "status": MTP_ALERT_STATUS[a["status"]], "severity": SEVERITY[a["severity"]],
        "investigationId": None, "investigationState": "UnsupportedAlertType",
        "classification": CLASSIFICATION[a["classification"]] if a["classification"] else None,
        "determination": DETERMINATION[a["determination"]] if a["determination"] else None,
        "detectionSource": a["detectionSourceName"], "detectorId": None, "assignedTo": a["assignedTo"],
        "actorName": None, "threatFamilyName": a["threatFamilyName"], "mitreTechniques": a["mitreTechniques"],
        "devices": devices,
        "entities": [_entity(e) for e in a["evidence"] if e["EntityType"] != "Machine"],
    }


def mtp_incident(inc: dict) -> dict:
    return {
        "incidentId": inc["id"], "incidentUri": f"https://security.microsoft.com/incidents/{inc['id']}",
        "redirectIncidentId": inc["redirectIncidentId"], "incidentName": inc["name"],
        "createdTime": fmt_time(inc["created"]), "lastUpdateTime": fmt_time(inc["updated"]),
        "assignedTo": inc["assignedTo"],
        "classification": CLASSIFICATION[inc["classification"]] if inc["classification"] else "Unknown",
        "determination": DETERMINATION[inc["determination"] or "unknown"],
        "status": STATUS[inc["status"]], "severity": SEVERITY[inc["severity"]], "tags": list(inc["tags"]),
        "systemTags": list(inc["systemTags"]),
        "comments": [{"comment": c["comment"], "createdBy": c["createdBy"], "createdTime": fmt_time(c["createdTime"])}
                     for c in inc["comments"]],
        "alerts": [mtp_alert(a) for a in inc["alerts"]],
    }


_EVIDENCE_TYPES = {"Machine": "deviceEvidence", "User": "userEvidence", "File": "fileEvidence",
                   "Process": "processEvidence", "Ip": "ipEvidence", "MailMessage": "analyzedMessageEvidence",
                   "Url": "urlEvidence", "RegistryKey": "registryKeyEvidence", "RegistryValue": "registryValueEvidence"}


def _graph_evidence(ev: dict, created: dt.datetime) -> dict:
    kind = ev["EntityType"]
    out = {"@odata.type": f"#microsoft.graph.security.{_EVIDENCE_TYPES.get(kind, 'deviceEvidence')}",
           "createdDateTime": fmt_time(created), "verdict": "suspicious", "remediationStatus": "none",
           "remediationStatusDetails": None, "roles": [], "tags": []}
    if kind == "Machine":
        out.update({"mdeDeviceId": ev["DeviceId"], "deviceDnsName": ev["DeviceName"], "osPlatform": ev.get("_os"),
                    "healthStatus": "active", "riskScore": "high", "ipInterfaces": [ev.get("LocalIP")]})
    elif kind == "User":
        out["userAccount"] = {"accountName": ev["AccountName"], "domainName": ev["AccountDomain"],
                              "userSid": ev["AccountSid"], "azureAdUserId": ev["AccountObjectId"],
                              "userPrincipalName": ev["AccountUpn"]}
    elif kind == "File":
        out["fileDetails"] = {"fileName": ev.get("FileName"), "filePath": ev.get("FolderPath"),
                              "sha256": ev.get("SHA256"), "sha1": ev.get("SHA1")}
    elif kind == "Process":
        out.update({"processCommandLine": ev.get("ProcessCommandLine"),
                    "imageFile": {"fileName": ev.get("FileName")}})
    elif kind == "Ip":
        out["ipAddress"] = ev.get("RemoteIP")
    elif kind in ("RegistryKey", "RegistryValue"):
        out.update({"registryKey": ev.get("RegistryKey"), "registryHive": None})
        if kind == "RegistryValue":
            out.update({"registryValueName": ev.get("RegistryValueName"), "registryValue": ev.get("RegistryValueData")})
    elif kind == "Url":
        out["url"] = ev.get("RemoteUrl")
    elif kind == "MailMessage":
        out.update({"subject": ev.get("EmailSubject"), "networkMessageId": ev.get("NetworkMessageId")})
    return out


def graph_alert(a: dict, tenant_id: str) -> dict:
    return {
        "@odata.type": "#microsoft.graph.security.alert", "id": a["id"], "providerAlertId": a["id"],
        "incidentId": str(a["incidentId"]), "status": a["status"], "severity": a["severity"],
        "classification": a["classification"] or "unknown", "determination": a["determination"] or "unknown",
        "serviceSource": a["serviceSource"], "detectionSource": a["detectionSource"], "productName": None,
        "detectorId": None, "tenantId": tenant_id, "title": a["title"], "description": a["description"],
        "recommendedActions": "Investigate the device timeline.", "category": a["category"],
        "assignedTo": a["assignedTo"],
        "alertWebUrl": f"https://security.microsoft.com/alerts/{a['id']}?tid={tenant_id}",
        "incidentWebUrl": f"https://security.microsoft.com/incidents/{a['incidentId']}?tid={tenant_id}",
        "actorDisplayName": None, "threatDisplayName": a["threatFamilyName"],
        "threatFamilyName": a["threatFamilyName"], "mitreTechniques": a["mitreTechniques"],
        "createdDateTime": fmt_time(a["created"]), "lastUpdateDateTime": fmt_time(a["updated"]),
        "resolvedDateTime": fmt_time(a["resolved"]), "firstActivityDateTime": fmt_time(a["firstActivity"]),
        "lastActivityDateTime": fmt_time(a["lastActivity"]),
        "comments": [{"comment": c["comment"], "createdByDisplayName": c["createdBy"],
                      "createdDateTime": fmt_time(c["createdTime"])} for c in a["comments"]],
        "evidence": [_graph_evidence(e, a["created"]) for e in a["evidence"]],
        "systemTags": [],
    }


def graph_incident(inc: dict, tenant_id: str, expand_alerts: bool = False) -> dict:
    out = {
        "@odata.type": "#microsoft.graph.security.incident", "id": str(inc["id"]),
        "incidentWebUrl": f"https://security.microsoft.com/incidents/{inc['id']}?tid={tenant_id}",
        "tenantId": tenant_id,
        "redirectIncidentId": str(inc["redirectIncidentId"]) if inc["redirectIncidentId"] else None,
        "displayName": inc["name"], "description": inc["description"], "createdDateTime": fmt_time(inc["created"]),
        "lastUpdateDateTime": fmt_time(inc["updated"]), "assignedTo": inc["assignedTo"],
        "classification": inc["classification"] or "unknown", "determination": inc["determination"] or "unknown",
        "status": inc["status"], "severity": inc["severity"], "customTags": list(inc["tags"]),
        "systemTags": list(inc["systemTags"]), "summary": inc["summary"], "resolvingComment": inc["resolvingComment"],
        "lastModifiedBy": inc["lastModifiedBy"],
        "priorityScore": {"high": 90, "medium": 50, "low": 20}.get(inc["severity"], 5),
        "comments": [{"comment": c["comment"], "createdByDisplayName": c["createdBy"],
                      "createdDateTime": fmt_time(c["createdTime"])} for c in inc["comments"]],
    }
    if expand_alerts:
        out["alerts"] = [graph_alert(a, tenant_id) for a in inc["alerts"]]
    return out


# --- updates ------------------------------------------------------------------------------------------------

def apply_classification(target: dict, body: dict) -> None:
    """``classification`` / ``determination`` with the §4.6 consistency rules (mutates *target*)."""
    classification = target["classification"]
    if "classification" in body and body["classification"] is not None:
        classification = normalize(body["classification"], CLASSIFICATION, "classification")
    determination = target["determination"]
    if "determination" in body and body["determination"] is not None:
        determination = normalize_determination(body["determination"])
        if determination != "unknown":
            allowed = ALLOWED_DETERMINATIONS.get(classification or "unknown", set())
            if determination not in allowed:
                raise InvalidValue(f"Determination '{body['determination']}' is not valid for classification "
                                   f"'{CLASSIFICATION.get(classification or 'unknown')}'.")
    elif "classification" in body and classification != target["classification"]:
        determination = None  # a new classification drops a determination of another class
    target["classification"] = None if classification == "unknown" else classification
    target["determination"] = None if determination == "unknown" else determination


# --- OData $filter --------------------------------------------------------------------------------------------

_TOKEN = re.compile(r"\s*(?:(\()|(\))|'((?:[^']|'')*)'|([A-Za-z_][\w/.]*|[\d][\w:.+-]*))")


class ODataFilterError(ValueError):
    pass


_COMPARISONS = ("eq", "ne", "gt", "ge", "lt", "le")
MAX_FILTER_GROUPS = 64  # a filter whose OR-of-ANDs form would be larger is refused, not evaluated slowly


def _filter_tokens(text: str) -> list[tuple[str, str]]:
    """``(kind, text)`` tokens of a stripped ``$filter``: ``paren``, ``str`` (unquoted) or ``word``."""
    tokens, pos = [], 0
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if not m or m.end() == pos:
            raise ODataFilterError(f"Syntax error at position {pos} in '{text}'.")
        pos = m.end()
        if m.group(1) or m.group(2):
            tokens.append(("paren", m.group(1) or m.group(2)))
        elif m.group(3) is not None:
            tokens.append(("str", m.group(3).replace("''", "'")))
        else:
            tokens.append(("word", m.group(4)))
    return tokens


def parse_filter(text: str) -> list[list[tuple[str, str, object]]]:
    """``a eq 'x' and (b gt 2024-01-01T00:00:00Z or c eq null)`` -> OR-list of AND-lists of (field, op, value).

    OData precedence: parentheses, then ``and``, then ``or``. The result is the filter's disjunctive normal form,
    so a parenthesised ``or`` inside an ``and`` is distributed, never flattened."""
    text = text.strip()
    tokens = _filter_tokens(text)
    pos = 0

    def peek(kind, value):
        return pos < len(tokens) and tokens[pos][0] == kind and tokens[pos][1].lower() == value

    def expression():  # or-terms
        nonlocal pos
        groups = conjunction()
        while peek("word", "or"):
            pos += 1
            groups = groups + conjunction()
            check_size(groups)
        return groups

    def conjunction():  # and-factors
        nonlocal pos
        groups = factor()
        while peek("word", "and"):
            pos += 1
            right = factor()
            groups = [left + extra for left in groups for extra in right]
            check_size(groups)
        return groups

    def factor():
        nonlocal pos
        if peek("paren", "("):
            pos += 1
            groups = expression()
            if not peek("paren", ")"):
                raise ODataFilterError(f"Syntax error: ')' expected at token {pos + 1} in '{text}'.")
            pos += 1
            return groups
        if len(tokens) - pos < 3:
            raise ODataFilterError(f"Syntax error: incomplete expression in '{text}'.")
        (kf, field), (ko, op), (kv, value) = tokens[pos:pos + 3]
        if kf != "word" or ko != "word" or op.lower() not in _COMPARISONS or kv == "paren":
            raise ODataFilterError(f"Syntax error at '{field} {op}' in '{text}'.")
        pos += 3
        if kv == "word" and value.lower() == "null":
            value = None
        return [[(field, op.lower(), value)]]

    def check_size(groups):
        if len(groups) > MAX_FILTER_GROUPS:
            raise ODataFilterError(f"The filter is too complex: more than {MAX_FILTER_GROUPS} alternatives.")

    groups = expression()
    if pos < len(tokens):
        raise ODataFilterError(f"Syntax error at '{tokens[pos][1]}' in '{text}'.")
    return groups


def compare(actual, op: str, expected) -> bool:
    if actual is None or expected is None:
        return (actual is None) == (expected is None) if op == "eq" else \
            (actual is None) != (expected is None) if op == "ne" else False
    if isinstance(actual, str) and isinstance(expected, str):
        actual, expected = actual.lower(), expected.lower()
    return {"eq": actual == expected, "ne": actual != expected, "gt": actual > expected,
            "ge": actual >= expected, "lt": actual < expected, "le": actual <= expected}[op]


def apply_update(target: dict, body: dict, status_enum: dict, tags_key: str) -> None:
    """The PATCH semantics both APIs share: status, assignedTo, classification/determination, and the tag list
    (``tags`` on MTP, ``customTags`` on Graph) replaced whole. Raises InvalidValue for a bad value."""
    if "status" in body:
        target["status"] = normalize(body["status"], status_enum, "status")
    if "assignedTo" in body:
        if body["assignedTo"] is not None and not isinstance(body["assignedTo"], str):
            raise InvalidValue("assignedTo must be a string.")
        target["assignedTo"] = body["assignedTo"]
    if "classification" in body or "determination" in body:
        apply_classification(target, body)
    if tags_key in body:
        tags = body[tags_key]
        if not isinstance(tags, list) or not all(isinstance(t, str) for t in tags):
            raise InvalidValue(f"{tags_key} must be a list of strings.")
        target["tags"] = list(tags)
