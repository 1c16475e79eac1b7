# -*- coding: utf-8 -*-
# Copyright (c) m365.defender contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""FOR INTERNAL COLLECTION USE ONLY. The collection version, kept equal to galaxy.yml by a unit test."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

COLLECTION_VERSION = "0.1.0"
USER_AGENT = "m365.defender/" + COLLECTION_VERSION
