"""MDE live response over real HTTPS: library files (multipart upload, override, delete), command validation,
one session per machine, result download links and the failure of a command."""

from __future__ import annotations

import hashlib
import json
import time

import pytest

from test_hunting_api import WDATP, get_token

WS = "ws-dev-12.contoso.local"


@pytest.fixture
def mde(emulator):
    emulator.reset()
    emulator.set_config(quota_scale=100)
    emulator.control("PATCH", "machines/config", json={"pending_seconds": 0.1, "running_seconds": 0.2})
    token = get_token(emulator, WDATP)
    session = emulator.session()

    class Mde:
        headers = {"Authorization": f"Bearer {token}"}

        def get(self, path):
            return session.get(emulator.url(path), timeout=60, headers=self.headers)

        def post(self, path, body):
            return session.post(emulator.url(path), json=body, timeout=60, headers=self.headers)

        def upload(self, name, content, **form):
            return session.post(emulator.url("/api/libraryfiles"), headers=self.headers, timeout=60,
                                files={"File": (name, content)}, data=form)

        def wait(self, action_id):
            end = time.time() + 3
            while time.time() < end:
                body = self.get(f"/api/machineactions/{action_id}").json()
                if body["status"] not in ("Pending", "InProgress"):
                    return body
                time.sleep(0.1)
            return body

    yield Mde()
    session.close()
    emulator.reset()


def run_body(script="collect.ps1", args="-Verbose", path="C:\\temp\\out.zip"):
    return {"Comment": "triage", "Commands": [
        {"type": "RunScript", "params": [{"key": "ScriptName", "value": script}, {"key": "Args", "value": args}]},
        {"type": "GetFile", "params": [{"key": "Path", "value": path}]}]}


def test_library_upload_list_override_delete(mde):
    resp = mde.upload("collect.ps1", b"Write-Output hi", Description="collector", HasParameters="true")
    assert resp.status_code == 200
    entry = resp.json()
    assert entry["fileName"] == "collect.ps1"
    assert entry["sha256"] == hashlib.sha256(b"Write-Output hi").hexdigest()
    assert (entry["description"], entry["hasParameters"]) == ("collector", True)
    listed = mde.get("/api/libraryfiles").json()["value"]
    assert [f["fileName"] for f in listed] == ["collect.ps1"]
    assert mde.upload("collect.ps1", b"v2").status_code == 409
    again = mde.upload("collect.ps1", b"v2", OverrideIfExists="true").json()
    assert again["sha256"] == hashlib.sha256(b"v2").hexdigest()
    assert mde.upload("", b"x").status_code == 400


def test_library_delete(emulator, mde):
    mde.upload("x.ps1", b"1")
    with emulator.session() as s:
        first = s.delete(emulator.url("/api/libraryfiles/x.ps1"), headers=mde.headers, timeout=30)
        second = s.delete(emulator.url("/api/libraryfiles/x.ps1"), headers=mde.headers, timeout=30)
    assert (first.status_code, second.status_code) == (204, 404)


def test_run_script_and_download_results(emulator, mde):
    mde.upload("collect.ps1", b"Write-Output hi")
    mid = mde.get(f"/api/machines/{WS}").json()["id"]
    resp = mde.post(f"/API/machines/{mid}/runliveresponse", run_body())
    assert resp.status_code == 201
    action = resp.json()
    assert (action["type"], action["status"]) == ("LiveResponse", "Pending")
    assert [c["commandStatus"] for c in action["commands"]] == ["Created", "Created"]
    early = mde.get(f"/api/machineactions/{action['id']}/GetLiveResponseResultDownloadLink(index=0)")
    assert early.status_code == 404
    busy = mde.post(f"/api/machines/{mid}/runliveresponse", run_body())
    assert busy.status_code == 400 and busy.json()["error"]["code"] == "ActiveRequestAlreadyExists"
    done = mde.wait(action["id"])
    assert done["status"] == "Succeeded"
    assert [c["commandStatus"] for c in done["commands"]] == ["Completed", "Completed"]
    link = mde.get(f"/api/machineactions/{action['id']}/GetLiveResponseResultDownloadLink(index=0)").json()["value"]
    with emulator.session() as plain:
        transcript = json.loads(plain.get(link, timeout=30).text)
        got = plain.get(mde.get(f"/api/machineactions/{action['id']}/"
                                "GetLiveResponseResultDownloadLink(index=1)").json()["value"], timeout=30).text
    assert transcript == {"script_name": "collect.ps1", "exit_code": 0,
                          "script_output": f"ran collect.ps1 -Verbose on {WS}", "script_errors": ""}
    assert got == f"contents of C:\\temp\\out.zip from {WS}\n"


@pytest.mark.parametrize("body, text", [
    ({"Comment": "x", "Commands": []}, "Commands is a required parameter."),
    ({"Comment": "x", "Commands": [{"type": "GetFile", "params": [{"key": "Path", "value": "C:\\a"}]},
                                   {"type": "PutFile", "params": [{"key": "FileName", "value": "collect.ps1"}]}]},
     "Commands must be ordered PutFile, RunScript, GetFile."),
    ({"Comment": "x", "Commands": [{"type": "RunScript", "params": [{"key": "ScriptName", "value": "nope.ps1"}]}]},
     "File 'nope.ps1' was not found in the live response library."),
    ({"Comment": "x", "Commands": [{"type": "RunScript", "params": [{"key": "Script", "value": "collect.ps1"}]}]},
     "Command 0 (RunScript): params must be ['Args', 'ScriptName']."),
])
def test_bad_commands_are_400(mde, body, text):
    mde.upload("collect.ps1", b"1")
    mid = mde.get(f"/api/machines/{WS}").json()["id"]
    resp = mde.post(f"/api/machines/{mid}/runliveresponse", body)
    assert resp.status_code == 400
    assert resp.json()["error"]["message"] == text


def test_failed_script_stops_the_rest(emulator, mde):
    mde.upload("collect.ps1", b"1")
    emulator.control("POST", "machines/outcome", json={"type": "LiveResponse", "outcome": "Failed"})
    mid = mde.get(f"/api/machines/{WS}").json()["id"]
    action = mde.post(f"/api/machines/{mid}/runliveresponse", run_body()).json()
    done = mde.wait(action["id"])
    assert done["status"] == "Failed"
    assert [c["commandStatus"] for c in done["commands"]] == ["Failed", "Created"]
    assert done["commands"][0]["errors"] == ["The script failed: exit code 1"]
