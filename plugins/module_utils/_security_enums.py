# -*- coding: utf-8 -*-
# Copyright (c) m365.defender contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""FOR INTERNAL COLLECTION USE ONLY. One normalisation layer for the incident and alert enums.

docs/developer/reference/defender-api.md §4.5 and §4.6: the MTP API speaks PascalCase (``InProgress``), Graph
camelCase (``inProgress``), and determinations were renamed (``Clean`` -> ``notMalicious``,
``InsufficientData`` -> ``notEnoughDataToValidate``, ``CompromisedUser`` -> ``compromisedAccount`` ...).

* :func:`canonical` maps what a user typed (any casing, ``_``/``-``/spaces ignored, either API's word, old or
  new name) to one canonical member (the Graph wire value) or raises ``MtpConfigError`` naming the option and
  the choices;
* :func:`render` gives a canonical member in the target API's value (``api="mtp"``: the MTP PATCH value);
* :func:`read` is :func:`canonical` for API answers: every alias is accepted, an unknown (future) value is kept;
* :func:`check_combination` rejects a classification/determination pair the APIs refuse, before any write.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import re

from ansible_collections.m365.defender.plugins.module_utils._errors import MtpConfigError

_NOISE = re.compile(r"[\s_-]+")

# canonical (Graph) value -> MTP value, per enum
INCIDENT_STATUS = {"active": "Active", "inProgress": "InProgress", "resolved": "Resolved",
                   "redirected": "Redirected", "awaitingAction": None, "unknownFutureValue": None}
ALERT_STATUS = {"new": "New", "inProgress": "InProgress", "resolved": "Resolved", "unknownFutureValue": None}
SEVERITY = {"unknown": "UnSpecified", "informational": "Informational", "low": "Low", "medium": "Medium",
            "high": "High", "unknownFutureValue": None}
CLASSIFICATION = {"unknown": "Unknown", "falsePositive": "FalsePositive", "truePositive": "TruePositive",
                  "informationalExpectedActivity": "InformationalExpectedActivity", "unknownFutureValue": None}
DETERMINATION = {
    "multiStagedAttack": "MultiStagedAttack", "maliciousUserActivity": "MaliciousUserActivity",
    "compromisedAccount": "CompromisedAccount", "malware": "Malware", "phishing": "Phishing",
    "unwantedSoftware": "UnwantedSoftware", "other": "Other", "securityTesting": "SecurityTesting",
    "lineOfBusinessApplication": "LineOfBusinessApplication", "confirmedActivity": "ConfirmedActivity",
    "notMalicious": "Clean", "notEnoughDataToValidate": "NoEnoughDataToValidate",
    "apt": "Apt", "securityPersonnel": "SecurityPersonnel", "unknown": "NotAvailable", "unknownFutureValue": None,
}
# older or other-API names (§4.6), compared without case and separators
_ALIASES = {
    "incident_status": {},
    "alert_status": {"active": "inProgress"},  # the MTP alert resource page lists New, Active, Resolved
    "severity": {"unspecified": "unknown"},
    "classification": {},
    "determination": {"compromiseduser": "compromisedAccount", "confirmeduseractivity": "confirmedActivity",
                      "clean": "notMalicious", "insufficientdata": "notEnoughDataToValidate",
                      "noenoughdatatovalidate": "notEnoughDataToValidate", "notavailable": "unknown"},
}
ENUMS = {"incident_status": INCIDENT_STATUS, "alert_status": ALERT_STATUS, "severity": SEVERITY,
         "classification": CLASSIFICATION, "determination": DETERMINATION}

# which determinations each classification takes (§4.6); legacy ``apt``/``securityPersonnel`` are read-only
ALLOWED_DETERMINATIONS = {
    "truePositive": ("multiStagedAttack", "maliciousUserActivity", "compromisedAccount", "malware", "phishing",
                     "unwantedSoftware", "other"),
    "informationalExpectedActivity": ("securityTesting", "lineOfBusinessApplication", "confirmedActivity", "other"),
    "falsePositive": ("notMalicious", "notEnoughDataToValidate", "other"),
    "unknown": (),
}
LEGACY_DETERMINATIONS = ("apt", "securityPersonnel")
# values a client may not write (the service sets them or they are placeholders)
_READ_ONLY = {"incident_status": ("unknownFutureValue", "awaitingAction"), "alert_status": ("unknownFutureValue",),
              "severity": ("unknownFutureValue",), "classification": ("unknownFutureValue",),
              "determination": ("unknownFutureValue",) + LEGACY_DETERMINATIONS}


def _key(value):
    return _NOISE.sub("", value).lower()


def _lookup(kind, value):
    if not isinstance(value, str) or not value.strip():
        return None
    key = _key(value)
    alias = _ALIASES[kind].get(key)
    if alias:
        return alias
    for member, mtp in ENUMS[kind].items():
        if key == _key(member) or (mtp and key == _key(mtp)):
            return member
    return None


def choices(kind, writable=True):
    """The canonical members of ``kind`` a user may set (``writable``) or read."""
    return [m for m in ENUMS[kind] if not writable or m not in _READ_ONLY[kind]]


def canonical(kind, value, option=None, writable=True):
    """The canonical member for user input ``value`` (``None`` stays ``None``); ``MtpConfigError`` naming
    ``option`` and the accepted values otherwise."""
    if value is None:
        return None
    member = _lookup(kind, value)
    if member is None or (writable and member in _READ_ONLY[kind]):
        raise MtpConfigError("%s: %r is not a valid value; use one of %s (any casing, MTP or Graph spelling)" % (
            option or kind, value, ", ".join(choices(kind, writable))), option=option or kind)
    return member


def read(kind, value):
    """The canonical member for a value an API answered; an unknown value is kept as it is, ``None`` stays."""
    if value is None:
        return None
    return _lookup(kind, value) or value


def render(kind, member, api):
    """``member`` (canonical) in the value ``api`` (``graph`` or ``mtp``) expects on the wire."""
    if member is None:
        return None
    if api == "graph":
        return member
    value = ENUMS[kind].get(member)
    if value is None:
        raise MtpConfigError("%s %r cannot be sent to the MTP API (it has no such value)" % (kind, member), option=kind)
    return value


def check_combination(classification, determination, option="determination"):
    """Raise ``MtpConfigError`` when ``determination`` (canonical) does not belong to ``classification``
    (canonical); ``None``/``unknown`` determinations always pass."""
    if determination in (None, "unknown"):
        return
    allowed = ALLOWED_DETERMINATIONS.get(classification or "unknown", ())
    if determination not in allowed:
        if allowed:
            names = "one of " + ", ".join(allowed)
        else:
            names = "no determination (set classification to truePositive, informationalExpectedActivity or falsePositive)"
        raise MtpConfigError("%s %r does not go with classification %r: it takes %s" % (
            option, determination, classification or "unknown", names), option=option)
