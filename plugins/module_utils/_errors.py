# -*- coding: utf-8 -*-
# Copyright (c) m365.defender contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""FOR INTERNAL COLLECTION USE ONLY. The one exception family of the collection.

Low-level code raises these; a module's ``main()`` catches ``MtpError`` once and calls
``MtpModule.fail_json_mtp(exc)``; plugins turn them into ``AnsibleLookupError``/``AnsibleParserError``.
Messages never carry a secret.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type


class MtpError(Exception):
    """Base class. ``to_result()`` gives the extra keys a failed task returns."""

    def __init__(self, msg):
        super(MtpError, self).__init__(msg)
        self.msg = msg

    def to_result(self):
        return {}


class MtpConfigError(MtpError):
    """Bad or missing options, found before any network call."""

    def __init__(self, msg, option=None):
        super(MtpConfigError, self).__init__(msg)
        self.option = option

    def to_result(self):
        return {"option": self.option} if self.option else {}


class MtpDependencyError(MtpError):
    """A required Python library is missing."""

    def __init__(self, library, reason=None):
        msg = "The Python library %s is required on the host that runs this task" % library
        if reason:
            msg += " (%s)" % reason
        super(MtpDependencyError, self).__init__(msg)
        self.library = library


class MtpAuthError(MtpError):
    """Entra ID refused a token request. ``aadsts`` is the AADSTS number, ``hint`` what to do about it."""

    def __init__(self, msg, aadsts=None, error=None, hint=None, correlation_id=None):
        super(MtpAuthError, self).__init__(msg)
        self.aadsts = aadsts
        self.error = error
        self.hint = hint
        self.correlation_id = correlation_id

    def to_result(self):
        result = {}
        if self.aadsts:
            result["aadsts"] = self.aadsts
        if self.error:
            result["error"] = self.error
        if self.hint:
            result["hint"] = self.hint
        if self.correlation_id:
            result["correlation_id"] = self.correlation_id
        return result


class MtpApiError(MtpError):
    """An API call failed: HTTP status, service error code, message, and the request/tracking id."""

    def __init__(self, msg, status=None, code=None, request_id=None, target=None, body=None, hint=None,
                 details=None, service_message=None):
        super(MtpApiError, self).__init__(msg)
        self.status = status
        self.code = code
        self.request_id = request_id
        self.target = target
        self.body = body
        self.hint = hint
        self.details = list(details or [])  # the error.details[].code values (Graph)
        self.service_message = service_message  # error.message as the service wrote it
        self.context = None  # what the call was doing ("get incident 1234"), set by _api_errors.ErrorHandler

    def to_result(self):
        result = {"status": self.status}
        if self.code:
            result["error_code"] = self.code
        if self.request_id:
            result["request_id"] = self.request_id
        if self.target:
            result["target"] = self.target
        if self.hint:
            result["hint"] = self.hint
        return result


class MtpTimeoutError(MtpError):
    """A deadline-bound wait (``_retry.wait_until``/``retry_call``) ran out. ``last`` is the probe's last answer
    (or the last exception), ``waited`` the seconds spent."""

    def __init__(self, msg, last=None, waited=0.0):
        super(MtpTimeoutError, self).__init__(msg)
        self.last = last
        self.waited = waited
