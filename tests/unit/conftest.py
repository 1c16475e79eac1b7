# -*- coding: utf-8 -*-
# Copyright (c) m365.defender contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Shared pytest fixtures of the unit tests (a local TLS server with its CA, clients bound to it)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import pytest

from ansible_collections.m365.defender.tests.unit.plugins.module_utils.http import server_fixtures as _fixtures

tls_ca = _fixtures.tls_ca
server = _fixtures.server
options = _fixtures.options
make_client = _fixtures.make_client
fixture_stub_authenticator_class = _fixtures.fixture_stub_authenticator_class
fixture_recording_display_class = _fixtures.fixture_recording_display_class


@pytest.fixture(scope="module")
def emulator(tmp_path_factory):
    """The project's real emulator (mtp_emulator, installed from the wheel the test runner builds), one per module."""
    from mtp_emulator.server import EmulatorServer

    srv = EmulatorServer(state_dir=str(tmp_path_factory.mktemp("emulator")), proxy=True)
    srv.start()
    try:
        yield srv
    finally:
        srv.stop()
