"""The emulator's private CA and its TLS leaf certificate.

``ensure_certs(state_dir)`` writes, into ``state_dir``:

- ``ca.pem``: the CA certificate clients trust (``REQUESTS_CA_BUNDLE``, ``ca_path``, ``connection_verify``);
- ``leaf.pem``: the server certificate followed by the CA certificate (the chain the listeners present);
- ``leaf-key.pem``: the server's private key (mode 0600).

The leaf carries ``127.0.0.1``, ``localhost`` and every Microsoft host name the emulator stands in for
(:data:`MICROSOFT_HOSTS`), so the same certificate serves explicit ``https://127.0.0.1:PORT`` URLs and the real
host names tunnelled through the CONNECT proxy. Existing files are reused when they still cover every name, so a
client that trusted ``ca.pem`` keeps trusting it across restarts with the same state directory.
"""

from __future__ import annotations

import datetime as _dt
import ipaddress
import os
import ssl
from dataclasses import dataclass

import trustme
from cryptography import x509

# Entra ID (login) host names: commercial, then US Government.
LOGIN_HOSTS = (
    "login.microsoftonline.com",
    "login.windows.net",
    "login.microsoftonline.us",
)
# Login hosts of the US Government cloud: the proxy sends them to the gov listener.
GOV_LOGIN_HOSTS = frozenset({"login.microsoftonline.us"})

GRAPH_HOSTS = (
    "graph.microsoft.com",
    "graph.microsoft.us",
    "dod-graph.microsoft.us",
)

DEFENDER_HOSTS = (
    "api.security.microsoft.com",
    "api-us.security.microsoft.com",
    "api-eu.security.microsoft.com",
    "api-uk.security.microsoft.com",
    "api-gcc.security.microsoft.us",
    "api-gov.security.microsoft.us",
    "api.securitycenter.microsoft.com",
    "api-gcc.securitycenter.microsoft.us",
    "api-gov.securitycenter.microsoft.us",
)

#: Every Microsoft host name the emulator answers for (and the only ones the proxy tunnels).
MICROSOFT_HOSTS = LOGIN_HOSTS + GRAPH_HOSTS + DEFENDER_HOSTS

LOCAL_NAMES = ("127.0.0.1", "localhost")

CA_FILE = "ca.pem"
LEAF_FILE = "leaf.pem"
LEAF_KEY_FILE = "leaf-key.pem"


@dataclass(frozen=True)
class CertPaths:
    ca_path: str
    cert_path: str
    key_path: str

    def server_context(self) -> ssl.SSLContext:
        """A server-side TLS context presenting the leaf (TLS 1.2+)."""
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.minimum_version = ssl.TLSVersion.TLSv1_2
        ctx.load_cert_chain(self.cert_path, self.key_path)
        ctx.num_tickets = 0  # no session tickets: clients reuse connections (keep-alive), not TLS sessions
        return ctx


def required_names() -> tuple[str, ...]:
    return LOCAL_NAMES + MICROSOFT_HOSTS


def _covers(cert_path: str, names: tuple[str, ...]) -> bool:
    """True when the leaf at ``cert_path`` is valid now and carries every name as a SAN."""
    try:
        with open(cert_path, "rb") as fh:
            cert = x509.load_pem_x509_certificate(fh.read())
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except (OSError, ValueError, x509.ExtensionNotFound):
        return False
    now = _dt.datetime.now(_dt.timezone.utc)
    if not cert.not_valid_before_utc <= now < cert.not_valid_after_utc:
        return False
    dns = {n.lower() for n in san.get_values_for_type(x509.DNSName)}
    ips = {str(ip) for ip in san.get_values_for_type(x509.IPAddress)}
    for name in names:
        try:
            ipaddress.ip_address(name)
        except ValueError:
            if name.lower() not in dns:
                return False
        else:
            if name not in ips:
                return False
    return True


def ensure_certs(state_dir: str) -> CertPaths:
    """Create (or reuse) the CA and the leaf in ``state_dir``; return their paths."""
    os.makedirs(state_dir, mode=0o700, exist_ok=True)
    paths = CertPaths(
        ca_path=os.path.join(state_dir, CA_FILE),
        cert_path=os.path.join(state_dir, LEAF_FILE),
        key_path=os.path.join(state_dir, LEAF_KEY_FILE),
    )
    names = required_names()
    if all(os.path.exists(p) for p in (paths.ca_path, paths.key_path)) and _covers(paths.cert_path, names):
        return paths

    ca = trustme.CA(organization_name="mtp_emulator", organization_unit_name="mtp_emulator test CA")
    leaf = ca.issue_cert(*names, common_name="mtp-emulator")
    # The key first, with a restrictive mode, then the public parts.
    fd = os.open(paths.key_path + ".tmp", os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(leaf.private_key_pem.bytes())
    os.replace(paths.key_path + ".tmp", paths.key_path)
    chain = b"".join(blob.bytes() for blob in leaf.cert_chain_pems)
    for path, data in ((paths.cert_path, chain), (paths.ca_path, ca.cert_pem.bytes())):
        with open(path + ".tmp", "wb") as fh:
            fh.write(data)
        os.replace(path + ".tmp", path)
    return paths
