# -*- coding: utf-8 -*-
# Copyright (c) m365.defender contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The mtp_devices inventory: host names, built-in keyed group names, host variables and the file check."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import pytest

from ansible import constants as C
from ansible.errors import AnsibleParserError
from ansible.inventory.data import InventoryData
from ansible.parsing.dataloader import DataLoader

from ansible_collections.m365.defender.plugins.inventory import mtp_devices

try:  # ansible-core 2.19+: only trusted strings are templates (an inventory file's are)
    from ansible.template import trust_as_template
except ImportError:  # older cores template every string
    def trust_as_template(value):
        return value
from ansible_collections.m365.defender.plugins.inventory.mtp_devices import InventoryModule

NAME = "m365.defender.mtp_devices"
SEVEN = ["os_platform", "health_status", "risk_score", "exposure_level", "onboarding_status", "rbac_group_name",
         "machine_tags"]
# The options populate() reads, as the plugin's DOCUMENTATION (and the constructed fragment) declare them.
DEFS = {
    "hostnames": {"type": "list", "default": ["computer_dns_name", "last_ip_address", "id"]},
    "prefix": {"type": "str", "default": "mtp_"},
    "group_by": {"type": "list", "default": SEVEN},
    "compose": {"type": "dict", "default": {}},
    "groups": {"type": "dict", "default": {}},
    "keyed_groups": {"type": "list", "default": []},
    "strict": {"type": "bool", "default": False},
    "leading_separator": {"type": "bool", "default": True},
    "use_extra_vars": {"type": "bool", "default": False},
    "filter": {"type": "str"},
    "client_secret": {"type": "str", "vars": [{"name": "mtp_client_secret"}]},
}

MACHINE = {
    "id": "1e2d3c4b5a69788796a5b4c3d2e1f00112233445", "computerDnsName": "ws-fin-07.contoso.local",
    "osPlatform": "Windows11", "healthStatus": "Active", "riskScore": "High", "exposureLevel": "Medium",
    "onboardingStatus": "onboarded", "rbacGroupId": 140, "rbacGroupName": "Finance Dept",
    "lastIpAddress": "10.1.2.3", "lastExternalIpAddress": "20.1.2.3", "isAadJoined": True,
    "aadDeviceId": "80fe8ff8-0000-0000-0000-000000000001", "machineTags": ["VIP", "Test Lab"],
    "ipAddresses": [{"ipAddress": "10.1.2.3", "macAddress": "001122334455", "operationalStatus": "Up"}],
}


def test_machine_vars_are_snake_case():
    out = mtp_devices.machine_vars(dict(MACHINE, **{"@odata.context": "https://x/api/$metadata#Machines"}))
    assert out == {
        "id": "1e2d3c4b5a69788796a5b4c3d2e1f00112233445", "computer_dns_name": "ws-fin-07.contoso.local",
        "os_platform": "Windows11", "health_status": "Active", "risk_score": "High", "exposure_level": "Medium",
        "onboarding_status": "onboarded", "rbac_group_id": 140, "rbac_group_name": "Finance Dept",
        "last_ip_address": "10.1.2.3", "last_external_ip_address": "20.1.2.3", "is_aad_joined": True,
        "aad_device_id": "80fe8ff8-0000-0000-0000-000000000001", "machine_tags": ["VIP", "Test Lab"],
        "ip_addresses": [{"ip_address": "10.1.2.3", "mac_address": "001122334455", "operational_status": "Up"}],
    }


def test_device_info_row_takes_the_machine_names():
    row = {"Timestamp": "2026-11-30T10:00:00Z", "DeviceId": "ab" * 20, "DeviceName": "lnx-web-01.contoso.local",
           "OSPlatform": "Linux", "OSBuild": 5, "PublicIP": "20.0.0.9", "MachineGroup": "Web",
           "SensorHealthState": "Inactive", "ExposureLevel": "High", "OnboardingStatus": "Onboarded",
           "IsAzureADJoined": False, "DeviceManualTags": '["Prod"]', "DeviceDynamicTags": '["Internet facing"]',
           "DeviceType": "Server", "ClientVersion": "10.8760"}
    assert mtp_devices.device_info_vars(row) == {
        "last_seen": "2026-11-30T10:00:00Z", "id": "ab" * 20, "computer_dns_name": "lnx-web-01.contoso.local",
        "os_platform": "Linux", "os_build": 5, "last_external_ip_address": "20.0.0.9", "rbac_group_name": "Web",
        "health_status": "Inactive", "exposure_level": "High", "onboarding_status": "Onboarded",
        "is_aad_joined": False, "device_type": "Server", "client_version": "10.8760",
        "machine_tags": ["Prod", "Internet facing"],
    }


def test_device_info_bad_tag_json_gives_no_tags():
    assert mtp_devices.device_info_vars({"DeviceId": "x", "DeviceManualTags": "[not json"})["machine_tags"] == []


def test_incident_device_vars():
    device = {"device_id": "cd" * 20, "device_name": "ws-01", "os_platform": "Windows10", "alert_ids": ["a1"]}
    assert mtp_devices.incident_device_vars(device) == {
        "id": "cd" * 20, "computer_dns_name": "ws-01", "os_platform": "Windows10", "alert_ids": ["a1"],
        "machine_tags": []}


@pytest.mark.parametrize("device, expected", [
    ({"id": "aa", "computer_dns_name": "ws-1.contoso.local", "last_ip_address": "10.0.0.1"},
     ["ws-1.contoso.local", "10.0.0.1", "aa"]),
    ({"id": "aa", "computer_dns_name": None, "last_ip_address": "10.0.0.1"}, ["10.0.0.1", "aa"]),
    ({"id": "aa", "computer_dns_name": "", "last_ip_address": None}, ["aa"]),
])
def test_hostname_preference_default(device, expected):
    assert mtp_devices.hostname_candidates(device, ["computer_dns_name", "last_ip_address", "id"]) == expected


def test_short_name_and_custom_order():
    device = {"id": "aa", "computer_dns_name": "ws-1.contoso.local", "last_ip_address": "10.0.0.1"}
    assert mtp_devices.hostname_candidates(device, ["short_name", "computer_dns_name"]) == [
        "ws-1", "ws-1.contoso.local", "aa"]
    assert mtp_devices.hostname_candidates(device, ["last_ip_address"]) == ["10.0.0.1", "aa"]


def test_duplicate_names_fall_through_and_never_collapse():
    taken = set()
    first = {"id": "aa", "computer_dns_name": "ws-1", "last_ip_address": "10.0.0.1"}
    twin = {"id": "bb", "computer_dns_name": "ws-1", "last_ip_address": "10.0.0.2"}
    triplet = {"id": "cc", "computer_dns_name": "ws-1", "last_ip_address": "10.0.0.2"}
    prefs = ["computer_dns_name", "last_ip_address", "id"]
    assert mtp_devices.pick_hostname(first, prefs, taken) == ("ws-1", False)
    assert mtp_devices.pick_hostname(twin, prefs, taken) == ("10.0.0.2", True)
    assert mtp_devices.pick_hostname(triplet, prefs, taken) == ("cc", True)
    assert taken == {"ws-1", "10.0.0.2", "cc"}


@pytest.mark.parametrize("entries, fragment", [
    (["computer_dns_name", "hostname"], "'hostname' is not one of"),
    (["DeviceName"], "'DeviceName' is not one of"),
    ([], "at least one"),
])
def test_bad_hostnames_entries(entries, fragment):
    with pytest.raises(AnsibleParserError) as err:
        mtp_devices.check_hostnames(entries)
    assert fragment in str(err.value)
    assert "hostnames" in str(err.value)


def test_keyed_group_names():
    device = mtp_devices.machine_vars(MACHINE)
    assert mtp_devices.keyed_group_names(device, SEVEN) == [
        "os_windows11", "health_active", "risk_high", "exposure_medium", "onboarding_onboarded",
        "group_finance_dept", "tag_vip", "tag_test_lab"]
    assert mtp_devices.keyed_group_names(device, ["risk_score"]) == ["risk_high"]
    assert mtp_devices.keyed_group_names({"risk_score": None, "machine_tags": []}, SEVEN) == []
    assert mtp_devices.keyed_group_names({"health_status": "NoSensorDataImpairedCommunication"},
                                         ["health_status"]) == ["health_nosensordataimpairedcommunication"]


def test_hunting_query_with_and_without_filter():
    assert mtp_devices.hunting_query(None) == "DeviceInfo | summarize arg_max(Timestamp, *) by DeviceId"
    assert mtp_devices.hunting_query('  OSPlatform == "Linux" ') == (
        "DeviceInfo | summarize arg_max(Timestamp, *) by DeviceId\n| where OSPlatform == \"Linux\"")


def test_merge_devices_by_id_fills_and_collects_incidents():
    merged = mtp_devices.merge_devices([
        {"id": "AA", "computer_dns_name": None, "incident_ids": ["1"]},
        {"id": "bb", "computer_dns_name": "ws-b", "incident_ids": ["1"]},
        {"id": "aa", "computer_dns_name": "ws-a", "incident_ids": ["2"]},
        {"id": None, "computer_dns_name": "no-id"},
    ])
    assert merged == [{"id": "AA", "computer_dns_name": "ws-a", "incident_ids": ["1", "2"]},
                      {"id": "bb", "computer_dns_name": "ws-b", "incident_ids": ["1"]}]


def test_merge_extra_keeps_first_row_and_column_names():
    devices = [{"id": "aa"}, {"id": "bb"}]
    repeats = mtp_devices.merge_extra(devices, [{"DeviceId": "AA", "IPs": ["10.0.0.1"], "LoggedOn": "alice"},
                                                {"DeviceId": "aa", "IPs": ["10.9.9.9"], "LoggedOn": "bob"},
                                                {"DeviceId": "zz", "IPs": []}])
    assert repeats == 1
    assert devices == [{"id": "aa", "extra": {"IPs": ["10.0.0.1"], "LoggedOn": "alice"}}, {"id": "bb"}]


def test_merge_extra_needs_device_id():
    with pytest.raises(AnsibleParserError) as err:
        mtp_devices.merge_extra([{"id": "aa"}], [{"DeviceName": "ws"}])
    assert "extra_query must return a DeviceId column" in str(err.value)


@pytest.mark.parametrize("path, ok", [
    ("contoso.mtp_devices.yml", True), ("mtp_devices.yaml", True), ("prod-mtp_devices.yml", True),
    ("contoso.yml", False), ("mtp_devices.json", False), ("mtp_devices.yml.bak", False),
])
def test_verify_file_suffixes(tmp_path, path, ok):
    target = tmp_path / path
    target.write_text("plugin: m365.defender.mtp_devices\n")
    assert InventoryModule().verify_file(str(target)) is ok


@pytest.fixture
def plugin():
    C.config.initialize_plugin_configuration_definitions("inventory", NAME, DEFS)
    module = InventoryModule()
    module._load_name = NAME
    module.inventory = InventoryData()
    module.loader = DataLoader()
    module._vars = {}
    return module


def test_populate_hosts_vars_and_groups(plugin):
    plugin.set_options(direct={"keyed_groups": [{"key": trust_as_template("mtp_rbac_group_id | string"), "prefix": "rbac"}],
                               "groups": {"risky": trust_as_template("mtp_risk_score == 'High'")},
                               "compose": {"ansible_host": trust_as_template("mtp_last_ip_address")},
                               "strict": True})
    second = dict(MACHINE, id="ff" * 20, computerDnsName=None, lastIpAddress="10.1.2.4", riskScore=None,
                  machineTags=[])
    plugin.populate([mtp_devices.machine_vars(MACHINE), mtp_devices.machine_vars(second)])
    inv = plugin.inventory
    assert sorted(inv.hosts) == ["10.1.2.4", "ws-fin-07.contoso.local"]
    first_vars = inv.get_host("ws-fin-07.contoso.local").get_vars()
    assert first_vars["mtp_os_platform"] == "Windows11"
    assert first_vars["mtp_machine_tags"] == ["VIP", "Test Lab"]
    assert first_vars["ansible_host"] == "10.1.2.3"
    assert sorted(h.name for h in inv.groups["os_windows11"].get_hosts()) == ["10.1.2.4", "ws-fin-07.contoso.local"]
    assert [h.name for h in inv.groups["risk_high"].get_hosts()] == ["ws-fin-07.contoso.local"]
    assert [h.name for h in inv.groups["tag_test_lab"].get_hosts()] == ["ws-fin-07.contoso.local"]
    assert [h.name for h in inv.groups["risky"].get_hosts()] == ["ws-fin-07.contoso.local"]
    assert len(inv.groups["rbac_140"].get_hosts()) == 2
    assert "risk_none" not in inv.groups


def test_populate_with_prefix_and_no_builtin_groups(plugin):
    plugin.set_options(direct={"prefix": "defender_", "group_by": [], "hostnames": ["id"]})
    plugin.populate([mtp_devices.machine_vars(MACHINE)])
    inv = plugin.inventory
    assert list(inv.hosts) == ["1e2d3c4b5a69788796a5b4c3d2e1f00112233445"]
    host_vars = inv.get_host("1e2d3c4b5a69788796a5b4c3d2e1f00112233445").get_vars()
    assert host_vars["defender_health_status"] == "Active"
    assert "mtp_health_status" not in host_vars
    assert sorted(inv.groups) == ["all", "ungrouped"]


def test_populate_extra_columns_keep_their_names(plugin):
    plugin.set_options(direct={})
    device = dict(mtp_devices.machine_vars(MACHINE), extra={"LoggedOnUser": "alice"})
    plugin.populate([device])
    host_vars = plugin.inventory.get_host("ws-fin-07.contoso.local").get_vars()
    assert host_vars["mtp_LoggedOnUser"] == "alice"
    assert "mtp_extra" not in host_vars


def test_credential_and_query_options_are_templates_rendered_with_extra_vars(plugin):
    plugin._vars = {"os": "Windows11", "mtp_client_secret": "s3cr3t-from-vault"}
    plugin.set_options(direct={"filter": trust_as_template("osPlatform eq '{{ os }}'"),
                               "compose": {"ansible_host": trust_as_template("mtp_last_ip_address")}},
                       var_options=plugin._vars)
    assert plugin.get_option("filter") == "osPlatform eq 'Windows11'"
    assert plugin.get_option("client_secret") == "s3cr3t-from-vault"
    # compose is a per-host template: it is left for Constructable
    assert plugin.get_option("compose") == {"ansible_host": "mtp_last_ip_address"}


def test_a_template_that_fails_names_the_option_not_the_value(plugin):
    plugin.set_options(direct={"client_secret": trust_as_template("{{ no_such_var }}-s3cr3t")})
    with pytest.raises(AnsibleParserError) as err:
        plugin.get_option("client_secret")
    assert "option client_secret is a template that cannot be rendered" in str(err.value)
    assert "s3cr3t" not in str(err.value)
