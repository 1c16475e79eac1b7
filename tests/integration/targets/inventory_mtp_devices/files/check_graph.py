"""Count the hosts of each group in `ansible-inventory --graph` output and compare with the fleet's counts.

Usage: check_graph.py GRAPH_FILE. The fleet is POST /_emulator/machines/generate {"count": 12000, "unnamed": 5}:
2,000 devices per OS and per health status, 2,400 per risk score, 3,000 per exposure level, 8,400 onboarded,
1,715 or 1,714 per machine group, tag VIP on every 3rd device and PCI on every 5th.
"""

import sys

EXPECTED = {
    "os_windows10": 2000, "os_windows11": 2000, "os_windowsserver2019": 2000, "os_windowsserver2022": 2000,
    "os_linux": 2000, "os_macos": 2000,
    "health_active": 2000, "health_inactive": 2000, "health_impairedcommunication": 2000,
    "health_nosensordata": 2000, "health_nosensordataimpairedcommunication": 2000, "health_unknown": 2000,
    "risk_none": 2400, "risk_informational": 2400, "risk_low": 2400, "risk_medium": 2400, "risk_high": 2400,
    "exposure_none": 3000, "exposure_low": 3000, "exposure_medium": 3000, "exposure_high": 3000,
    "onboarding_onboarded": 8400, "onboarding_canbeonboarded": 1200, "onboarding_unsupported": 1200,
    "onboarding_insufficientinfo": 1200,
    "group_finance": 1715, "group_engineering": 1715, "group_sales": 1714, "group_servers": 1714,
    "group_lab": 1714, "group_kiosks": 1714, "group_unassignedgroup": 1714,
    "tag_vip": 4000, "tag_pci": 2400,
}
UNNAMED = ["10.0.46.219", "10.0.46.220", "10.0.46.221", "10.0.46.222", "10.0.46.223"]


def parse(text):
    """``{group: set(hosts)}`` of a flat graph (every group a child of ``all``)."""
    groups, current = {}, None
    for line in text.splitlines():
        item = line.lstrip(" |-").rstrip()
        if not item:
            continue
        if item.startswith("@"):
            current = item[1:].rstrip(":")
            groups.setdefault(current, set())
        elif current is not None:
            groups[current].add(item)
    return groups


def main(path):
    with open(path) as handle:
        groups = parse(handle.read())
    hosts = set().union(*groups.values())
    problems = []
    if len(hosts) != 12000:
        problems.append("%d hosts, expected 12000" % len(hosts))
    for group, count in sorted(EXPECTED.items()):
        have = len(groups.get(group, ()))
        if have != count:
            problems.append("%s has %d hosts, expected %d" % (group, have, count))
    extra = sorted(set(groups) - set(EXPECTED) - {"all", "ungrouped"})
    if extra:
        problems.append("unexpected groups: %s" % ", ".join(extra))
    if groups.get("ungrouped"):
        problems.append("%d hosts in no group" % len(groups["ungrouped"]))
    missing = [ip for ip in UNNAMED if ip not in hosts]
    if missing:
        problems.append("devices without a DNS name not named by their IP: %s" % ", ".join(missing))
    if "dev-000000.contoso.local" not in groups.get("os_windows10", ()):
        problems.append("dev-000000.contoso.local is not in os_windows10")
    for problem in problems:
        print("FAIL: " + problem)
    counts = ", ".join("%s=%d" % (g, len(groups[g])) for g in sorted(EXPECTED) if g in groups)
    print("%d hosts in %d groups; %s" % (len(hosts), len(groups) - 2, counts))
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
