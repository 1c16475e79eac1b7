# -*- coding: utf-8 -*-
# Copyright (c) m365.defender contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""FOR INTERNAL COLLECTION USE ONLY. A per-user token cache shared by processes.

One file per (cloud, tenant, client, authority host, credential) under the ``token_cache`` directory holds
MSAL's ``SerializableTokenCache`` and MSAL's ``http_cache`` (so a new process makes no discovery request).
Files are mode 0600 in a 0700 directory and are replaced atomically (temporary file + ``os.replace``). A
cross-process lock from msal-extensions is held around load -> acquire -> save, so processes that start
together send one token request between them. The files hold bearer tokens in clear, like the Azure CLI's
cache on Linux.

The credential part of the name is a fingerprint, never the secret: HMAC-SHA256 of the client secret (of the
user name and password for ROPC, of the refresh token the user brought) keyed with a random key kept (0600) in
the directory (``.credential-key``), or the certificate thumbprint. A changed or wrong credential therefore
finds no cached token and asks Entra ID, which refuses a wrong one. Only MSAL's discovery GETs of its http
cache are persisted, never its POST entries (their keys hash the form, password or refresh token included).

``peek_access_token`` reads a still-valid access token from the file with ``json`` alone, without MSAL or the
lock (the file is only ever replaced whole), so a task that finds its token cached imports neither msal nor
msal-extensions.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import base64
import binascii
import contextlib
import hashlib
import heapq
import hmac
import io
import json
import logging
import os
import re
import tempfile
import time

from ansible_collections.m365.defender.plugins.module_utils._errors import MtpConfigError, MtpDependencyError

FORMAT_VERSION = 1
LOCK_WAIT = 120  # seconds a process waits for another one to finish its token request
KEY_FILE = ".credential-key"
EXPIRY_MARGIN = 300  # MSAL treats an access token as expired 5 minutes early; so does peek_access_token

# msal-extensions warns on stderr when it waits for the lock file: that is expected here.
logging.getLogger("msal_extensions").setLevel(logging.ERROR)


def import_msal():
    try:
        import msal
    except ImportError:
        raise MtpDependencyError("msal")
    return msal


def _import_lock():
    """``(CrossPlatLock, LockError)`` from msal-extensions, or ``(None, None)`` without it."""
    try:
        from msal_extensions import CrossPlatLock, LockError
    except ImportError:
        return None, None
    return CrossPlatLock, LockError


_SAFE = re.compile(r"[^A-Za-z0-9._-]+")

# What the persisted http_cache may contain besides plain containers (MSAL stores normalized responses).
_PICKLE_ALLOWED = frozenset((
    ("msal.throttled_http_client", "NormalizedResponse"),
    ("copyreg", "_reconstructor"),
    ("builtins", "object"),
))


_INDEX_KEY = "_index_"  # msal.individual_cache._ExpiringMapping keeps its expiry index under this key


def _persistable(http_cache):
    """The discovery GETs of MSAL's http cache, without its POST entries (per-process throttling memory whose
    keys hash the whole form: the password of ROPC, a refresh token)."""
    kept = dict((k, v) for k, v in dict(http_cache).items() if not str(k).startswith("POST "))
    index = kept.get(_INDEX_KEY)
    if isinstance(index, tuple) and len(index) == 2 and isinstance(index[1], dict):
        sequence, timestamps = index
        sequence = [e for e in sequence if e[2] in kept]
        heapq.heapify(sequence)  # the expiry index is a heap
        kept[_INDEX_KEY] = (sequence, dict((k, v) for k, v in timestamps.items() if k in kept))
    return kept


def _dump_http_cache(http_cache):
    import pickle  # only when MSAL ran (the fast path never pickles)

    return base64.b64encode(pickle.dumps(_persistable(http_cache), protocol=4)).decode("ascii")


def _load_http_cache(text):
    import pickle

    class _RestrictedUnpickler(pickle.Unpickler):
        def find_class(self, module, name):
            if (module, name) in _PICKLE_ALLOWED:
                return super(_RestrictedUnpickler, self).find_class(module, name)
            raise pickle.UnpicklingError("%s.%s is not allowed in the HTTP cache" % (module, name))

    try:
        return _RestrictedUnpickler(io.BytesIO(base64.b64decode(text))).load()
    except pickle.UnpicklingError as exc:
        raise ValueError(str(exc))


def cache_file_name(cloud, tenant_id, client_id, authority_host, partition=None):
    """``<cloud>-<tenant>-<client>-<authority digest>[-<credential partition>].json``."""
    digest = hashlib.sha256(authority_host.lower().encode("utf-8")).hexdigest()[:10]
    parts = [_SAFE.sub("_", str(p or "none")) for p in (cloud, tenant_id.lower(), client_id.lower())]
    if partition:
        digest += "-" + _SAFE.sub("_", partition)
    return "%s-%s.json" % ("-".join(parts), digest)


def _read_key(path):
    with open(path, "r", encoding="ascii") as handle:
        text = handle.read().strip()
    try:
        key = binascii.unhexlify(text)
    except (binascii.Error, ValueError):
        key = b""
    if len(key) < 32:
        raise MtpConfigError("The token cache key %s is damaged: delete it (the cached tokens are then requested "
                             "again)" % path, option="token_cache")
    return key


def credential_key(directory):
    """The random HMAC key of the cache ``directory`` (created 0600 on first use, race-free across processes)."""
    path = os.path.join(directory, KEY_FILE)
    try:
        return _read_key(path)
    except FileNotFoundError:
        pass
    except OSError as exc:
        raise MtpConfigError("Cannot use the token cache in %s (%s): point token_cache at a writable directory, or "
                             "set it to false" % (directory, exc.strerror or exc), option="token_cache")
    try:
        ensure_private_dir(directory)
        fd, tmp = tempfile.mkstemp(prefix=".tmp-", suffix=".key", dir=directory)
    except OSError as exc:
        raise MtpConfigError("Cannot write the token cache in %s (%s): point token_cache at a writable directory, "
                             "or set it to false" % (directory, exc.strerror or exc), option="token_cache")
    try:
        with os.fdopen(fd, "w", encoding="ascii") as handle:
            handle.write(binascii.hexlify(os.urandom(32)).decode("ascii"))
        os.chmod(tmp, 0o600)
        try:
            os.link(tmp, path)  # atomic: the first process wins, the others read its key
        except FileExistsError:
            pass
    finally:
        os.unlink(tmp)
    return _read_key(path)


# credential kind -> the letter that starts its partition name
_PARTITION_PREFIX = {"secret": "s", "path": "f", "user": "u", "refresh_token": "r"}


def partition_name(directory, credential):
    """The file-name part for ``credential``: ``("secret", text)`` -> ``s<HMAC>``, ``("thumbprint", hex)`` ->
    ``c<thumbprint>``, ``("path", text)`` -> ``f<HMAC>``, ``("user", "<upn>\n<password>")`` -> ``u<HMAC>``,
    ``("refresh_token", text)`` -> ``r<HMAC>`` (the refresh token the user brought, not a rotated one);
    ``None`` -> ``None``."""
    if not credential or not credential[1]:
        return None
    kind, value = credential
    if kind == "thumbprint":
        return "c" + value.lower()[:20]
    digest = hmac.new(credential_key(directory), value.encode("utf-8"), hashlib.sha256).hexdigest()[:24]
    return _PARTITION_PREFIX.get(kind, "f") + digest


def ensure_private_dir(path):
    """Create ``path`` (and parents) with mode 0700 for the directories this code creates."""
    missing = []
    head = path
    while head and not os.path.isdir(head):
        missing.append(head)
        parent = os.path.dirname(head)
        if parent == head:
            break
        head = parent
    for directory in reversed(missing):
        try:
            os.mkdir(directory, 0o700)
        except FileExistsError:
            continue  # created by someone else meanwhile (or not a directory: the next mkdir says so)
        os.chmod(directory, 0o700)  # mkdir's mode is subject to the umask


class TokenCacheStore(object):
    """MSAL's token cache and http cache, in memory and (when ``directory`` is set) on disk.

    Use ``with store.transaction():`` around a token acquisition: it takes the lock, loads the file when
    another process changed it, and saves on the way out when MSAL changed anything.
    """

    def __init__(self, directory, cloud, tenant_id, client_id, authority_host, lock_wait=LOCK_WAIT, credential=None):
        self._cache = None
        self.http_cache = {}
        self.directory = directory
        self.lock_wait = lock_wait
        self.path = None
        self.lock_path = None
        if directory:
            partition = partition_name(directory, credential)
            self.path = os.path.join(directory, cache_file_name(cloud, tenant_id, client_id, authority_host, partition))
            self.lock_path = self.path + ".lock"
        self._loaded_stamp = None
        self._http_snapshot = None  # the http cache as last loaded or saved (None: empty, nothing pickled yet)

    @property
    def cache(self):
        """MSAL's ``SerializableTokenCache`` (msal is imported on first use)."""
        if self._cache is None:
            self._cache = import_msal().SerializableTokenCache()
        return self._cache

    def peek_access_token(self, scope, client_id, tenant_id, now=None):
        """``(token, expires_on)`` of a cached app token for ``scope`` valid 5 more minutes, or ``None``.

        Reads the file with ``json`` only; anything unexpected means "not found" (MSAL then decides).
        """
        if not self.persistent:
            return None
        now = time.time() if now is None else now
        try:
            with open(self.path, "r", encoding="utf-8") as handle:
                data = json.load(handle)
            entries = json.loads(data.get("token_cache") or "{}").get("AccessToken") or {}
            for entry in entries.values():
                if _usable(entry, scope, client_id, tenant_id, now):
                    return entry["secret"], int(entry["expires_on"])
        except (OSError, ValueError, TypeError, AttributeError, KeyError):
            return None
        return None

    @property
    def persistent(self):
        return self.path is not None

    def _stamp(self):
        try:
            st = os.stat(self.path)
        except FileNotFoundError:
            return None
        return (st.st_mtime_ns, st.st_size, st.st_ino)

    def load(self):
        """Read the file when it changed since the last load. A corrupt file is ignored (and later replaced)."""
        if not self.persistent:
            return
        stamp = self._stamp()
        if stamp is None or stamp == self._loaded_stamp:
            return
        try:
            with open(self.path, "r", encoding="utf-8") as handle:
                data = json.load(handle)
            if data.get("version") != FORMAT_VERSION:
                raise ValueError("unknown cache format")
            self.cache.deserialize(data.get("token_cache") or "{}")
            http_cache = _load_http_cache(data["http_cache"]) if data.get("http_cache") else {}
            self.http_cache.clear()
            self.http_cache.update(http_cache)
        except (OSError, ValueError, KeyError, TypeError, AttributeError, EOFError):
            # start afresh; the file is overwritten on the next save
            self.cache.deserialize("{}")
            self.http_cache.clear()
        self._http_snapshot = _dump_http_cache(self.http_cache)
        self._loaded_stamp = stamp

    def save(self, force=False):
        """Write the file atomically when MSAL changed the token cache or the http cache."""
        if not self.persistent:
            return
        http_dump = _dump_http_cache(self.http_cache)
        snapshot = self._http_snapshot if self._http_snapshot is not None else _dump_http_cache({})
        if not (force or self.cache.has_state_changed or http_dump != snapshot):
            return
        payload = json.dumps({"version": FORMAT_VERSION, "token_cache": self.cache.serialize(),
                              "http_cache": http_dump})
        try:
            ensure_private_dir(self.directory)
            fd, tmp = tempfile.mkstemp(prefix=".tmp-", suffix=".json", dir=self.directory)
        except OSError as exc:
            raise MtpConfigError("Cannot write the token cache in %s (%s): point token_cache at a writable "
                                 "directory, or set it to false" % (self.directory, exc.strerror or exc),
                                 option="token_cache")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                handle.write(payload)
                handle.flush()
                os.fsync(handle.fileno())
            os.chmod(tmp, 0o600)
            os.replace(tmp, self.path)
        except BaseException:
            try:
                os.unlink(tmp)
            except OSError:
                pass
            raise
        self.cache.has_state_changed = False
        self._http_snapshot = http_dump
        self._loaded_stamp = self._stamp()

    @contextlib.contextmanager
    def lock(self):
        CrossPlatLock, LockError = _import_lock() if self.persistent else (None, None)
        if CrossPlatLock is None:
            yield
            return
        try:
            ensure_private_dir(self.directory)
        except OSError as exc:
            raise MtpConfigError("Cannot create the token cache directory %s (%s): point token_cache at a writable "
                                 "directory, or set it to false" % (self.directory, exc.strerror or exc),
                                 option="token_cache")
        deadline = time.monotonic() + self.lock_wait
        while True:
            lock = CrossPlatLock(self.lock_path)
            try:
                lock.__enter__()
            except LockError:
                if time.monotonic() > deadline:
                    raise MtpConfigError("Could not lock the token cache %s within %d seconds; another process "
                                         "holds it (remove a stale %s, or set token_cache=false)"
                                         % (self.path, self.lock_wait, self.lock_path), option="token_cache")
                continue
            break
        try:
            yield
        finally:
            lock.__exit__(None, None, None)

    @contextlib.contextmanager
    def transaction(self):
        """Lock, load, run the body, save (also when the body raised: MSAL may have cached discovery)."""
        with self.lock():
            self.load()
            try:
                yield self
            finally:
                self.save()


def _usable(entry, scope, client_id, tenant_id, now):
    """Whether an MSAL ``AccessToken`` entry is the app token MSAL itself would return from its cache."""
    if entry.get("home_account_id") or entry.get("key_id") or entry.get("ext_cache_key"):
        return False
    if (entry.get("token_type") or "Bearer").lower() != "bearer":
        return False
    if (entry.get("client_id") or "").lower() != (client_id or "").lower():
        return False
    if (entry.get("realm") or "").lower() != (tenant_id or "").lower():
        return False
    if scope.lower() not in (entry.get("target") or "").lower().split():
        return False
    if int(entry.get("expires_on") or 0) - now < EXPIRY_MARGIN:
        return False
    refresh_on = entry.get("refresh_on")
    return not (refresh_on and int(refresh_on) < now) and bool(entry.get("secret"))
