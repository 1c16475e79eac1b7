# -*- coding: utf-8 -*-
# Copyright (c) m365.defender contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""FOR INTERNAL COLLECTION USE ONLY. Defender for Endpoint live response and its library.

docs/developer/reference/response-and-content.md §3 and §7.2:

* commands run in the order PutFile -> RunScript -> GetFile (:func:`build_commands` builds that order);
* one session per machine: a second one is a 400 ``ActiveRequestAlreadyExists``. A visible active session
  with the same commands is the result; one with other commands, or none visible (a portal session), means
  "busy, retry later";
* the key of a session is the machine id plus the ordered commands; a finished identical session newer than
  ``min_interval`` minutes is reused;
* results come from ``GetLiveResponseResultDownloadLink(index=N)`` (a 30-minute link); a RunScript result is
  a JSON transcript ``{script_name, exit_code, script_output, script_errors}``;
* library files are compared by ``fileName`` and ``sha256`` and uploaded (multipart, ``OverrideIfExists``)
  only when they differ.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import datetime
import hashlib
import json
import os
import re
import uuid

from ansible_collections.m365.defender.plugins.module_utils import _machine_actions as ma
from ansible_collections.m365.defender.plugins.module_utils._api_errors import ErrorHandler
from ansible_collections.m365.defender.plugins.module_utils._errors import MtpApiError, MtpConfigError

SCRIPT_TIMEOUT = 600
LIBRARY_MAX = 20 * 1024 * 1024
_LIB_NAME = re.compile(r"^[^\\/:*?\"<>|]+$")


# ---------------------------------------------------------------------------------------------------------------
# Pure helpers
# ---------------------------------------------------------------------------------------------------------------

def _command(kind, **params):
    return {"type": kind, "params": [{"key": k, "value": v} for k, v in params.items() if v is not None]}


def build_commands(put_files=None, script=None, script_args=None, get_files=None):
    """The ``Commands`` list, in the order the API requires: PutFile, RunScript, GetFile."""
    commands = [_command("PutFile", FileName=name) for name in put_files or []]
    if script:
        commands.append(_command("RunScript", ScriptName=script, Args=script_args or None))
    elif script_args:
        raise MtpConfigError("script_args needs script", option="script_args")
    commands.extend(_command("GetFile", Path=path) for path in get_files or [])
    return commands


def command_key(command):
    """A comparable form of one command (type and sorted params)."""
    params = sorted((p.get("key"), p.get("value")) for p in command.get("params") or [])
    return (command.get("type"), tuple(params))


def same_commands(action, commands):
    """Whether a LiveResponse action ran exactly ``commands`` (in order)."""
    ran = [c.get("command") or {} for c in sorted(action.get("commands") or [], key=lambda c: c.get("index", 0))]
    return [command_key(c) for c in ran] == [command_key(c) for c in commands]


def reusable(actions, commands, min_interval, now=None):
    """``(action, active)``: an active session with these commands, or a finished successful one newer than
    ``min_interval`` minutes; ``(None, False)`` when a new session is needed."""
    now = now or datetime.datetime.now(datetime.timezone.utc)
    for action in ma.newest_first(actions):
        if ma.type_of(action) != "LiveResponse" or not same_commands(action, commands):
            continue
        status = ma.status_of(action)
        if status in ma.ACTIVE:
            return action, True
        created = ma.parse_time(action.get("creationDateTimeUtc"))
        if status == "Succeeded" and min_interval and created and (now - created).total_seconds() < min_interval * 60:
            return action, False
    return None, False


def local_file(spec):
    """A library file to upload: ``{name, path, sha256, size, description, ...}``, checked offline."""
    path = spec.get("path")
    if not path or not os.path.isfile(path):
        raise MtpConfigError("library_files: %s is not a readable file" % path, option="library_files")
    name = spec.get("name") or os.path.basename(path)
    if not _LIB_NAME.match(name):
        raise MtpConfigError("library_files: %r is not a valid library file name" % name, option="library_files")
    size = os.path.getsize(path)
    if size > LIBRARY_MAX:
        raise MtpConfigError("library_files: %s is %d bytes; the library takes at most 20 MB" % (path, size),
                             option="library_files")
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(65536), b""):
            digest.update(chunk)
    return {"name": name, "path": path, "sha256": digest.hexdigest(), "size": size,
            "description": spec.get("description"), "parameters_description": spec.get("parameters_description"),
            "has_parameters": bool(spec.get("has_parameters"))}


def library_changes(current, wanted):
    """The wanted files whose name is missing from the library or whose sha256 differs."""
    have = dict((str(e.get("fileName")).lower(), str(e.get("sha256") or "").lower()) for e in current)
    return [w for w in wanted if have.get(w["name"].lower()) != w["sha256"]]


def multipart(fields, file_field, file_name, content, boundary=None):
    """``(body, content_type)`` of a ``multipart/form-data`` request with one file."""
    boundary = boundary or uuid.uuid4().hex
    lines = []
    for key, value in fields:
        lines.append(('--%s\r\nContent-Disposition: form-data; name="%s"\r\n\r\n%s\r\n' % (boundary, key, value))
                     .encode("utf-8"))
    lines.append(('--%s\r\nContent-Disposition: form-data; name="%s"; filename="%s"\r\n'
                  'Content-Type: application/octet-stream\r\n\r\n' % (boundary, file_field, file_name)).encode("utf-8"))
    lines.append(content)
    lines.append(("\r\n--%s--\r\n" % boundary).encode("utf-8"))
    return b"".join(lines), "multipart/form-data; boundary=%s" % boundary


def result_file_name(command):
    """The local name of a GetFile result: the base name of its remote path (Windows or POSIX)."""
    params = dict((p.get("key"), p.get("value")) for p in command.get("params") or [])
    return re.split(r"[\\/]", str(params.get("Path") or "result"))[-1] or "result"


# ---------------------------------------------------------------------------------------------------------------
# API calls
# ---------------------------------------------------------------------------------------------------------------

@ErrorHandler.list_handler("list the live response library")
def list_library(client):
    return (client.get("mde", "/api/libraryfiles").json or {}).get("value") or []


@ErrorHandler.common("upload a live response library file")
def upload_library_file(client, spec):
    fields = [("OverrideIfExists", "true"), ("HasParameters", "true" if spec["has_parameters"] else "false")]
    if spec.get("description"):
        fields.append(("Description", spec["description"]))
    if spec.get("parameters_description"):
        fields.append(("ParametersDescription", spec["parameters_description"]))
    with open(spec["path"], "rb") as fh:
        body, content_type = multipart(fields, "File", spec["name"], fh.read())
    return client.request("mde", "POST", "/api/libraryfiles", data=body, headers={"Content-Type": content_type}).json


def start_session(client, machine_id, commands, comment):
    """POST runliveresponse; ``(action, sent)``. A busy machine returns its identical active session, else fails."""
    body = {"Comment": comment, "Commands": commands}
    try:
        with ErrorHandler.context("start a live response session on machine %s" % machine_id):
            return client.post("mde", "/api/machines/%s/runliveresponse" % machine_id, json=body).json, True
    except MtpApiError as exc:
        if not ma.is_already_in_progress(exc):
            raise
    active = [a for a in ma.machine_actions(client, machine_id)
              if ma.type_of(a) == "LiveResponse" and ma.status_of(a) in ma.ACTIVE]
    for action in active:
        if same_commands(action, commands):
            return action, False
    other = " (session %s with other commands)" % active[0]["id"] if active else \
        " (none is visible to the API: a portal session?)"
    raise MtpApiError("Could not start a live response session on machine %s: the machine already has one%s; "
                      "retry later" % (machine_id, other), status=400, code="ActiveRequestAlreadyExists")


@ErrorHandler.common("get the result link of command {index} of action {action_id}")
def result_link(client, action_id, index):
    path = "/api/machineactions/%s/GetLiveResponseResultDownloadLink(index=%d)" % (action_id, index)
    return ma.strip_quotes((client.get("mde", path).json or {}).get("value"))


def _fetch(session, url):
    resp = session.get(url, timeout=120)
    if resp.status_code != 200:
        raise MtpApiError("Could not download a live response result: %s from the download link" % resp.status_code,
                          status=resp.status_code)
    return resp.content


def _script_result(client, action, index):
    raw = _fetch(client.session, result_link(client, action["id"], index))
    try:
        data = json.loads(raw.decode("utf-8"))
    except ValueError:
        return {"script_output": raw.decode("utf-8", "replace")}
    return dict((k, data.get(k)) for k in ("script_name", "exit_code", "script_output", "script_errors"))


def collect_results(client, action, dest=None):
    """Per command: ``index``, ``type``, ``command_status``, ``errors``; the RunScript transcript; GetFile
    results downloaded (atomically) into ``dest`` when it is set. ``(results, changed)``."""
    results = []
    changed = False
    for cmd in sorted(action.get("commands") or [], key=lambda c: c.get("index", 0)):
        command = cmd.get("command") or {}
        entry = {"index": cmd.get("index"), "type": command.get("type"), "command_status": cmd.get("commandStatus"),
                 "errors": cmd.get("errors") or []}
        if cmd.get("commandStatus") == "Completed" and command.get("type") == "RunScript":
            entry.update(_script_result(client, action, cmd["index"]))
        elif cmd.get("commandStatus") == "Completed" and command.get("type") == "GetFile" and dest:
            path = os.path.join(dest, "%s_%s" % (action["id"], result_file_name(command)))
            if not os.path.exists(path):
                ma.download(client.session, result_link(client, action["id"], cmd["index"]), path)
                changed = True
            entry["dest"] = path
        results.append(entry)
    return results, changed
