#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) m365.defender contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: mtp_auth_info
short_description: Show who the play signs in as, what its tokens carry, and which permission, consent or role is missing
version_added: 0.3.0
description:
  - Signs in with the task's auth options (usually from C(module_defaults) of C(group/m365.defender.mtp)) and
    requests one token for each API the cloud offers (Microsoft Graph, Defender XDR C(mtp), Defender for Endpoint
    C(mde)); with O(needs), only for Graph and the APIs they may use.
  - It reports the identity (application id and name, or the user's principal name and object id), the tenant, the
    cloud, the C(roles) or C(scp) of each token and, for a signed-in user, the user's directory roles.
  - With O(needs), it says for each module, preset or permission what is granted and what is missing, why, and
    the exact fix (an M(m365.defender.mtp_aad_app_setup) task, or the directory role to assign).
  - Tokens and secrets are never returned or logged; only the tokens' non-secret claims are read.
  - The application name and its declared permissions are read from Graph when the identity may read them
    (C(Application.Read.All)); otherwise the name is V(unknown), and a permission declared without admin consent is
    reported as a missing application permission.
  - The user's directory roles come from Graph C(GET /me/memberOf) when readable, else from the token's C(wids)
    claim.
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
  needs:
    description:
      - What the play is about to use, in any mix of
      - module names (V(mtp_hunting_query), V(m365.defender.mtp_detection_rule)); a module that can call several
        APIs is satisfied by any one of them; V(mtp_hunting_query:mtp) asks for one API;
      - preset names of M(m365.defender.mtp_aad_app_setup) (V(hunting), V(incidents_read), V(incidents_write),
        V(detections), V(indicators), V(response)), all of whose permissions are needed;
      - permission names (V(AdvancedHunting.Read.All), V(Incident.Read)).
      - An unknown name fails with the list of known modules and presets.
    type: list
    elements: str
    default: []
  fail_on_missing:
    description:
      - Fail the task when anything in O(needs) is missing, with a message listing each missing piece and its fix,
        so that a play stops before its first real task.
      - V(false) only reports.
    type: bool
    default: false
notes:
  - The reasons a piece can be missing are V(application_permission) (the app has no such role),
    V(admin_consent) (the app declares it but it is not consented), V(delegated_grant) (not in the user token's
    C(scp), or AADSTS65001 for the whole API), V(user_role) (the signed-in user has no Defender directory role, or
    only a reader role where a write is needed), V(api_unavailable) (the cloud or tenant does not offer the API),
    V(application_only) (no delegated permission exists for the call), V(delegated_only) and V(token_error).
  - A user needs one of the Entra ID roles Security Reader or Global Reader (read), or Security Operator,
    Security Administrator or Global Administrator (read and write).
  - With O(auth_method=device_code) the user signs in on the controller first, as for the other modules.
seealso:
  - module: m365.defender.mtp_aad_app_setup
  - name: Access tokens (Microsoft identity platform)
    description: The roles, scp and wids claims.
    link: https://learn.microsoft.com/entra/identity-platform/access-token-claims-reference
"""

EXAMPLES = r"""
# Credentials come from the play's module_defaults (group/m365.defender.mtp), as for every other task.
- name: Stop the play before its first real task if anything is missing
  m365.defender.mtp_auth_info:
    needs: [mtp_hunting_query, incidents_read, Machine.Isolate]
    fail_on_missing: true

- name: Who am I, and what do my tokens carry?
  m365.defender.mtp_auth_info:
  register: me

- name: Show the fix for everything missing (one mtp_aad_app_setup task)
  ansible.builtin.debug:
    msg: "{{ me.fix }}"
  when: me.fix
"""

RETURN = r"""
identity:
  description: Who the tokens are for.
  returned: success
  type: dict
  sample: {type: application, app_id: 3c2b1a09-8f7e-4d6c-b5a4-938271605f4e, app_name: SOC automation,
           object_id: 1f0e9d8c-7b6a-4d3c-8b2a-9d8c7b6a5f4e}
  contains:
    type:
      description: V(application) (an app-only token, C(roles)) or V(user) (a delegated token, C(scp)).
      type: str
    app_id:
      description: The application (client) id.
      type: str
    app_name:
      description: The app's display name, or V(unknown) when Graph does not let this identity read it.
      type: str
    object_id:
      description: The object id of the service principal (application) or of the user.
      type: str
    upn:
      description: The user's principal name (user context).
      type: str
    name:
      description: The user's display name (user context).
      type: str
tenant_id:
  description: The tenant id from the tokens.
  returned: success
  type: str
cloud:
  description: The cloud (O(cloud)).
  returned: success
  type: str
auth_method:
  description: The O(auth_method) used.
  returned: success
  type: str
apis:
  description: One entry per API (V(graph), V(mtp), V(mde)).
  returned: success
  type: dict
  sample: {mtp: {available: true, audience: "https://api.security.microsoft.com", roles: [AdvancedHunting.Read.All],
                 scopes: [], error: null, expires_on: 1767225600}}
  contains:
    available:
      description: Whether the cloud offers this API.
      type: bool
    checked:
      description: Whether a token was asked for. With O(needs), only the APIs they may use (and Graph) are asked,
        so that a run requests no token it does not need; without O(needs), every API of the cloud.
      type: bool
    audience:
      description: The token audience.
      type: str
    roles:
      description: The token's application permissions (C(roles) claim).
      type: list
      elements: str
    scopes:
      description: The token's delegated permissions (C(scp) claim).
      type: list
      elements: str
    error:
      description: Why no token came for this API (for example AADSTS65001), or null.
      type: str
user_roles:
  description: The signed-in user's directory roles, or null when they could not be read.
  returned: user context
  type: list
  elements: str
  sample: [Security Reader]
user_roles_source:
  description: V(memberOf) (Graph) or V(wids) (the token claim), or null.
  returned: user context
  type: str
app_registration:
  description: What the app registration declares (C(requiredResourceAccess)), when Graph lets this identity read it.
  returned: success
  type: dict
  contains:
    readable:
      description: Whether the app registration could be read.
      type: bool
    unique_name:
      description: The app's C(uniqueName).
      type: str
    declared:
      description: Per API, the declared V(application) and V(delegated) permission names; null when not readable.
      type: dict
needs:
  description: One result per item of O(needs), in order.
  returned: success
  type: list
  elements: dict
  contains:
    name:
      description: The item as given.
      type: str
    kind:
      description: V(module), V(preset) or V(permission).
      type: str
    satisfied:
      description: Whether nothing is missing.
      type: bool
    api:
      description: The API whose permissions were checked, when the item can use several (the first complete one).
      type: str
    granted:
      description: The permissions that are granted (C(api), C(resource), C(type), C(permission)).
      type: list
      elements: dict
    missing:
      description: The missing pieces, shaped like RV(missing) but without C(fix).
      type: list
      elements: dict
    alternatives:
      description: When the item can use several APIs, each one with its missing permission names.
      type: list
      elements: dict
missing:
  description: Every missing piece across O(needs), once each.
  returned: success
  type: list
  elements: dict
  sample: [{reason: application_permission, reason_text: a missing application permission, api: mtp,
            resource: mtp, type: application, permission: Incident.Read.All, needed_by: [incidents_read],
            message: the mtp token has no role Incident.Read.All, fix: "- name: Grant ..."}]
  contains:
    reason:
      description: One of the reasons listed in the notes.
      type: str
    reason_text:
      description: The reason in words.
      type: str
    api:
      description: V(graph), V(mtp) or V(mde).
      type: str
    resource:
      description: The API as M(m365.defender.mtp_aad_app_setup) names it (V(graph), V(mtp), V(wdatp)).
      type: str
    type:
      description: V(application), V(delegated), or null.
      type: str
    permission:
      description: The permission name.
      type: str
    needed_by:
      description: The items of O(needs) that need it.
      type: list
      elements: str
    message:
      description: What was found.
      type: str
    fix:
      description: The exact fix, an M(m365.defender.mtp_aad_app_setup) task in YAML or the directory role to assign.
      type: str
    assign_one_of:
      description: For V(user_role), the directory roles any one of which would do.
      type: list
      elements: str
fix:
  description: One M(m365.defender.mtp_aad_app_setup) task (YAML) granting every missing permission and consent,
    or null.
  returned: success
  type: str
msg:
  description: A one-line summary.
  returned: always
  type: str
"""

from ansible_collections.m365.defender.plugins.module_utils._auth_info import (
    apis_of,
    evaluate,
    failure_message,
    resolve_needs,
    summary,
)
from ansible_collections.m365.defender.plugins.module_utils._auth_info_probe import gather
from ansible_collections.m365.defender.plugins.module_utils._errors import MtpError
from ansible_collections.m365.defender.plugins.module_utils._module import MtpModule


def run(module):
    needs = resolve_needs(module.params["needs"])
    client = module.client()
    facts, report = gather(client, module.adapter, client.endpoints, wanted=apis_of(needs))
    results, missing, fix = evaluate(needs, facts)
    report.update(changed=False, needs=results, missing=missing, fix=fix, msg=summary(results, missing))
    return report


def main():
    module = MtpModule(argument_spec=dict(needs=dict(type="list", elements="str", default=[]),
                                          fail_on_missing=dict(type="bool", default=False)),
                       supports_check_mode=True)
    try:
        result = run(module)
    except MtpError as exc:
        module.fail_json_mtp(exc)
    if result["missing"] and module.params["fail_on_missing"]:
        result.pop("msg")
        module.fail_json(msg=failure_message(result["needs"], result["missing"], result["fix"]), **result)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
