# -*- coding: utf-8 -*-
# Copyright (c) m365.defender contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function

__metaclass__ = type


class ModuleDocFragment(object):
    """Attributes shared by the modules (community.hashi_vault ``attributes`` style).

    ``m365.defender.attributes`` describes check and diff mode and the platform (each module states its own
    ``support``); ``.action_group`` declares membership of the ``mtp`` action group; ``.check_mode_read_only``
    is for modules that only read.
    """

    DOCUMENTATION = r'''
options: {}
attributes:
  check_mode:
    description: Can run in check mode and return a changed status prediction without modifying the tenant.
  diff_mode:
    description: Returns details on what has changed (or would change in check mode) when in diff mode.
  platform:
    description: The module calls cloud APIs; it runs on the host it is delegated to, usually the controller.
    support: full
    platforms: posix
'''

    ACTION_GROUP = r'''
options: {}
attributes:
  action_group:
    description: Use C(group/m365.defender.mtp) in C(module_defaults) to set defaults for this module.
    support: full
    membership:
      - m365.defender.mtp
'''

    CHECK_MODE_READ_ONLY = r'''
options: {}
attributes:
  check_mode:
    support: full
    description:
      - This module only reads from the APIs, so it runs in check mode too.
      - A file it would write (O(ignore:dest) where the module has it) is not written in check mode; the result predicts
        whether it would change.
'''
