#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) m365.defender contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: mtp_indicator_info
short_description: List Microsoft Defender for Endpoint indicators
version_added: 0.2.0
description:
  - Lists the active indicators (C(GET /api/indicators)) the app may see, filtered by O(type), O(value),
    O(action) (on the service) and O(source) (the C([m365d:<source>]) marker written by
    M(m365.defender.mtp_indicator)).
author:
  - m365.defender contributors (@m365-defender)
extends_documentation_fragment:
  - m365.defender.auth
  - m365.defender.connection
  - m365.defender.attributes
  - m365.defender.attributes.action_group
  - m365.defender.attributes.check_mode_read_only
attributes:
  diff_mode:
    support: none
options:
  type:
    description:
      - Only indicators of this type.
    type: str
    choices: [FileSha1, FileSha256, FileMd5, CertificateThumbprint, IpAddress, DomainName, Url]
  value:
    description:
      - Only indicators with this value (compared case-insensitively by the service).
    type: str
  action:
    description:
      - Only indicators with this action.
    type: str
    choices: [Alert, Warn, Block, Audit, BlockAndRemediate, AlertAndBlock, Allowed]
  source:
    description:
      - Only indicators whose description ends with the marker C([m365d:<source>]).
    type: str
notes:
  - With C(Ti.ReadWrite) only, the service lists only the indicators the app created; C(Ti.ReadWrite.All) or
    C(Ti.Read.All) list all of them.
seealso:
  - module: m365.defender.mtp_indicator
  - name: List indicators API
    description: The list call, its filters and limits.
    link: https://learn.microsoft.com/defender-endpoint/api/get-ti-indicators-collection
"""

EXAMPLES = r"""
- name: The indicators of the threat-intel feed
  m365.defender.mtp_indicator_info:
    source: ti-feed
  register: feed

- name: Is this hash blocked?
  m365.defender.mtp_indicator_info:
    type: FileSha256
    value: "{{ sha256 }}"
  register: found
"""

RETURN = r"""
indicators:
  description: The matching indicators as the service returns them, plus C(source) (the marker's source, or
    null) and C(description_text) (the description without the marker).
  returned: success
  type: list
  elements: dict
  sample: [{"id": "995", "indicatorType": "FileSha256", "indicatorValue": "…", "action": "Block",
            "title": "Ransomware loader", "source": "ansible", "description_text": "Managed by Ansible (m365.defender)"}]
count:
  description: The number of indicators returned.
  returned: success
  type: int
"""

from ansible_collections.m365.defender.plugins.module_utils._errors import MtpError
from ansible_collections.m365.defender.plugins.module_utils._indicators import ACTIONS, TYPES, query
from ansible_collections.m365.defender.plugins.module_utils._module import MtpModule


def main():
    module = MtpModule(argument_spec=dict(type=dict(type="str", choices=list(TYPES)), value=dict(type="str"),
                                          action=dict(type="str", choices=list(ACTIONS)), source=dict(type="str")),
                       supports_check_mode=True)
    try:
        items = query(module.client(), module.params)
    except MtpError as exc:
        module.fail_json_mtp(exc)
    module.exit_json(changed=False, indicators=items, count=len(items))


if __name__ == "__main__":
    main()
