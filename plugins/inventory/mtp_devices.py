# -*- coding: utf-8 -*-
# Copyright (c) m365.defender contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
name: mtp_devices
short_description: Microsoft Defender for Endpoint devices as an Ansible inventory
version_added: 0.3.0
description:
  - Builds hosts from the devices of Microsoft Defender for Endpoint, from one of three sources (O(source)).
  - V(machines) (the default) reads the MDE machines API C(GET /api/machines), paged with C($top)/C($skip) by
    O(page_size) until a short page, so tenants with more than 10,000 devices are read whole.
  - V(hunting) runs an advanced hunting query that keeps the latest C(DeviceInfo) row of each device
    (C(summarize arg_max) of C(Timestamp) by C(DeviceId)).
  - V(incidents) takes the devices of the alerts of the incidents that O(incidents) and O(filter) select.
  - Each device is one host, named by the first usable entry of O(hostnames); two devices never collapse into
    one host (a name already taken falls through to the next entry, the device id last).
  - Host variables are the device's fields in snake_case with O(prefix) in front, such as C(mtp_os_platform),
    C(mtp_health_status), C(mtp_risk_score), C(mtp_exposure_level), C(mtp_onboarding_status),
    C(mtp_rbac_group_name) and C(mtp_machine_tags); O(compose), O(groups) and O(keyed_groups) build on them.
  - The inventory file name must end in C(mtp_devices.yml) or C(mtp_devices.yaml).
author:
  - m365.defender contributors (@m365-defender)
extends_documentation_fragment:
  - constructed
  - inventory_cache
  - m365.defender.auth.plugins
  - m365.defender.connection.plugins
options:
  plugin:
    description: The name of this plugin; it marks the file as an inventory source for it.
    type: str
    required: true
    choices: [m365.defender.mtp_devices]
  source:
    description:
      - Where the devices come from. V(machines) needs C(Machine.Read.All) (WindowsDefenderATP); V(hunting)
        C(ThreatHunting.Read.All) (Microsoft Graph) or C(AdvancedHunting.Read.All) with O(hunting_api=mtp);
        V(incidents) C(SecurityIncident.Read.All) (Graph) or C(Incident.Read.All) with O(incidents.api=mtp).
    type: str
    choices: [machines, hunting, incidents]
    default: machines
  filter:
    description:
      - Selects devices, in the language of the source. For O(source=machines) an OData C($filter) on
        C(/api/machines), such as V(healthStatus eq 'Active' and osPlatform eq 'Windows11') (fields
        C(computerDnsName), C(id), C(machineTags), C(lastSeen), C(exposureLevel), C(onboardingStatus),
        C(lastIpAddress), C(healthStatus), C(osPlatform), C(riskScore), C(rbacGroupId) and a few more).
      - For O(source=hunting) a KQL predicate on the latest C(DeviceInfo) row of each device, added as
        C(| where <filter>) after the C(summarize), such as V(OSPlatform startswith "Windows").
      - For O(source=incidents) an OData C($filter) on the incident list, ANDed with O(incidents).
      - May be a template (rendered with the extra variables).
    type: str
  page_size:
    description: The C($top) of each machines page (O(source=machines)); at most 10,000, the service's cap.
    type: int
    default: 10000
  hunting_api:
    description: The advanced hunting API of O(source=hunting) and O(extra_query); V(graph) or V(mtp).
    type: str
    choices: [graph, mtp]
    default: graph
  timespan:
    description:
      - The Graph C(Timespan) of the hunting queries (ISO-8601, such as V(P7D)); without it the service's own
        window (30 days) applies. O(hunting_api=graph) only.
    type: str
  extra_query:
    description:
      - A KQL query whose result has a C(DeviceId) column; every other column of a device's row becomes a host
        variable named O(prefix) plus the column name, unchanged (name columns with C(project)). A device
        with several rows takes its first. Rows of devices not in the inventory are ignored.
      - For example V(DeviceNetworkInfo | summarize arg_max(Timestamp, *\) by DeviceId | project DeviceId,
        ip_addresses = IPAddresses).
    type: str
  incidents:
    description: Which incidents give their devices, for O(source=incidents).
    type: dict
    default: {}
    suboptions:
      api:
        description: V(graph) (Microsoft Graph incidents) or V(mtp) (the Defender XDR incidents API).
        type: str
        choices: [graph, mtp]
        default: graph
      status:
        description: Incident statuses, any of (such as V(active), V(inProgress)).
        type: list
        elements: str
      severity:
        description: Severities, any of (such as V(high), V(medium)).
        type: list
        elements: str
      tags:
        description: Incident tags, any of.
        type: list
        elements: str
      assigned_to:
        description: The incident owner (UPN).
        type: str
      created_after:
        description: Only incidents created at or after this ISO-8601 time.
        type: str
      created_before:
        description: Only incidents created before this ISO-8601 time.
        type: str
      updated_since:
        description: Only incidents updated at or after this ISO-8601 time.
        type: str
      ids:
        description: Only these incident ids.
        type: list
        elements: str
  hostnames:
    description:
      - The host name of a device is the first entry of this list that has a value and is not yet the name of
        another device.
      - V(computer_dns_name) (C(computerDnsName), the hunting C(DeviceName)), V(short_name) (the DNS name up to
        its first dot), V(last_ip_address), V(last_external_ip_address) (the hunting C(PublicIP)),
        V(aad_device_id), V(id) (the device id, always unique; it is used when no entry gives a name).
    type: list
    elements: str
    default: [computer_dns_name, last_ip_address, id]
  prefix:
    description: Put in front of every host variable this plugin sets (not of the O(compose) ones).
    type: str
    default: mtp_
  group_by:
    description:
      - Built-in keyed groups, made without templating (fast for tens of thousands of devices), named
        C(<short>_<value>) in lower case with unsafe characters as C(_).
      - V(os_platform) gives C(os_windows11), V(health_status) C(health_active), V(risk_score) C(risk_high),
        V(exposure_level) C(exposure_medium), V(onboarding_status) C(onboarding_onboarded), V(rbac_group_name)
        C(group_finance) and V(machine_tags) one C(tag_<tag>) group per tag. A device without the value is in
        none of that field's groups.
      - Set V([]) to use only O(keyed_groups), which take any template but render it for every device.
    type: list
    elements: str
    choices: [os_platform, health_status, risk_score, exposure_level, onboarding_status, rbac_group_name,
              machine_tags]
    default: [os_platform, health_status, risk_score, exposure_level, onboarding_status, rbac_group_name,
              machine_tags]
notes:
  - Inventory plugins do not see play variables. Options come from the inventory file, the extra variables
    (C(-e), under the names given as C(vars) above, such as C(mtp_client_secret)), then the environment.
    The credential, endpoint and query options may be templates, such as
    V({{ lookup('ansible.builtin.env', 'MY_SECRET'\) }}) or a vaulted string.
  - Secrets never appear in the inventory, its cache or its messages. Enable the cache (O(cache=true)) to keep
    large tenants from being read on every run; the cached data are the device variables only.
  - Clients and tokens are cached for the life of the process together with the lookups of this collection.
seealso:
  - module: m365.defender.mtp_machine_action
  - plugin: m365.defender.mtp_hunting
    plugin_type: lookup
  - name: List machines API
    description: The Microsoft Defender for Endpoint machines API.
    link: https://learn.microsoft.com/defender-endpoint/api/get-machines
"""

EXAMPLES = r"""
# contoso.mtp_devices.yml: every device, grouped by the fields analysts slice by. The secret comes from
# AZURE_CLIENT_SECRET (or -e mtp_client_secret=... from a vaulted vars file).
plugin: m365.defender.mtp_devices
tenant_id: 6f1d2c3b-0a4e-4c5d-9e8f-1a2b3c4d5e6f
client_id: 3c2b1a09-8f7e-4d6c-b5a4-938271605f4e
keyed_groups:
  - key: mtp_os_platform | lower          # os_windows11, os_linux, ...
    prefix: os
  - key: mtp_health_status | lower        # health_active, health_inactive, ...
    prefix: health
  - key: mtp_risk_score | lower           # risk_high, risk_none, ...
    prefix: risk
  - key: mtp_exposure_level | lower       # exposure_medium, ...
    prefix: exposure
  - key: mtp_onboarding_status | lower    # onboarding_onboarded, onboarding_canbeonboarded, ...
    prefix: onboarding
  - key: mtp_rbac_group_name | lower      # group_finance, ...
    prefix: group
  - key: mtp_machine_tags | map('lower') | list   # tag_vip, tag_pci, ...
    prefix: tag
compose:
  ansible_host: mtp_last_ip_address

---
# windows.mtp_devices.yml: active Windows 11 devices only, cached for an hour, named by IP first
plugin: m365.defender.mtp_devices
filter: "osPlatform eq 'Windows11' and healthStatus eq 'Active'"
hostnames: [last_ip_address, id]
cache: true
cache_plugin: ansible.builtin.jsonfile
cache_connection: ~/.cache/mtp_devices
cache_timeout: 3600
groups:
  risky: mtp_risk_score in ['High', 'Medium']

---
# hunting.mtp_devices.yml: the latest DeviceInfo row per device, plus the IPs from DeviceNetworkInfo
plugin: m365.defender.mtp_devices
source: hunting
filter: 'OSPlatform startswith "Windows" and SensorHealthState == "Active"'
extra_query: >-
  DeviceNetworkInfo | summarize arg_max(Timestamp, *) by DeviceId | project DeviceId, ip_addresses = IPAddresses
client_secret: "{{ lookup('ansible.builtin.env', 'SOC_APP_SECRET') }}"

---
# incidents.mtp_devices.yml: the devices of active high-severity incidents
plugin: m365.defender.mtp_devices
source: incidents
incidents:
  status: [active]
  severity: [high]
keyed_groups:
  - key: mtp_incident_ids
    prefix: incident
"""

from ansible.errors import AnsibleParserError
from ansible.module_utils.common.dict_transformations import camel_dict_to_snake_dict

from ansible_collections.m365.defender.plugins.plugin_utils._inventory_base import MtpInventoryBase, display

HOSTNAME_FIELDS = ("computer_dns_name", "short_name", "last_ip_address", "last_external_ip_address",
                   "aad_device_id", "id")
DEVICE_INFO_QUERY = "DeviceInfo | summarize arg_max(Timestamp, *) by DeviceId"
PAGE_MAX = 10000
# group_by field -> the group name prefix
GROUP_BY = (("os_platform", "os"), ("health_status", "health"), ("risk_score", "risk"), ("exposure_level", "exposure"),
            ("onboarding_status", "onboarding"), ("rbac_group_name", "group"), ("machine_tags", "tag"))
INCIDENT_KEYS = ("api", "status", "severity", "tags", "assigned_to", "created_after", "created_before",
                 "updated_since", "ids")
# DeviceInfo column -> the machine field it stands for (docs/developer/reference/defender-api.md §8.2,
# docs/developer/reference/response-and-content.md §1.4)
DEVICE_INFO_FIELDS = {
    "DeviceId": "id", "DeviceName": "computer_dns_name", "Timestamp": "last_seen", "OSPlatform": "os_platform",
    "OSVersion": "version", "OSBuild": "os_build", "OSArchitecture": "os_architecture",
    "OnboardingStatus": "onboarding_status", "PublicIP": "last_external_ip_address",
    "MachineGroup": "rbac_group_name", "ExposureLevel": "exposure_level", "SensorHealthState": "health_status",
    "AssetValue": "device_value", "AadDeviceId": "aad_device_id", "IsAzureADJoined": "is_aad_joined",
}


# ---------------------------------------------------------------------------------------------------------------
# Pure helpers: device fields -> host variables and host names
# ---------------------------------------------------------------------------------------------------------------

_SNAKE = {}


def snake_name(name):
    """``computerDnsName`` -> ``computer_dns_name``, ``OSPlatform`` -> ``os_platform`` (remembered per name)."""
    if name not in _SNAKE:
        _SNAKE[name] = next(iter(camel_dict_to_snake_dict({name: None})))
    return _SNAKE[name]


def snake_keys(value):
    """``value`` with the keys of every dict in it in snake_case (lists and nested dicts too)."""
    if isinstance(value, dict):
        return dict((snake_name(k), snake_keys(v)) for k, v in value.items())
    if isinstance(value, list):
        return [snake_keys(v) for v in value]
    return value


def machine_vars(machine):
    """An MDE machine (§1.4 of docs/developer/reference/response-and-content.md) in snake_case."""
    out = snake_keys(dict((k, v) for k, v in machine.items() if not k.startswith("@")))
    out["machine_tags"] = list(machine.get("machineTags") or [])
    return out


def _plain(value):
    """A cell as plain JSON data (the inventory cache stores JSON): dates and times as ISO-8601 text."""
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return value


def _json_list(value):
    import json

    if isinstance(value, list):
        return value
    if isinstance(value, str) and value.strip().startswith("["):
        try:
            parsed = json.loads(value)
        except ValueError:
            return []
        return parsed if isinstance(parsed, list) else []
    return []


def device_info_vars(row):
    """A ``DeviceInfo`` row in the machine shape: the columns of ``DEVICE_INFO_FIELDS`` under the machine
    field names, the others in snake_case; ``machine_tags`` from the manual and dynamic tags."""
    out = {}
    for column, value in row.items():
        if column in DEVICE_INFO_FIELDS:
            out[DEVICE_INFO_FIELDS[column]] = value
        elif column not in ("DeviceManualTags", "DeviceDynamicTags"):
            out[snake_name(column)] = value
    tags = _json_list(row.get("DeviceManualTags")) + _json_list(row.get("DeviceDynamicTags"))
    out["machine_tags"] = [t for t in tags if isinstance(t, str)]
    return dict((key, _plain(value)) for key, value in out.items())


def incident_device_vars(device):
    """A device of an incident's alerts (``_incidents.incident_devices``) in the machine shape."""
    out = dict((key, value) for key, value in device.items() if key not in ("device_id", "device_name"))
    out["id"] = device.get("device_id")
    out["computer_dns_name"] = device.get("device_name")
    out.setdefault("machine_tags", [])
    return out


def check_hostnames(entries):
    """Fail on an empty list or an entry that is not one of ``HOSTNAME_FIELDS``."""
    if not entries:
        raise AnsibleParserError("mtp_devices: hostnames must name at least one of %s" % ", ".join(HOSTNAME_FIELDS))
    for entry in entries:
        if entry not in HOSTNAME_FIELDS:
            raise AnsibleParserError("mtp_devices: hostnames entry %r is not one of %s"
                                     % (entry, ", ".join(HOSTNAME_FIELDS)))


def hostname_candidates(device, preference):
    """The names ``preference`` gives a device, in order, without empty ones; the device id last."""
    out = []
    for entry in list(preference) + ["id"]:
        if entry == "short_name":
            value = str(device.get("computer_dns_name") or "").split(".", 1)[0]
        else:
            value = device.get(entry)
        if value and str(value) not in out:
            out.append(str(value))
    return out


def pick_hostname(device, preference, taken):
    """``(name, collided)``: the first candidate not in ``taken`` (a set, updated); ``collided`` when a
    candidate was passed over because another device has that name."""
    collided = False
    for name in hostname_candidates(device, preference):
        if name not in taken:
            taken.add(name)
            return name, collided
        collided = True
    raise AnsibleParserError("mtp_devices: two devices have the same id %r" % (device.get("id"),))


def keyed_group_names(device, fields):
    """The built-in keyed groups (``group_by``) of a device: ``<short>_<value>`` in lower case, made safe."""
    from ansible.inventory.group import to_safe_group_name

    shorts = dict(GROUP_BY)
    names = []
    for field in fields:
        value = device.get(field)
        values = value if isinstance(value, list) else [value]
        for item in values:
            if item is None or str(item).strip() == "":
                continue
            name = to_safe_group_name("%s_%s" % (shorts[field], str(item).strip().lower()), force=True, silent=True)
            if name not in names:
                names.append(name)
    return names


def prefixed(variables, prefix):
    return dict((prefix + key, value) for key, value in variables.items())


def hunting_query(kql_filter):
    """The query of ``source: hunting``: the latest ``DeviceInfo`` row of each device, then ``kql_filter``."""
    if kql_filter and kql_filter.strip():
        return "%s\n| where %s" % (DEVICE_INFO_QUERY, kql_filter.strip())
    return DEVICE_INFO_QUERY


def merge_devices(devices):
    """Devices by lower-cased id, in first-seen order; a later entry fills the fields an earlier one lacks and
    adds its ``incident_ids``."""
    merged = {}
    for device in devices:
        key = str(device.get("id") or "").lower()
        if not key:
            continue
        held = merged.get(key)
        if held is None:
            merged[key] = dict(device)
            continue
        for field, value in device.items():
            if held.get(field) is None and value is not None:
                held[field] = value
        for incident_id in device.get("incident_ids") or []:
            if incident_id not in held.setdefault("incident_ids", []):
                held["incident_ids"].append(incident_id)
    return list(merged.values())


def merge_extra(devices, rows):
    """Add the columns of ``rows`` (keyed by ``DeviceId``) to ``devices`` under ``extra``; the count of rows
    past the first of their device is returned."""
    by_id = dict((str(d.get("id") or "").lower(), d) for d in devices)
    seen = set()
    repeats = 0
    for row in rows:
        if not isinstance(row, dict) or "DeviceId" not in row:
            raise AnsibleParserError("mtp_devices: extra_query must return a DeviceId column (end it with "
                                     "'| project DeviceId, ...')")
        key = str(row.get("DeviceId") or "").lower()
        if key in seen:
            repeats += 1
            continue
        seen.add(key)
        if key in by_id:
            by_id[key]["extra"] = dict((k, v) for k, v in row.items() if k != "DeviceId")
    return repeats


# ---------------------------------------------------------------------------------------------------------------
# The plugin
# ---------------------------------------------------------------------------------------------------------------

class InventoryModule(MtpInventoryBase):

    NAME = "m365.defender.mtp_devices"
    INVENTORY_FILE_SUFFIXES = ("mtp_devices.yml", "mtp_devices.yaml")

    def parse(self, inventory, loader, path, cache=True):
        super(InventoryModule, self).parse(inventory, loader, path, cache=cache)
        self._read_config_data(path)
        check_hostnames(self.get_option("hostnames"))
        page_size = self.get_option("page_size")
        if not 1 <= page_size <= PAGE_MAX:
            raise AnsibleParserError("mtp_devices: page_size must be from 1 to %d, got %d" % (PAGE_MAX, page_size))
        hit, devices = self.get_cached_result(path, cache)
        if not hit:
            with self.mtp_errors():
                devices = self.read_devices()
        self.update_cached_result(path, cache, devices)
        self.populate(devices)

    # --- reading ---------------------------------------------------------------------------------------------

    def read_devices(self):
        """The device dicts (machine field names, snake_case) of the configured source, with ``extra``."""
        client = self.mtp_client()
        source = self.get_option("source")
        if source == "machines":
            devices = self._read_machines(client)
        elif source == "hunting":
            devices = [device_info_vars(row) for row in self._hunt(client, hunting_query(self.get_option("filter")))]
        else:
            devices = self._read_incident_devices(client)
        devices = merge_devices(devices)
        if self.get_option("extra_query"):
            repeats = merge_extra(devices, self._hunt(client, self.get_option("extra_query")))
            if repeats:
                display.warning("mtp_devices: extra_query returned %d more rows for devices it already gave a row; "
                                "the first row of each device was used" % repeats)
        return devices

    def _read_machines(self, client):
        from ansible_collections.m365.defender.plugins.module_utils._machines import MAX_PAGES, list_machines

        machines, complete = list_machines(client, odata_filter=self.get_option("filter"),
                                           page_size=self.get_option("page_size"))
        if not complete:
            display.warning("mtp_devices: the machine list stopped at its page guard (%d pages of %d); devices past "
                            "it are missing: narrow it with filter" % (MAX_PAGES, self.get_option("page_size")))
        return [machine_vars(m) for m in machines]

    def _hunt(self, client, query):
        from ansible_collections.m365.defender.plugins.module_utils._hunting import ROW_CAP, Hunt

        result = Hunt(api=self.get_option("hunting_api"), query=query, timespan=self.get_option("timespan")).run(client)
        if result.get("row_cap_reached"):
            display.warning("mtp_devices: a hunting query returned %d rows, the service's row cap; devices are "
                            "probably missing: narrow it with filter" % ROW_CAP)
        return result.get("results") or []

    def _read_incident_devices(self, client):
        from ansible_collections.m365.defender.plugins.module_utils import _incidents

        spec = dict(self.get_option("incidents") or {})
        unknown = sorted(set(spec) - set(INCIDENT_KEYS))
        if unknown:
            raise AnsibleParserError("mtp_devices: incidents has unknown keys %s; known: %s"
                                     % (", ".join(unknown), ", ".join(INCIDENT_KEYS)))
        ids = set(str(i) for i in spec.pop("ids", None) or [])
        query = _incidents.IncidentQuery(api=spec.pop("api", None) or "graph", odata_filter=self.get_option("filter"),
                                         include_alerts=True, warn=display.warning,
                                         **dict((k, v) for k, v in spec.items() if v is not None))
        devices = []
        for page in _incidents.iter_pages(client, query):
            for incident in page:
                if ids and str(incident.get("id")) not in ids:
                    continue
                for device in _incidents.incident_devices(incident):
                    entry = incident_device_vars(device)
                    entry["incident_ids"] = [str(incident.get("id"))]
                    devices.append(entry)
        return devices

    # --- building the inventory -------------------------------------------------------------------------------

    def populate(self, devices):
        """One host per device; its variables with ``prefix``; then compose, groups and keyed_groups."""
        preference = self.get_option("hostnames")
        prefix = self.get_option("prefix") or ""
        strict = self.get_option("strict")
        group_by = self.get_option("group_by") or []
        taken = set()
        fell_through = 0
        for device in devices:
            name, collided = pick_hostname(device, preference, taken)
            fell_through += 1 if collided else 0
            host = self.inventory.add_host(name)
            extra = device.get("extra") or {}
            variables = prefixed(dict((k, v) for k, v in device.items() if k != "extra"), prefix)
            variables.update(prefixed(extra, prefix))
            for key, value in variables.items():
                self.inventory.set_variable(host, key, value)
            for group in keyed_group_names(device, group_by):
                self.inventory.add_child(self.inventory.add_group(group), host)
            self._construct(host, variables, strict)
        if fell_through:
            display.warning("mtp_devices: %d devices were named by a later hostnames entry because another device "
                            "already had their name" % fell_through)

    def _construct(self, host, variables, strict):
        """compose, then groups and keyed_groups on the host's variables (read once, not per entry)."""
        compose, groups, keyed = self.get_option("compose"), self.get_option("groups"), self.get_option("keyed_groups")
        if compose:
            self._set_composite_vars(compose, variables, host, strict=strict)
            variables = self.inventory.get_host(host).get_vars()
        if groups:
            self._add_host_to_composed_groups(groups, variables, host, strict=strict, fetch_hostvars=False)
        if keyed:
            self._add_host_to_keyed_groups(keyed, variables, host, strict=strict, fetch_hostvars=False)
