#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) m365.defender contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: mtp_aad_app_setup
short_description: Create or update the Entra ID application that calls the Defender XDR APIs
version_added: 0.1.0
description:
  - Creates or updates an Entra ID app registration for Microsoft Defender XDR automation through Microsoft Graph
    v1.0, creates its service principal, grants admin consent for the application permissions (app role
    assignments) and delegated permissions (C(oauth2PermissionGrants)), and gives it a credential (client secret,
    certificate or federated identity credential).
  - The app is keyed on its immutable C(uniqueName) (O(unique_name)) and only ever created through the Graph
    upsert C(PATCH /applications(uniqueName='...')), so a retried or re-run task can never create a second app.
  - Permissions are given by name per resource and resolved from the resource service principal of the tenant; an
    unknown name fails with the list of valid names before anything is written.
  - A no-op re-run reads through two C($batch) calls and writes nothing. Writes are retried through the
    directory's replication lag (see O(replication_timeout)); non-idempotent calls are never blindly repeated
    after a lost answer, the directory is read and reconciled first.
  - The identity running this module needs the Graph application permissions C(Application.ReadWrite.All),
    C(AppRoleAssignment.ReadWrite.All) (application permissions) and C(DelegatedPermissionGrant.ReadWrite.All)
    (delegated permissions), and C(User.Read.All) to resolve O(consent.users). These are Tier-0 grade; use a
    short-lived onboarding identity, separate from the identity that then runs hunting queries.
  - A native app (O(client_type=public)) signs users in (device code, interactive) and calls the APIs with their
    delegated permissions; declare them in O(permissions[].delegated) or O(delegated_presets) and consent them with
    O(consent).
author:
  - m365.defender contributors (@m365-defender)
options:
  unique_name:
    description:
      - The app's C(uniqueName), the key this module finds the app by. Immutable once set.
      - 1 to 120 characters from C(A-Z a-z 0-9 . _ -), starting with a letter or digit.
      - Defaults to C(mtp-<slug of display_name>).
      - A soft-deleted app keeps its C(uniqueName) reserved for up to 30 days; see O(restore_deleted).
    type: str
  display_name:
    description:
      - The app's display name. Required when the app is created. Display names are not unique; they are never
        used to find the app unless O(adopt_by_display_name=true).
    type: str
  app_id:
    description:
      - Adopt an existing app by its application (client) id. If its C(uniqueName) is not set yet it is set to
        O(unique_name) once.
    type: str
  adopt_by_display_name:
    description:
      - When no app holds O(unique_name), adopt the app named O(display_name), but only if exactly one app has that
        name.
    type: bool
    default: false
  restore_deleted:
    description:
      - When the app holding O(unique_name) is soft-deleted, restore it instead of failing.
    type: bool
    default: false
  permissions:
    description:
      - Permissions per resource API, merged with O(presets).
    type: list
    elements: dict
    default: []
    suboptions:
      resource:
        description:
          - V(mtp) (Microsoft Threat Protection, the Defender XDR API), V(wdatp) (WindowsDefenderATP, the MDE API),
            V(graph) (Microsoft Graph), or the application id of another resource API.
        type: str
        required: true
      application:
        description:
          - Application permissions (app roles) by name, for example V(AdvancedHunting.Read.All). Raw role ids
            (GUIDs) are accepted as an escape hatch.
        type: list
        elements: str
        default: []
      delegated:
        description:
          - Delegated permissions (scopes) by name, for example V(AdvancedHunting.Read) or V(Incident.Read) on
            V(mtp), V(AdvancedQuery.Read) on V(wdatp), V(SecurityIncident.Read.All) on V(graph). Raw scope ids
            (GUIDs) are accepted as an escape hatch.
          - They are resolved to scope ids through the resource's C(oauth2PermissionScopes) and written to
            C(requiredResourceAccess) as type C(Scope); O(consent) says who they are consented for.
          - A name that only exists as an application permission fails, naming the option and the value.
        type: list
        elements: str
        default: []
  presets:
    description:
      - V(hunting) is Graph C(ThreatHunting.Read.All) and MTP C(AdvancedHunting.Read.All).
      - V(incidents_read) is Graph C(SecurityIncident.Read.All), C(SecurityAlert.Read.All) and MTP
        C(Incident.Read.All).
      - V(incidents_write) is Graph C(SecurityIncident.ReadWrite.All), C(SecurityAlert.ReadWrite.All) and MTP
        C(Incident.ReadWrite.All).
      - V(detections) is Graph C(CustomDetection.ReadWrite.All) and C(ThreatHunting.Read.All).
      - V(indicators) is WDATP C(Ti.ReadWrite.All).
      - V(response) is the WDATP machine action roles (C(Machine.Isolate), C(Machine.Scan), ...) and
        C(Machine.Read.All).
      - The presets come from the collection's permission registry, which grows with its modules; an unknown
        name fails, before any network call, with the list of valid presets.
    type: list
    elements: str
    default: []
  delegated_presets:
    description:
      - The same preset names as O(presets), as delegated permissions (scopes), each registry row's delegated
        scope. V(hunting) is Graph C(ThreatHunting.Read.All) and MTP C(AdvancedHunting.Read); V(incidents_read)
        is Graph C(SecurityIncident.Read.All), C(SecurityAlert.Read.All) and MTP C(Incident.Read);
        V(incidents_write) is Graph C(SecurityIncident.ReadWrite.All), C(SecurityAlert.ReadWrite.All) and MTP
        C(Incident.ReadWrite); V(detections), V(indicators) and V(response) likewise.
      - Merged with O(permissions[].delegated); consented as O(consent) says.
    type: list
    elements: str
    default: []
    version_added: 0.3.0
  client_type:
    description:
      - V(confidential) is an app that authenticates with its own credential (O(credential)).
      - V(public) is a native app for user context (device code, interactive sign-in); C(isFallbackPublicClient)
        is set and the native-client redirect URI of the cloud's login host
        (C(https://login.microsoftonline.com/common/oauth2/nativeclient), C(login.microsoftonline.us) for
        O(cloud=gcc_high) and O(cloud=dod)) is added to C(publicClient.redirectUris); other redirect URIs are kept.
        A public client gets no credential; O(credential=secret), O(credential=certificate),
        O(credential=federated), O(secret_dest), O(certificate) or O(federated) fail before anything is written.
      - Not set, a new app is created V(confidential) and an existing app keeps its type (a public app then gets no
        credential either).
      - An existing app is switched in place (never recreated); a confidential app made public keeps the secrets
        and certificates it holds (a warning says so). V(confidential) on a public app turns
        C(isFallbackPublicClient) off.
    type: str
    choices: [confidential, public]
    version_added: 0.3.0
  consent:
    description:
      - Who the delegated permissions are consented for (C(oauth2PermissionGrants)); not set means
        O(consent.type=all_principals). Application permissions are always consented (app role assignments).
      - Scopes are merged into the grants that exist (their C(scope) is PATCHed, a grant is never deleted and
        recreated); scopes this task did not ask for are kept unless O(purge_permissions=true).
    type: dict
    version_added: 0.3.0
    suboptions:
      type:
        description:
          - V(all_principals) is admin consent for every user of the tenant, one C(AllPrincipals) grant per resource
            service principal.
          - V(principal) consents for O(consent.users) only, one C(Principal) grant per user and resource. With
            O(purge_permissions=true) the Principal grants of users not listed are removed.
          - V(none) declares the delegated permissions without consenting them (users or an admin consent later).
        type: str
        choices: [all_principals, principal, none]
        default: all_principals
      users:
        description:
          - With O(consent.type=principal), the users by user principal name (V(analyst@contoso.com)) or object
            id. A user that does not exist fails, naming it, before anything is written.
          - Resolving them needs the Graph permission C(User.Read.All) (or C(Directory.Read.All)).
        type: list
        elements: str
        default: []
  purge_permissions:
    description:
      - V(false) adds the requested permissions and keeps others. V(true) makes the declared permissions, app role
        assignments and delegated grants exactly the requested ones.
    type: bool
    default: false
  credential:
    description:
      - V(secret) adds a client secret when no secret managed by this module exists or the newest one ends within
        O(rotate_before_days). Its value is returned once, in RV(client_secret).
      - V(certificate) uploads O(certificate) unless a key credential with the same thumbprint exists; other
        certificates are kept.
      - V(federated) creates or updates the federated identity credential O(federated).
      - V(none) leaves credentials alone.
      - Not set means V(secret), or V(none) for a public client (O(client_type=public), or an existing public app
        when O(client_type) is not set).
    type: str
    choices: [secret, certificate, federated, none]
  rotate_before_days:
    description:
      - Add a new secret when the newest managed secret ends within this many days. The old one is kept until it
        expires (so running automation can switch over); expired managed secrets are removed. Secrets not created
        by this module are never touched.
    type: int
    default: 30
  secret_lifetime_days:
    description:
      - Lifetime of a new client secret, in days, from 1 to 730 (two years, the longest Entra ID supports).
        A longer lifetime is refused before anything is written.
    type: int
    default: 365
  secret_dest:
    description:
      - Write a new client secret to this file (atomically, mode 0600) on the host that runs the module. Checked
        for writability before the secret is created.
    type: path
  certificate:
    description:
      - The certificate for O(credential=certificate) (PEM or DER; a PEM file may also hold the key).
      - A certificate that is expired or not valid yet is refused before anything is written.
    type: dict
    suboptions:
      path:
        description: Path to the certificate file.
        type: path
      content:
        description: The PEM certificate itself.
        type: str
  federated:
    description: The federated identity credential for O(credential=federated).
    type: dict
    suboptions:
      name:
        description:
          - Its name, the key it is upserted by (immutable).
          - 3 to 120 characters from C(A-Z a-z 0-9 - _), starting with a letter or digit.
        type: str
        required: true
      issuer:
        description: The external token issuer, an C(https://) URL of at most 600 characters.
        type: str
        required: true
      subject:
        description: The external identity (subject claim).
        type: str
        required: true
      audiences:
        description: The accepted audience; Entra ID takes exactly one value.
        type: list
        elements: str
        default: [api://AzureADTokenExchange]
  replication_timeout:
    description:
      - Seconds to keep retrying the directory's replication-lag symptoms (404 on a new object,
        C(NoBackingApplicationObject), ...) and, with O(wait_for_ready), the readiness probe.
    type: int
    default: 300
  wait_for_ready:
    description:
      - After a new secret (or a certificate whose file holds the private key), request client-credentials tokens
        as the new app until they carry the requested application permissions (Graph, MTP, MDE).
    type: bool
    default: false
  state:
    description:
      - V(absent) deletes the delegated grants, the service principal and the app (soft delete; the
        C(uniqueName) stays reserved while the app is in the recycle bin).
    type: str
    choices: [present, absent]
    default: present
  purge:
    description: With O(state=absent), delete the app permanently from C(deletedItems).
    type: bool
    default: false
extends_documentation_fragment:
  - m365.defender.auth
  - m365.defender.connection
  - m365.defender.attributes
  - m365.defender.attributes.action_group
attributes:
  check_mode:
    support: full
    details: Every read is made and the planned Graph calls are returned in RV(plan); nothing is written.
  diff_mode:
    support: full
    details: Permissions, app role assignments, delegated grants, the client type and credential metadata (never secret values).
notes:
  - Never put O(unique_name) on an app you do not own; it cannot be changed afterwards.
  - Deleting the app (O(state=absent)) is never done as a rollback of a failed create.
seealso:
  - name: Create an app to access Microsoft Defender XDR without a user
    description: Microsoft's manual steps this module automates.
    link: https://learn.microsoft.com/en-us/defender-xdr/api-create-app-web
  - name: Upsert application (Microsoft Graph)
    description: The create-or-update call keyed by uniqueName.
    link: https://learn.microsoft.com/en-us/graph/api/application-upsert
  - module: m365.defender.mtp_hunting_query
"""

EXAMPLES = r"""
- name: Create the hunting app and keep its secret in a variable
  m365.defender.mtp_aad_app_setup:
    tenant_id: "{{ tenant_id }}"
    client_id: "{{ onboarding_client_id }}"
    client_secret: "{{ onboarding_client_secret }}"
    unique_name: mtp-soc-automation
    display_name: SOC automation
    presets: [hunting, incidents_write]
    wait_for_ready: true
  register: soc_app
  no_log: true  # the result holds client_secret when one was created

- name: Use it
  m365.defender.mtp_hunting_query:
    tenant_id: "{{ tenant_id }}"
    client_id: "{{ soc_app.app_id }}"
    client_secret: "{{ soc_app.client_secret }}"
    query: DeviceInfo | take 1
  no_log: true

- name: Permissions by name per resource, the secret written to a file
  m365.defender.mtp_aad_app_setup:
    unique_name: mtp-mde-reader
    display_name: MDE reader
    permissions:
      - resource: wdatp
        application: [Machine.Read.All, Alert.Read.All]
      - resource: mtp
        delegated: [Incident.Read]
    secret_dest: /etc/soc/mde-reader.secret

- name: Certificate credential (matched by thumbprint; other certificates are kept)
  m365.defender.mtp_aad_app_setup:
    unique_name: mtp-soc-automation
    display_name: SOC automation
    presets: [hunting]
    credential: certificate
    certificate:
      path: /etc/soc/app.pem

- name: A native app for user context, consented for every user (admin consent)
  m365.defender.mtp_aad_app_setup:
    unique_name: mtp-soc-runbooks
    display_name: SOC runbooks (native)
    client_type: public
    delegated_presets: [hunting]
    permissions:
      - resource: mtp
        delegated: [Incident.Read]
      - resource: graph
        delegated: [SecurityIncident.Read.All]
    consent:
      type: all_principals

- name: Consent one more delegated scope for two named users only
  m365.defender.mtp_aad_app_setup:
    unique_name: mtp-soc-runbooks
    client_type: public
    permissions:
      - resource: mtp
        delegated: [Incident.ReadWrite]
    consent:
      type: principal
      users: [analyst@contoso.com, lead@contoso.com]

- name: Remove the app (soft delete)
  m365.defender.mtp_aad_app_setup:
    unique_name: mtp-soc-automation
    state: absent
"""

RETURN = r"""
app_id:
  description: The application (client) id.
  returned: success
  type: str
  sample: 0c6a0b3e-7a5f-4a57-9d7b-1f9e6a3b2c10
object_id:
  description: The application object id.
  returned: success
  type: str
service_principal_id:
  description: The object id of the app's service principal.
  returned: success
  type: str
tenant_id:
  description: The tenant the app lives in (as given in O(tenant_id)).
  returned: success
  type: str
unique_name:
  description: The app's C(uniqueName).
  returned: always
  type: str
display_name:
  description: The app's display name.
  returned: state is present
  type: str
permissions:
  description: The requested permissions, resolved against the tenant's resource service principals.
  returned: state is present
  type: list
  elements: dict
  contains:
    resource:
      description: V(mtp), V(wdatp), V(graph) or the resource's name and id.
      type: str
    resource_app_id:
      description: The resource's application id.
      type: str
    type:
      description: V(application) or V(delegated).
      type: str
    name:
      description: The permission's value (name).
      type: str
    id:
      description: The app role or scope id.
      type: str
consented:
  description: Whether every requested application permission is granted (app role assigned).
  returned: state is present
  type: bool
client_type:
  description: V(public) (C(isFallbackPublicClient) set) or V(confidential).
  returned: state is present
  type: str
  sample: public
  version_added: 0.3.0
delegated_grants:
  description: The app's delegated permission grants (C(oauth2PermissionGrants)) after the run.
  returned: state is present
  type: list
  elements: dict
  version_added: 0.3.0
  sample: [{resource: mtp, consent_type: AllPrincipals, principal: null, scopes: [AdvancedHunting.Read]},
           {resource: mtp, consent_type: Principal, principal: analyst@contoso.com, scopes: [Incident.ReadWrite]}]
  contains:
    resource:
      description: V(mtp), V(wdatp), V(graph) or the resource service principal id.
      type: str
    consent_type:
      description: V(AllPrincipals) or V(Principal).
      type: str
    principal:
      description: For a C(Principal) grant, the user as given in O(consent.users) (else its object id).
      type: str
    scopes:
      description: The consented scope names, sorted.
      type: list
      elements: str
credential:
  description: Metadata of the managed credential (never its value).
  returned: state is present
  type: dict
  sample: {type: secret, key_id: 5b0f..., display_name: "m365.defender:mtp-soc:2026-01-01T00:00:00Z",
           end_date_time: "2027-01-01T00:00:00Z", hint: abc}
client_secret:
  description:
    - The new client secret. Returned only by the run that created it; Graph never shows it again.
    - Also returned when a later step fails (for example O(wait_for_ready) timing out), with RV(app_id).
    - "Put C(no_log: true) on the task."
  returned: when a secret was created (also on failure)
  type: str
plan:
  description: The Graph writes made (or, in check mode, that would be made).
  returned: always
  type: list
  elements: dict
adopted:
  description: Whether an existing app was adopted by O(display_name).
  returned: when adopted
  type: bool
restored:
  description: Whether a soft-deleted app was restored.
  returned: when restored
  type: bool
"""

from ansible_collections.m365.defender.plugins.module_utils._app_readiness import ReadinessProbe
from ansible_collections.m365.defender.plugins.module_utils._app_setup import (
    AppSetup,
    failure_extras,
    prepare_params,
    task_result,
)
from ansible_collections.m365.defender.plugins.module_utils._errors import MtpError
from ansible_collections.m365.defender.plugins.module_utils._module import MtpModule


def argument_spec():
    return dict(
        unique_name=dict(type="str"),
        display_name=dict(type="str"),
        app_id=dict(type="str"),
        adopt_by_display_name=dict(type="bool", default=False),
        restore_deleted=dict(type="bool", default=False),
        permissions=dict(type="list", elements="dict", default=[], options=dict(
            resource=dict(type="str", required=True),
            application=dict(type="list", elements="str", default=[]),
            delegated=dict(type="list", elements="str", default=[]),
        )),
        presets=dict(type="list", elements="str", default=[]),
        delegated_presets=dict(type="list", elements="str", default=[]),
        client_type=dict(type="str", choices=["confidential", "public"]),
        consent=dict(type="dict", options=dict(
            type=dict(type="str", choices=["all_principals", "principal", "none"], default="all_principals"),
            users=dict(type="list", elements="str", default=[]),
        )),
        purge_permissions=dict(type="bool", default=False),
        credential=dict(type="str", choices=["secret", "certificate", "federated", "none"]),
        rotate_before_days=dict(type="int", default=30),
        secret_lifetime_days=dict(type="int", default=365, no_log=False),
        secret_dest=dict(type="path"),
        certificate=dict(type="dict", options=dict(path=dict(type="path"), content=dict(type="str"))),
        federated=dict(type="dict", options=dict(
            name=dict(type="str", required=True),
            issuer=dict(type="str", required=True),
            subject=dict(type="str", required=True),
            audiences=dict(type="list", elements="str", default=["api://AzureADTokenExchange"]),
        )),
        replication_timeout=dict(type="int", default=300),
        wait_for_ready=dict(type="bool", default=False),
        state=dict(type="str", choices=["present", "absent"], default="present"),
        purge=dict(type="bool", default=False),
    )


def main():
    module = MtpModule(argument_spec=argument_spec(), supports_check_mode=True)
    setup = None
    try:
        params = prepare_params(module.params)
        client = module.client()
        probe = ReadinessProbe(params, session=client.session) if params.get("wait_for_ready") and not module.check_mode \
            else None
        setup = AppSetup(client, params, check_mode=module.check_mode, warn=module.warn, probe=probe)
        result = task_result(setup.run(), params, module.diff)
    except MtpError as exc:
        module.fail_json_mtp(exc, **failure_extras(setup))  # a secret created before the failure is returned
    else:
        module.exit_json(**result)


if __name__ == "__main__":
    main()
