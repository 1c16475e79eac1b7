# -*- coding: utf-8 -*-
# Copyright (c) m365.defender contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""FOR INTERNAL COLLECTION USE ONLY. ``MtpModule``: the base of every module, composing ``AnsibleModule``.

After amazon.aws ``AnsibleAWSModule``: the common argument spec (``_options.common_argument_spec()``) is
merged into a fresh dict with the module's own options; ``params``, ``check_mode``, ``diff`` (``_diff``),
``warn``, ``log``, ``exit_json`` and ``fail_json`` are proxied; ``client()`` returns one cached
``MtpClient``; ``fail_json_mtp(exc)`` turns any ``MtpError`` into a failed result. A module's ``main()``::

    module = MtpModule(argument_spec=dict(name=dict(type="str", required=True)), supports_check_mode=True)
    try:
        result = run(module.client(), module.params)
    except MtpError as exc:
        module.fail_json_mtp(exc)
    module.exit_json(**result)
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible.module_utils.basic import AnsibleModule, missing_required_lib
from ansible.module_utils.common.arg_spec import ArgumentSpecValidator
from ansible.module_utils.common.validation import check_type_dict

from ansible_collections.m365.defender.plugins.module_utils._errors import MtpDependencyError, MtpError
from ansible_collections.m365.defender.plugins.module_utils._http import HAS_REQUESTS, REQUESTS_IMPORT_ERROR
from ansible_collections.m365.defender.plugins.module_utils._options import (
    MtpOptionAdapter,
    check_options,
    common_argument_spec,
)

try:
    from importlib.util import find_spec
except ImportError:  # pragma: no cover - Python 2
    find_spec = None

# Found, not imported: a task whose token is cached never imports msal (see _token_cache.peek_access_token).
HAS_MSAL = find_spec is None or find_spec("msal") is not None
MSAL_IMPORT_ERROR = None if HAS_MSAL else "ImportError: No module named 'msal'"

# auth_method values that need msal in the module process
MSAL_METHODS = frozenset(("client_secret", "certificate", "workload_identity", "device_code", "username_password", "refresh_token"))


class _ModuleDisplay(object):
    """What the HTTP and auth code print through, routed to the module: ``warning`` -> ``module.warn``,
    verbose text -> ``module.log`` (syslog/journal). Callable like a plain ``display`` function."""

    def __init__(self, module):
        self._module = module

    def __call__(self, msg):
        self._module.warn(msg)

    def display(self, msg):
        self._module.warn(msg)

    def warning(self, msg):
        self._module.warn(msg)

    warn = warning

    def _log(self, msg, host=None):
        self._module.log(msg)

    v = vv = vvv = vvvv = debug = _log


def _unparseable_dicts(spec, params):
    """``{option: value}`` for dict options with sub-options whose value is text that is not a dictionary.

    AnsibleModule collects the ``no_log`` values of *all* options in one pass that stops at such a value, so
    its failure would print every secret of the task. These options are found first (see ``_AnsibleModule``).
    """
    bad = {}
    for name, opts in spec.items():
        value = params.get(name)
        if opts.get("options") is None or value is None:
            continue
        items = value if opts.get("type") == "list" and isinstance(value, list) else [value]
        for item in items:
            if isinstance(item, dict):
                continue
            try:
                check_type_dict(item)
            except TypeError:
                bad[name] = value
                break
    return bad


class _AnsibleModule(AnsibleModule):
    """``AnsibleModule`` whose every failure masks the ``no_log`` values and names a bad dict option."""

    def _load_params(self):
        super(_AnsibleModule, self)._load_params()
        self._mtp_bad_dicts = _unparseable_dicts(self.argument_spec, self.params)
        if self._mtp_bad_dicts:
            clean = dict((k, v) for k, v in self.params.items() if k not in self._mtp_bad_dicts)
            spec = dict((k, v) for k, v in self.argument_spec.items() if k not in self._mtp_bad_dicts)
            # pylint: disable-next=protected-access
            self.no_log_values.update(ArgumentSpecValidator(spec).validate(clean)._no_log_values)

    def fail_json(self, msg, **kwargs):
        bad = getattr(self, "_mtp_bad_dicts", None)
        if bad and "dictionary requested" in str(msg):
            msg = "; ".join("argument '%s' is of type %s and could not be converted to a dictionary: give a "
                            "mapping (or JSON / key=value text)" % (name, type(value).__name__)
                            for name, value in sorted(bad.items()))
        super(_AnsibleModule, self).fail_json(msg=msg, **kwargs)


class MtpModule(object):
    """``AnsibleModule`` plus the collection's common options, one API client and one error path."""

    def __init__(self, argument_spec=None, **kwargs):
        spec = common_argument_spec()
        spec.update(argument_spec or {})
        self._module = _AnsibleModule(argument_spec=spec, **kwargs)
        self._client = None
        self.adapter = MtpOptionAdapter.from_ansible_module(self._module)
        if not HAS_REQUESTS:
            self._module.fail_json(msg=missing_required_lib("requests"), exception=REQUESTS_IMPORT_ERROR)
        if not HAS_MSAL and self.adapter.value("auth_method") in MSAL_METHODS:
            self._module.fail_json(msg=missing_required_lib("msal"), exception=MSAL_IMPORT_ERROR)

    # -- proxies ---------------------------------------------------------------------------------------

    @property
    def params(self):
        return self._module.params

    @property
    def check_mode(self):
        return self._module.check_mode

    @property
    def diff(self):
        return self._module._diff

    @property
    def _diff(self):
        return self._module._diff

    @property
    def ansible_module(self):
        return self._module

    def warn(self, *args, **kwargs):
        return self._module.warn(*args, **kwargs)

    def log(self, *args, **kwargs):
        return self._module.log(*args, **kwargs)

    def exit_json(self, *args, **kwargs):
        return self._module.exit_json(*args, **kwargs)

    def fail_json(self, *args, **kwargs):
        return self._module.fail_json(*args, **kwargs)

    # -- the API client --------------------------------------------------------------------------------

    def client(self, api=None):
        """The one ``MtpClient`` of this task (``api`` is accepted for symmetry; one client serves all three)."""
        if self._client is None:
            from ansible_collections.m365.defender.plugins.module_utils._authenticator import MtpAuthenticator
            from ansible_collections.m365.defender.plugins.module_utils._http import MtpClient, build_session
            from ansible_collections.m365.defender.plugins.module_utils._clouds import resolve_endpoints

            display = _ModuleDisplay(self._module)
            check_options(self.adapter, warn=self._module.warn)
            session = build_session(self.adapter)
            endpoints = resolve_endpoints(self.adapter)
            # A module cannot show a device code to the user in time: no display -> cache only, fail clearly.
            auth_display = None if self.adapter.value("auth_method") == "device_code" else display
            authenticator = MtpAuthenticator(self.adapter, endpoints=endpoints, session=session, display=auth_display)
            authenticator.validate()
            self._client = MtpClient(self.adapter, authenticator=authenticator, display=display, session=session,
                                     endpoints=endpoints)
        return self._client

    def fail_json_mtp(self, exc, msg=None, **kwargs):
        """Fail the task from an ``MtpError``: its message (or ``msg: <message>``) plus ``exc.to_result()``."""
        if isinstance(exc, MtpDependencyError):
            self._module.fail_json(msg=missing_required_lib(exc.library), **kwargs)
        result = {}
        if isinstance(exc, MtpError):
            result.update(exc.to_result())
        result.update(kwargs)
        text = getattr(exc, "msg", None) or str(exc)
        self._module.fail_json(msg="%s: %s" % (msg, text) if msg else text, **result)
