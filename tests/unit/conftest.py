# -*- coding: utf-8 -*-
# Copyright (c) m365.defender contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Shared pytest fixtures of the unit tests (a local TLS server with its CA, clients bound to it)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.m365.defender.tests.unit.plugins.module_utils.http import server_fixtures as _fixtures

tls_ca = _fixtures.tls_ca
server = _fixtures.server
options = _fixtures.options
make_client = _fixtures.make_client
fixture_stub_authenticator_class = _fixtures.fixture_stub_authenticator_class
fixture_recording_display_class = _fixtures.fixture_recording_display_class
