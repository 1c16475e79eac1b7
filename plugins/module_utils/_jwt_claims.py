# -*- coding: utf-8 -*-
# Copyright (c) m365.defender contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""FOR INTERNAL COLLECTION USE ONLY. Read the claims of a JWT without verifying it.

The result is used for messages only (``roles``, ``scp``, ``aud``, ``exp``): nothing is trusted from it.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import base64
import binascii
import json


def _b64url_decode(segment):
    padded = segment + "=" * (-len(segment) % 4)
    return base64.urlsafe_b64decode(padded.encode("ascii"))


def looks_like_jwt(token):
    """True when ``token`` has three dot-separated base64url segments whose first two decode to JSON objects."""
    try:
        decode_claims(token)
        decode_header(token)
    except ValueError:
        return False
    return True


def _segment(token, index):
    if not isinstance(token, str):
        raise ValueError("the token is not a string")
    parts = token.strip().split(".")
    if len(parts) != 3 or not parts[0] or not parts[1]:
        raise ValueError("the token does not have the three dot-separated parts of a JWT")
    try:
        value = json.loads(_b64url_decode(parts[index]).decode("utf-8"))
    except (binascii.Error, UnicodeError, ValueError):
        # never echo the segment: it is part of a bearer token
        raise ValueError("part %d of the token is not base64url-encoded JSON" % (index + 1))
    if not isinstance(value, dict):
        raise ValueError("part %d of the token is not a JSON object" % (index + 1))
    return value


def decode_claims(token):
    """Return the payload of ``token`` as a dict, unverified. Raises ``ValueError`` when it is not a JWT."""
    return _segment(token, 1)


def decode_header(token):
    """Return the JOSE header of ``token`` as a dict, unverified."""
    return _segment(token, 0)


def summarize_claims(claims):
    """The non-secret claims worth showing in a message: audience, tenant, app, roles/scopes, expiry."""
    keys = ("aud", "iss", "tid", "appid", "azp", "oid", "upn", "roles", "scp", "exp")
    return dict((k, claims[k]) for k in keys if k in claims)
