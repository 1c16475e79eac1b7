# -*- coding: utf-8 -*-
# Copyright (c) m365.defender contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""_version.COLLECTION_VERSION (and the user agent built from it) stays equal to the version in galaxy.yml."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os

import yaml

from ansible_collections.m365.defender.plugins.module_utils import _version

HERE = os.path.dirname(os.path.abspath(__file__))
# tests/unit/plugins/module_utils -> the collection root (also the cwd under ansible-test)
ROOT = os.path.abspath(os.path.join(HERE, "..", "..", "..", ".."))
GALAXY = os.path.join(ROOT, "galaxy.yml")


def galaxy_version():
    with open(GALAXY) as fh:
        return yaml.safe_load(fh)["version"]


def test_galaxy_yml_is_found_and_has_a_version():
    assert os.path.isfile(GALAXY), GALAXY
    assert isinstance(galaxy_version(), str)
    assert galaxy_version().count(".") == 2


def test_collection_version_equals_galaxy_yml():
    assert _version.COLLECTION_VERSION == galaxy_version()


def test_user_agent_carries_the_galaxy_version():
    assert _version.USER_AGENT == "m365.defender/" + galaxy_version()
