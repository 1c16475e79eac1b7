#!/usr/bin/env bash
# The mtp_devices inventory against the emulator: a fleet of 12,000 devices (past the 10,000-device page) in
# ansible-inventory --graph and in a play on one keyed group; filters, Constructable options, the cache, the
# hunting source, the secret at -vvvv, and bad inputs (clear message, no traceback).
set -eu
# ansible-test passes script targets no -e @integration_config.yml (only role targets get it as vars_files):
# it sits two levels up, in tests/integration of the copy ansible-test runs from.
config="$(cd ../.. && pwd)/integration_config.yml"
if [ -f "$config" ]; then set -- -e "@$config" "$@"; fi
work=$(mktemp -d)
chmod 0700 "$work"
cleanup() {
  ansible-playbook cleanup.yml "$@" >/dev/null || true
  rm -rf "$work"
}
trap 'cleanup "$@"' EXIT
export ANSIBLE_INVENTORY_ANY_UNPARSED_IS_FAILED=true
ansible-playbook setup.yml -e "work=$work" "$@"
creds=(-e "@$work/creds.yml")
secret=$(sed -n 's/^mtp_client_secret: //p' "$work/creds.yml")
fail() { echo "FAIL: $*" >&2; exit 1; }

echo "== the fleet: --graph counts every device in its keyed groups"
ansible-inventory -i "$work/fleet.mtp_devices.yml" "${creds[@]}" --graph >"$work/graph.txt"
python files/check_graph.py "$work/graph.txt"

echo "== a play on os_windows10"
ansible-playbook -i "$work/fleet.mtp_devices.yml" "${creds[@]}" windows10.yml

echo "== an OData filter, short names, keyed_groups/groups/compose, and the cache"
# --export: the inventory's own variables, without the extra variables (which hold the secret)
ansible-inventory -i "$work/small.mtp_devices.yml" "${creds[@]}" --list --export >"$work/small.json"
python - "$work/small.json" <<'PY'
import json, sys
# API data are not templates: ansible-core 2.19+ marks them so in --list ({"__ansible_unsafe": "..."})
plain = lambda d: d.get("__ansible_unsafe", d) if isinstance(d, dict) else d
inv = json.load(open(sys.argv[1]), object_hook=plain)
hostvars = inv["_meta"]["hostvars"]
# WindowsServer2022 is k % 6 == 3, risk High is k % 5 == 4: k % 30 == 9, 400 of 12,000, all tagged VIP
assert len(hostvars) == 400, len(hostvars)
assert "dev-000009" in hostvars and "dev-000009.contoso.local" not in hostvars, sorted(hostvars)[:3]
assert hostvars["dev-000009"]["ansible_host"] == "10.0.0.9"
assert hostvars["dev-000009"]["mtp_computer_dns_name"] == "dev-000009.contoso.local"
assert set(v["mtp_os_platform"] for v in hostvars.values()) == {"WindowsServer2022"}
assert len(inv["os_windowsserver2022"]["hosts"]) == 400
assert len(inv["tag_vip"]["hosts"]) == 400 and "tag_pci" not in inv
assert len(inv["at_risk"]["hosts"]) == 200  # exposure k % 4 is 1 (Low) or 3 (High) for k % 30 == 9
assert sorted(g for g in inv if g.startswith("rbac_")) == ["rbac_Engineering", "rbac_Finance", "rbac_Kiosks",
                                                            "rbac_Lab", "rbac_Sales", "rbac_Servers",
                                                            "rbac_UnassignedGroup"]
assert "os_windows10" not in inv
print("small inventory: %d hosts" % len(hostvars))
PY
ansible-playbook regenerate.yml -e fleet_size=30 "$@" >/dev/null
cached=$(ansible-inventory -i "$work/small.mtp_devices.yml" "${creds[@]}" --list --export | python -c \
  'import json,sys; print(len(json.load(sys.stdin)["_meta"]["hostvars"]))')
[ "$cached" = 400 ] || fail "the cached inventory has $cached hosts, expected 400"
flushed=$(ansible-inventory -i "$work/small.mtp_devices.yml" "${creds[@]}" --flush-cache --list --export | python -c \
  'import json,sys; print(sorted(json.load(sys.stdin)["_meta"]["hostvars"]))')
[ "$flushed" = "['dev-000009']" ] || fail "after --flush-cache: $flushed, expected ['dev-000009']"
grep -rqF -- "$secret" "$work/cache" && fail "the secret is in the inventory cache"

echo "== the hunting source with extra_query, at -vvvv: the secret never shows"
ansible-inventory -i "$work/hunting.mtp_devices.yml" "${creds[@]}" --list --export -vvvv >"$work/hunting.json" \
  2>"$work/hunting.err"
if grep -qF -- "$secret" "$work/hunting.json" "$work/hunting.err"; then fail "the client secret appears at -vvvv"; fi
sed -n '/^{/,$p' "$work/hunting.json" >"$work/hunting.only.json"
python - "$work/hunting.only.json" <<'PY'
import json, sys
plain = lambda d: d.get("__ansible_unsafe", d) if isinstance(d, dict) else d
inv = json.load(open(sys.argv[1]), object_hook=plain)
hostvars = inv["_meta"]["hostvars"]
assert hostvars, "no hosts"
assert set(v["mtp_os_platform"] for v in hostvars.values()) == {"Linux"}, hostvars
assert all(v["mtp_agent"] == "10.8760.22621.1" for v in hostvars.values())
assert all(len(v["mtp_id"]) == 40 for v in hostvars.values())
assert sorted(inv["os_linux"]["hosts"]) == sorted(hostvars)
print("hunting inventory: %d Linux hosts: %s" % (len(hostvars), ", ".join(sorted(hostvars))))
PY

echo "== the devices of the seeded high-severity incidents"
ansible-inventory -i "$work/incidents.mtp_devices.yml" "${creds[@]}" --list --export >"$work/incidents.json"
python - "$work/incidents.json" <<'PY'
import json, sys
plain = lambda d: d.get("__ansible_unsafe", d) if isinstance(d, dict) else d
inv = json.load(open(sys.argv[1]), object_hook=plain)
hostvars = inv["_meta"]["hostvars"]
assert sorted(hostvars) == ["srv-file-02.contoso.local", "ws-fin-07.contoso.local"], sorted(hostvars)
assert "1001" in hostvars["ws-fin-07.contoso.local"]["mtp_incident_ids"]
assert "ws-fin-07.contoso.local" in inv["incident_1001"]["hosts"]
assert inv["os_windows11"]["hosts"] == ["ws-fin-07.contoso.local"]
print("incidents inventory: %s" % ", ".join(sorted(hostvars)))
PY

echo "== bad inputs: a message naming the option / AADSTS code / permission, no traceback, no secret"
bad() {  # bad NAME EXPECTED-REGEX [EXTRA ARGS...]
  local rc=0 name="$1" want="$2"
  shift 2
  ansible-inventory -i "$work/$name.mtp_devices.yml" "${creds[@]}" "$@" --graph >"$work/$name.out" 2>&1 || rc=$?
  set -- "$name" "$want"
  [ "$rc" != 0 ] || fail "$1: ansible-inventory succeeded"
  grep -qE -- "$2" "$work/$1.out" || { cat "$work/$1.out"; fail "$1: no message matching $2"; }
  if grep -q "Traceback" "$work/$1.out"; then cat "$work/$1.out"; fail "$1: a traceback"; fi
  if grep -qF -- "$secret" "$work/$1.out"; then fail "$1: the secret is in the output"; fi
  echo "ok $1: $(grep -oE -- "$2" "$work/$1.out" | head -n 1)"
}
bad bad_no_secret "auth_method=client_secret: client_secret is required"
bad bad_source "Invalid value 'devices' for config 'source'"
bad bad_hostnames "hostnames entry 'fqdn' is not one of"
bad bad_kql "400 Bad Request from graph POST /v1.0/security/runHuntingQuery: BadRequest: Query could not be parsed"
bad bad_odata "Filtering on property 'noSuchField' is not supported"
bad bad_secret "AADSTS7000215"
admin_id=$(sed -n 's/^admin_client_id: //p' "$work/creds.yml")
admin_secret=$(sed -n 's/^admin_client_secret: //p' "$work/creds.yml")
# extra variables feed the options: the bootstrap app, which has no Defender for Endpoint role
bad bad_permission "403.*Machine\.Read\.All" -e "inv_client_id=$admin_id" -e "mtp_client_secret=$admin_secret"
bad bad_page_size "page_size must be from 1 to 10000"
bad bad_extra "extra_query must return a DeviceId column"
bad bad_template "the value of option filter is a template that cannot be rendered"
