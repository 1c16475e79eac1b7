#!/usr/bin/env bash
# End to end: a real ansible-rulebook runs extensions/eda/rulebooks/mtp_incident_response.yml from a staged copy of
# the collection against the emulator; an incident created through the control plane must come back tagged and
# commented by playbooks/eda_remediate_incident.yml, exactly once.
#   tools/run_rulebook_e2e.sh [VENV]     (default .venv-eda; built by tools/make_eda_venv.sh when missing)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
venv=${1:-$root/.venv-eda}
[ -x "$venv/bin/ansible-rulebook" ] || bash "$root/tools/make_eda_venv.sh" "$venv"
venv=$(cd "$venv" && pwd)
started=$(date +%s)
work=$(mktemp -d /tmp/eda-e2e.XXXXXX)
rulebook_pid=
cleanup() {
  [ -n "$rulebook_pid" ] && kill -TERM "$rulebook_pid" 2>/dev/null && wait "$rulebook_pid" 2>/dev/null || true
  bash "$root/tools/emulator_ctl.sh" stop "$work/emu" || true
  [ -n "${KEEP_E2E:-}" ] || rm -rf "$work"
}
trap cleanup EXIT

bash "$root/tools/stage_collection.sh" "$work/colls" >/dev/null
bash "$root/tools/emulator_ctl.sh" start "$venv" "$work/emu"
py="$venv/bin/python"
# The emulator side (standard library only): quotas | env | create TITLE | wait-tagged ID TAG SECONDS
cat >"$work/emu.py" <<'PY'
import json
import shlex
import ssl
import sys
import time
import urllib.parse
import urllib.request


def main(argv):
    with open(argv[1]) as handle:
        ep = json.load(handle)
    tenant = ep["tenants"][0]
    ctx = ssl.create_default_context(cafile=ep["ca_path"])

    def call(url, method="GET", body=None, headers=None, form=None):
        data = json.dumps(body).encode() if body is not None else urllib.parse.urlencode(form).encode() if form else None
        heads = dict(headers or {}, **({"Content-Type": "application/json"} if body is not None else {}))
        with urllib.request.urlopen(urllib.request.Request(url, data=data, method=method, headers=heads), context=ctx,
                                    timeout=30) as answer:
            return json.loads(answer.read() or b"null")

    command = argv[2]
    if command == "quotas":
        call(ep["control_url"] + "/config", "PATCH", {"quota_scale": 100})
    elif command == "env":
        values = {"AZURE_TENANT_ID": tenant["id"], "AZURE_CLIENT_ID": tenant["hunting_app"]["client_id"],
                  "AZURE_CLIENT_SECRET": tenant["hunting_app"]["client_secret"],
                  "AZURE_AUTHORITY_HOST": ep["authority_host"], "MTP_GRAPH_URL": ep["graph_url"],
                  "MTP_API_URL": ep["api_url"], "MTP_MDE_URL": ep["mde_url"], "MTP_CA_PATH": ep["ca_path"]}
        print("\n".join("export %s=%s" % (k, shlex.quote(v)) for k, v in values.items()))
    elif command == "create":
        print(call(ep["control_url"] + "/incidents", "POST", {"title": argv[3], "severity": "high"})["id"])
    elif command == "wait-tagged":
        incident_id, tag, deadline = argv[3], argv[4], time.time() + float(argv[5])
        token = call("%s/%s/oauth2/v2.0/token" % (ep["authority_host"], tenant["id"]), "POST", form={
            "grant_type": "client_credentials", "client_id": tenant["hunting_app"]["client_id"],
            "client_secret": tenant["hunting_app"]["client_secret"],
            "scope": "https://graph.microsoft.com/.default"})["access_token"]
        while time.time() < deadline:
            incident = call("%s/v1.0/security/incidents/%s" % (ep["graph_url"], incident_id),
                            headers={"Authorization": "Bearer " + token})
            comments = [c for c in incident.get("comments") or [] if "Event-Driven Ansible" in (c.get("comment") or "")]
            if tag in (incident.get("customTags") or []) and comments:  # the module PATCHes the tag, then comments
                print("incident %s: customTags %s, %d playbook comment(s)" % (incident_id, incident["customTags"], len(comments)))
                return 0 if len(comments) == 1 else 1
            time.sleep(1)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
PY
emu() { "$py" "$work/emu.py" "$work/emu/endpoints.json" "$@"; }
emu quotas
eval "$(emu env)"   # AZURE_TENANT_ID, AZURE_CLIENT_ID, AZURE_CLIENT_SECRET, AZURE_AUTHORITY_HOST, MTP_*_URL, MTP_CA_PATH
export MTP_TOKEN_CACHE=false ANSIBLE_COLLECTIONS_PATH="$work/colls" HOME="$work" ANSIBLE_LOCAL_TEMP="$work/tmp"
cat >"$work/vars.yml" <<VARS
eda_checkpoint_file: $work/checkpoint.json
eda_poll_interval: 1
eda_severity: high
eda_remediate_tag: eda-e2e
VARS
printf 'all:\n  hosts:\n    localhost:\n      ansible_connection: local\n      ansible_python_interpreter: %s\n' "$py" >"$work/inventory.yml"

PATH="$venv/bin:$PATH" ansible-rulebook -r m365.defender.mtp_incident_response -i "$work/inventory.yml" \
    -e "$work/vars.yml" --print-events -v >"$work/rulebook.log" 2>&1 &
rulebook_pid=$!
for _ in $(seq 1 120); do
  grep -q "mtp_incidents: starting" "$work/rulebook.log" && break
  kill -0 "$rulebook_pid" 2>/dev/null || { cat "$work/rulebook.log"; echo "ansible-rulebook exited early" >&2; exit 1; }
  sleep 0.5
done
grep -q "mtp_incidents: starting" "$work/rulebook.log" || { cat "$work/rulebook.log"; echo "the source did not start" >&2; exit 1; }
incident=$(emu create "EDA end-to-end incident")
echo "created incident $incident through the control plane"
if ! emu wait-tagged "$incident" eda-e2e 180; then
  cat "$work/rulebook.log"; echo "the remediation playbook did not tag incident $incident" >&2; exit 1
fi
sleep 3  # a repeated event would run the playbook again within a poll or two
emu wait-tagged "$incident" eda-e2e 10 >/dev/null || { echo "incident $incident: not exactly one playbook comment" >&2; exit 1; }
runs=$(grep -c "PLAY \[Remediate a Microsoft Defender XDR incident\]" "$work/rulebook.log" || true)
if [ "$runs" != 1 ]; then
  cat "$work/rulebook.log"; echo "the remediation playbook ran $runs times, expected 1" >&2; exit 1
fi
echo "rulebook end to end: incident $incident tagged and commented by one playbook run in $(( $(date +%s) - started )) s"
