# -*- coding: utf-8 -*-
# Copyright (c) m365.defender contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.m365.defender.tests.unit.plugins.module_utils.http.server_fixtures import (  # noqa: F401
    fixture_recording_display_class,
    fixture_stub_authenticator_class,
    make_client,
    options,
    server,
    tls_ca,
)
