# -*- coding: utf-8 -*-
# Copyright (c) m365.defender contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""FOR INTERNAL COLLECTION USE ONLY. ``MtpActionBase``: the controller side of the API modules.

A module cannot show a device code while it waits for the user, so for ``auth_method: device_code`` the action
plugin signs the user in on the controller first (``ensure_device_code_login``: the message appears in the
Ansible output at once and the refresh token lands in the token cache), then runs the module, which finds the
token in the cache. For every other ``auth_method`` it just runs the module.

``module_defaults`` (``group/m365.defender.mtp``) are already merged into ``self._task.args`` when the task's
arguments are finalised (ansible-core 2.19 ``Task._post_validate_args`` -> ``_get_action_arg_defaults``; 2.16-2.18
``TaskExecutor`` -> ``get_action_args_with_defaults``), for action plugins as for modules; the module then gets
the same arguments. Environment fallbacks (``MTP_AUTH_METHOD``, ``AZURE_TENANT_ID``...) are applied here from
the controller's environment with the modules' own argument spec.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible.module_utils.common.arg_spec import ArgumentSpecValidator
from ansible.plugins.action import ActionBase
from ansible.utils.display import Display
from ansible.utils.vars import merge_hash

from ansible_collections.m365.defender.plugins.module_utils._errors import MtpConfigError, MtpError
from ansible_collections.m365.defender.plugins.module_utils._options import (
    MtpOptionAdapter,
    check_options,
    common_argument_spec,
)

display = Display()


def _device_code_login(adapter, show):
    from ansible_collections.m365.defender.plugins.module_utils._auth_method_device_code import ensure_device_code_login
    from ansible_collections.m365.defender.plugins.module_utils._session import build_session

    return ensure_device_code_login(adapter, show, session=build_session(adapter))


def _documented_options(action, collections):
    """The option names and aliases the module ``action`` documents, or None when its docs cannot be read."""
    from ansible.plugins.loader import fragment_loader, module_loader
    from ansible.utils.plugin_docs import get_docstring

    try:
        context = module_loader.find_plugin_with_context(action, collection_list=collections)
        doc = get_docstring(context.plugin_resolved_path, fragment_loader,
                            collection_name=context.plugin_resolved_collection)[0] or {}
    except Exception:  # pylint: disable=broad-except  # no docs: the module checks its arguments itself
        return None
    options = doc.get("options")
    if not isinstance(options, dict) or not options:
        return None
    names = set(options)
    for option in options.values():
        names.update((option or {}).get("aliases") or [])
    return names


class MtpActionBase(ActionBase):
    """Runs the module of the same name; signs in with the device code flow on the controller when asked."""

    _supports_check_mode = True
    _supports_async = True
    # Separate so tests can stand in a recorder for the interactive sign-in.
    device_code_login = staticmethod(_device_code_login)

    def controller_options(self):
        """The effective common options of this task: task args (with module_defaults) + controller env + defaults."""
        spec = common_argument_spec()
        args = dict((k, v) for k, v in self._task.args.items() if k in spec)
        result = ArgumentSpecValidator(spec).validate(args)
        return dict(result.validated_parameters)

    def check_arguments(self, options):
        """Fail as the module would, before a sign-in: unknown options, then the offline option checks."""
        known = _documented_options(self._task.action, self._task.collections)
        if known is not None:
            unknown = sorted(set(self._task.args) - known - set(common_argument_spec()))
            if unknown:
                raise MtpConfigError("Unsupported parameters for (%s) module: %s. Supported parameters include: %s."
                                     % (self._task.action, ", ".join(unknown), ", ".join(sorted(known))),
                                     option=unknown[0])
        from ansible_collections.m365.defender.plugins.module_utils._auth_method_device_code import DeviceCodeAuthMethod
        from ansible_collections.m365.defender.plugins.module_utils._clouds import resolve_endpoints

        adapter = MtpOptionAdapter.from_dict(options)
        check_options(adapter, warn=display.warning)
        DeviceCodeAuthMethod(adapter, resolve_endpoints(adapter)).validate()  # offline: tenant, client, token_cache

    def run(self, tmp=None, task_vars=None):
        result = super(MtpActionBase, self).run(tmp, task_vars)
        del tmp  # tmp no longer has any effect
        options = self.controller_options()
        if options.get("auth_method") == "device_code":
            try:
                self.check_arguments(options)
                self.device_code_login(MtpOptionAdapter.from_dict(options), display.display)
            except MtpError as exc:
                result.update(exc.to_result())
                result.update(failed=True, msg=getattr(exc, "msg", None) or str(exc))
                return result
        wrap_async = self._task.async_val and not self._connection.has_native_async
        result = merge_hash(result, self._execute_module(task_vars=task_vars, wrap_async=wrap_async))
        if not wrap_async:
            self._remove_tmp_path(self._connection._shell.tmpdir)
        return result
