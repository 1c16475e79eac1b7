# -*- coding: utf-8 -*-
# Copyright (c) m365.defender contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The enum normalisation layer (docs/developer/reference/defender-api.md §4.5, §4.6) as pure functions."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import pytest

from ansible_collections.m365.defender.plugins.module_utils import _security_enums as enums
from ansible_collections.m365.defender.plugins.module_utils._errors import MtpConfigError

# every spelling of §4.6: (typed, canonical, MTP PATCH value)
DETERMINATIONS = [
    ("MultiStagedAttack", "multiStagedAttack", "MultiStagedAttack"),
    ("multiStagedAttack", "multiStagedAttack", "MultiStagedAttack"),
    ("multi_staged_attack", "multiStagedAttack", "MultiStagedAttack"),
    ("MaliciousUserActivity", "maliciousUserActivity", "MaliciousUserActivity"),
    ("maliciousUserActivity", "maliciousUserActivity", "MaliciousUserActivity"),
    ("CompromisedAccount", "compromisedAccount", "CompromisedAccount"),
    ("CompromisedUser", "compromisedAccount", "CompromisedAccount"),
    ("compromisedAccount", "compromisedAccount", "CompromisedAccount"),
    ("compromisedUser", "compromisedAccount", "CompromisedAccount"),
    ("Malware", "malware", "Malware"),
    ("malware", "malware", "Malware"),
    ("Phishing", "phishing", "Phishing"),
    ("phishing", "phishing", "Phishing"),
    ("UnwantedSoftware", "unwantedSoftware", "UnwantedSoftware"),
    ("unwantedSoftware", "unwantedSoftware", "UnwantedSoftware"),
    ("Other", "other", "Other"),
    ("other", "other", "Other"),
    ("SecurityTesting", "securityTesting", "SecurityTesting"),
    ("securityTesting", "securityTesting", "SecurityTesting"),
    ("LineOfBusinessApplication", "lineOfBusinessApplication", "LineOfBusinessApplication"),
    ("lineOfBusinessApplication", "lineOfBusinessApplication", "LineOfBusinessApplication"),
    ("ConfirmedActivity", "confirmedActivity", "ConfirmedActivity"),
    ("ConfirmedUserActivity", "confirmedActivity", "ConfirmedActivity"),
    ("confirmedActivity", "confirmedActivity", "ConfirmedActivity"),
    ("confirmedUserActivity", "confirmedActivity", "ConfirmedActivity"),
    ("Clean", "notMalicious", "Clean"),
    ("clean", "notMalicious", "Clean"),
    ("notMalicious", "notMalicious", "Clean"),
    ("NOT_MALICIOUS", "notMalicious", "Clean"),
    ("NoEnoughDataToValidate", "notEnoughDataToValidate", "NoEnoughDataToValidate"),
    ("InsufficientData", "notEnoughDataToValidate", "NoEnoughDataToValidate"),
    ("insufficientData", "notEnoughDataToValidate", "NoEnoughDataToValidate"),
    ("notEnoughDataToValidate", "notEnoughDataToValidate", "NoEnoughDataToValidate"),
]


@pytest.mark.parametrize("typed, member, mtp", DETERMINATIONS)
def test_every_determination_spelling(typed, member, mtp):
    assert enums.canonical("determination", typed, "determination") == member
    assert enums.render("determination", member, "graph") == member
    assert enums.render("determination", member, "mtp") == mtp
    assert enums.read("determination", typed) == member


@pytest.mark.parametrize("typed, member, mtp", [
    ("Active", "active", "Active"), ("active", "active", "Active"), ("ACTIVE", "active", "Active"),
    ("InProgress", "inProgress", "InProgress"), ("inProgress", "inProgress", "InProgress"),
    ("in_progress", "inProgress", "InProgress"), ("in progress", "inProgress", "InProgress"),
    ("Resolved", "resolved", "Resolved"), ("resolved", "resolved", "Resolved"),
    ("Redirected", "redirected", "Redirected"), ("redirected", "redirected", "Redirected"),
])
def test_incident_status_spellings(typed, member, mtp):
    assert enums.canonical("incident_status", typed, "status") == member
    assert enums.render("incident_status", member, "mtp") == mtp


@pytest.mark.parametrize("typed, member, mtp", [
    ("TruePositive", "truePositive", "TruePositive"), ("truePositive", "truePositive", "TruePositive"),
    ("true_positive", "truePositive", "TruePositive"), ("FalsePositive", "falsePositive", "FalsePositive"),
    ("falsepositive", "falsePositive", "FalsePositive"),
    ("InformationalExpectedActivity", "informationalExpectedActivity", "InformationalExpectedActivity"),
    ("informationalExpectedActivity", "informationalExpectedActivity", "InformationalExpectedActivity"),
    ("Unknown", "unknown", "Unknown"), ("unknown", "unknown", "Unknown"),
])
def test_classification_spellings(typed, member, mtp):
    assert enums.canonical("classification", typed, "classification") == member
    assert enums.render("classification", member, "mtp") == mtp


@pytest.mark.parametrize("typed, member, mtp", [
    ("UnSpecified", "unknown", "UnSpecified"), ("unspecified", "unknown", "UnSpecified"),
    ("unknown", "unknown", "UnSpecified"), ("Informational", "informational", "Informational"),
    ("low", "low", "Low"), ("Medium", "medium", "Medium"), ("HIGH", "high", "High"),
])
def test_severity_spellings(typed, member, mtp):
    assert enums.canonical("severity", typed, "severity") == member
    assert enums.render("severity", member, "mtp") == mtp


@pytest.mark.parametrize("typed, member", [("New", "new"), ("new", "new"), ("InProgress", "inProgress"),
                                           ("Active", "inProgress"), ("Resolved", "resolved")])
def test_alert_status_spellings(typed, member):
    assert enums.canonical("alert_status", typed, "status") == member


def test_reads_accept_mtp_placeholder_and_keep_unknown_values():
    assert enums.read("determination", "NotAvailable") == "unknown"
    assert enums.read("determination", "Apt") == "apt"
    assert enums.read("determination", "SecurityPersonnel") == "securityPersonnel"
    assert enums.read("incident_status", "awaitingAction") == "awaitingAction"
    assert enums.read("incident_status", "someFutureStatus") == "someFutureStatus"
    assert enums.read("severity", None) is None


def test_invalid_value_names_the_option_and_the_choices():
    with pytest.raises(MtpConfigError) as err:
        enums.canonical("incident_status", "closed", "status")
    assert err.value.option == "status"
    assert str(err.value) == ("status: 'closed' is not a valid value; use one of active, inProgress, resolved, "
                              "redirected (any casing, MTP or Graph spelling)")


def test_legacy_determination_is_read_only():
    with pytest.raises(MtpConfigError) as err:
        enums.canonical("determination", "Apt", "determination")
    assert "'Apt' is not a valid value" in str(err.value)
    assert enums.canonical("determination", "Apt", "determination", writable=False) == "apt"


@pytest.mark.parametrize("classification, determination", [
    ("truePositive", "malware"), ("truePositive", "compromisedAccount"), ("truePositive", "other"),
    ("informationalExpectedActivity", "securityTesting"), ("informationalExpectedActivity", "other"),
    ("falsePositive", "notMalicious"), ("falsePositive", "notEnoughDataToValidate"), ("falsePositive", "other"),
    ("unknown", None), ("unknown", "unknown"),
])
def test_valid_combinations_pass(classification, determination):
    assert enums.check_combination(classification, determination) is None


def test_invalid_combination_names_the_options():
    with pytest.raises(MtpConfigError) as err:
        enums.check_combination("falsePositive", "malware")
    assert err.value.option == "determination"
    assert str(err.value) == ("determination 'malware' does not go with classification 'falsePositive': it takes one "
                              "of notMalicious, notEnoughDataToValidate, other")


def test_determination_without_classification_fails():
    with pytest.raises(MtpConfigError) as err:
        enums.check_combination(None, "phishing")
    assert str(err.value) == ("determination 'phishing' does not go with classification 'unknown': it takes no "
                              "determination (set classification to truePositive, informationalExpectedActivity or "
                              "falsePositive)")


def test_render_refuses_values_mtp_does_not_have():
    with pytest.raises(MtpConfigError):
        enums.render("incident_status", "awaitingAction", "mtp")
