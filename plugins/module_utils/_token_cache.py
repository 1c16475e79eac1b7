# -*- coding: utf-8 -*-
# Copyright (c) m365.defender contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""FOR INTERNAL COLLECTION USE ONLY. A per-user token cache shared by processes.

One file per (cloud, tenant, client, authority host) under the ``token_cache`` directory holds MSAL's
``SerializableTokenCache`` and MSAL's ``http_cache`` (so a new process makes no discovery request). Files are
mode 0600 in a 0700 directory and are replaced atomically (temporary file + ``os.replace``). A cross-process
lock from msal-extensions is held around load -> acquire -> save, so processes that start together send one
token request between them. The files hold bearer tokens in clear, like the Azure CLI's cache on Linux.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import base64
import contextlib
import hashlib
import io
import json
import logging
import os
import pickle
import re
import tempfile
import time

try:
    import msal

    HAS_MSAL = True
except ImportError:
    msal = None
    HAS_MSAL = False

try:
    from msal_extensions import CrossPlatLock, LockError

    HAS_MSAL_EXTENSIONS = True
except ImportError:
    CrossPlatLock = LockError = None
    HAS_MSAL_EXTENSIONS = False

from ansible_collections.m365.defender.plugins.module_utils._errors import MtpConfigError, MtpDependencyError

FORMAT_VERSION = 1
LOCK_WAIT = 120  # seconds a process waits for another one to finish its token request

# msal-extensions warns on stderr when it waits for the lock file: that is expected here.
logging.getLogger("msal_extensions").setLevel(logging.ERROR)

_SAFE = re.compile(r"[^A-Za-z0-9._-]+")

# What the persisted http_cache may contain besides plain containers (MSAL stores normalized responses).
_PICKLE_ALLOWED = frozenset((
    ("msal.throttled_http_client", "NormalizedResponse"),
    ("copyreg", "_reconstructor"),
    ("builtins", "object"),
))


class _RestrictedUnpickler(pickle.Unpickler):
    def find_class(self, module, name):
        if (module, name) in _PICKLE_ALLOWED:
            return super(_RestrictedUnpickler, self).find_class(module, name)
        raise pickle.UnpicklingError("%s.%s is not allowed in the HTTP cache" % (module, name))


def _dump_http_cache(http_cache):
    return base64.b64encode(pickle.dumps(dict(http_cache), protocol=4)).decode("ascii")


def _load_http_cache(text):
    return _RestrictedUnpickler(io.BytesIO(base64.b64decode(text))).load()


def cache_file_name(cloud, tenant_id, client_id, authority_host):
    digest = hashlib.sha256(authority_host.lower().encode("utf-8")).hexdigest()[:10]
    parts = [_SAFE.sub("_", str(p or "none")) for p in (cloud, tenant_id.lower(), client_id.lower())]
    return "%s-%s.json" % ("-".join(parts), digest)


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

    def __init__(self, directory, cloud, tenant_id, client_id, authority_host, lock_wait=LOCK_WAIT):
        if not HAS_MSAL:
            raise MtpDependencyError("msal")
        self.cache = msal.SerializableTokenCache()
        self.http_cache = {}
        self.directory = directory
        self.lock_wait = lock_wait
        self.path = None
        self.lock_path = None
        if directory:
            self.path = os.path.join(directory, cache_file_name(cloud, tenant_id, client_id, authority_host))
            self.lock_path = self.path + ".lock"
        self._loaded_stamp = None
        self._http_snapshot = _dump_http_cache(self.http_cache)

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
        except (OSError, ValueError, KeyError, TypeError, AttributeError, EOFError, pickle.UnpicklingError):
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
        if not (force or self.cache.has_state_changed or http_dump != self._http_snapshot):
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
        if not self.persistent or not HAS_MSAL_EXTENSIONS:
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
