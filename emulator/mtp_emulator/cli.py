"""``mtp-emulator`` / ``python -m mtp_emulator``: run the emulator until SIGTERM or SIGINT."""

from __future__ import annotations

import argparse
import logging
import os
import shlex
import signal
import sys
import threading

import yaml

from . import __version__
from .routes_control import RESET_MODES
from .state import EmulatorConfig, FaultConfig

LOG = logging.getLogger("mtp_emulator.cli")


def _port(text: str) -> int:
    value = int(text)
    if not 0 <= value <= 65535:
        raise argparse.ArgumentTypeError("a port is between 0 and 65535 (0 = any free port)")
    return value


def _non_negative(kind):
    def parse(text: str):
        value = kind(text)
        if value < 0:
            raise argparse.ArgumentTypeError("must be >= 0")
        return value

    parse.__name__ = kind.__name__
    return parse


def _positive(kind):
    def parse(text: str):
        value = kind(text)
        if value <= 0:
            raise argparse.ArgumentTypeError("must be > 0")
        return value

    parse.__name__ = kind.__name__
    return parse


def _route_value(text: str) -> tuple[str, str]:
    route, sep, value = text.rpartition("=")
    if not sep or not route.strip() or not value.strip():
        raise argparse.ArgumentTypeError(f"expected ROUTE=VALUE, got {text!r}")
    return route.strip(), value.strip()


def _error_rate(text: str) -> tuple[str, float]:
    route, value = _route_value(text)
    try:
        p = float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"the probability in {text!r} is not a number") from None
    if not 0 <= p <= 1:
        raise argparse.ArgumentTypeError(f"the probability in {text!r} is not between 0 and 1")
    return route, p


def _reset(text: str) -> tuple[str, str]:
    route, value = _route_value(text)
    if value not in RESET_MODES:
        raise argparse.ArgumentTypeError(f"the mode in {text!r} is not 'before' or 'after'")
    return route, value


def _throttle(text: str) -> tuple[str, int]:
    route, value = _route_value(text)
    try:
        n = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"the count in {text!r} is not an integer") from None
    if n < 0:
        raise argparse.ArgumentTypeError(f"the count in {text!r} is negative")
    return route, n


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="mtp-emulator",
        description="Offline HTTPS emulator of Entra ID, Microsoft Graph and the Defender XDR APIs. "
                    "Runs until SIGTERM or SIGINT (Ctrl-C).",
        epilog="ROUTE is an fnmatch pattern on 'METHOD /path', e.g. 'POST /v1.0/applications*' or "
               "'* /api/advancedhunting/run' (quote it in the shell). Faults can also be changed at run time "
               "through the control plane: PUT/PATCH <control_url>/faults.",
    )
    p.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    net = p.add_argument_group("listeners")
    net.add_argument("--host", default="127.0.0.1", choices=["127.0.0.1"],
                     help="address to bind every listener to (only 127.0.0.1 is allowed)")
    net.add_argument("--port", type=_port, default=0,
                     help="main HTTPS port: login, Graph, Defender and the control plane (default 0 = a free port)")
    net.add_argument("--gov-port", type=_port, default=0,
                     help="HTTPS port of the US Government login cloud listener (default 0 = a free port)")
    net.add_argument("--imds-port", type=_port, default=0,
                     help="plain-HTTP port of the managed-identity endpoint, for "
                          "AZURE_POD_IDENTITY_AUTHORITY_HOST (default 0 = a free port)")
    net.add_argument("--proxy-port", type=_port, default=0,
                     help="port of the CONNECT proxy that tunnels only the Microsoft host names "
                          "(default 0 = a free port)")
    net.add_argument("--no-proxy", action="store_true", help="do not start the CONNECT proxy")

    files = p.add_argument_group("files")
    files.add_argument("--state-dir", metavar="DIR",
                       help="directory for ca.pem and the TLS leaf; reused across runs (default: a temporary "
                            "directory removed at exit)")
    files.add_argument("--fixture", metavar="FILE",
                       help="YAML or JSON fixture with the tenants to load (default: the built-in fixture)")
    files.add_argument("--data", metavar="FILE", action="append", default=[],
                       help="YAML or JSON data document (hunting rows, incidents, devices; see POST /_emulator/data) "
                            "loaded into the fixture's tenant at start-up and after every reset; repeatable")
    files.add_argument("--persist", metavar="FILE",
                       help="save the state to FILE (within a second of each change, and at exit) and restore "
                            "it from FILE at start")
    files.add_argument("--endpoints-file", metavar="FILE",
                       help="write the endpoints JSON (URLs, CA path, test tenants and their test credentials) "
                            "to FILE, atomically, once listening; removed at exit")
    files.add_argument("--print-env", action="store_true",
                       help="print shell 'export' lines (AZURE_AUTHORITY_HOST, MTP_AUTHORITY_HOST, MTP_GRAPH_URL, "
                            "MTP_API_URL, MTP_CA_PATH, AZURE_TENANT_ID, AZURE_CLIENT_ID, AZURE_CLIENT_SECRET, "
                            "...) on stdout once listening; they hold the fixture's test-only secret")
    files.add_argument("--request-log", metavar="FILE",
                       help="append a JSON line per request to FILE (secrets masked, no response bodies)")

    faults = p.add_argument_group("faults")
    faults.add_argument("--latency-ms", type=_non_negative(int), default=0, metavar="MS",
                        help="delay every non-control request by MS milliseconds")
    faults.add_argument("--error-rate", type=_error_rate, action="append", default=[], metavar="ROUTE=P",
                        help="answer 503 (in the API family's error shape) with probability P on ROUTE; "
                             "repeatable")
    faults.add_argument("--reset", type=_reset, action="append", default=[], metavar="ROUTE=before|after",
                        help="drop the TCP connection (RST) on ROUTE before the handler runs (nothing changes) "
                             "or after it ran (the change is committed, no response); repeatable")
    faults.add_argument("--throttle", type=_throttle, action="append", default=[], metavar="ROUTE=N",
                        help="answer 429 with Retry-After to the next N requests on ROUTE; repeatable")
    faults.add_argument("--retry-after", type=_non_negative(int), default=1, metavar="S",
                        help="Retry-After seconds sent with the throttling 429s (default 1)")

    tun = p.add_argument_group("behaviour")
    tun.add_argument("--token-lifetime", type=_positive(int), default=3599, metavar="S",
                     help="lifetime of issued access tokens in seconds (default 3599)")
    tun.add_argument("--replication-lag", type=_non_negative(float), default=0.0, metavar="S",
                     help="seconds before a new directory object is visible to reads and references "
                          "(default 0)")
    tun.add_argument("--quota-scale", type=_positive(float), default=1.0, metavar="F",
                     help="multiply the Defender API quotas by F (default 1.0)")
    tun.add_argument("--hunting-rows", type=_non_negative(int), default=None, metavar="N",
                     help="rows per table of generated advanced-hunting data (default: the hunting engine's)")
    p.add_argument("--log-level", default="INFO", type=str.upper,
                   choices=["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"],
                   help="log level of the emulator's own log on stderr (default INFO)")
    return p


def config_from_args(args: argparse.Namespace) -> EmulatorConfig:
    faults = FaultConfig(
        latency_ms=args.latency_ms,
        error_rate=dict(args.error_rate),
        reset=dict(args.reset),
        throttle=dict(args.throttle),
        throttle_retry_after=args.retry_after,
    )
    config = EmulatorConfig(token_lifetime=args.token_lifetime, replication_lag=args.replication_lag,
                            quota_scale=args.quota_scale, faults=faults)
    if args.hunting_rows is not None:
        config.hunting_rows = args.hunting_rows  # read with getattr(state.config, "hunting_rows", default)
    return config


def env_lines(endpoints: dict, endpoints_file: str | None = None) -> list[str]:
    """``export`` lines for a shell, from the endpoints dict."""
    tenant = (endpoints.get("tenants") or [{}])[0]
    app = tenant.get("hunting_app") or tenant.get("admin_app") or {}
    admin = tenant.get("admin_app") or {}
    values = [
        ("AZURE_AUTHORITY_HOST", endpoints["authority_host"]),  # the collection's authority_host (and azure-identity)
        ("MTP_AUTHORITY_HOST", endpoints["authority_host"]),
        ("MTP_GRAPH_URL", endpoints["graph_url"]),
        ("MTP_API_URL", endpoints["api_url"]),
        ("MTP_MDE_URL", endpoints["mde_url"]),
        ("MTP_CA_PATH", endpoints["ca_path"]),
        ("AZURE_TENANT_ID", tenant.get("id")),
        ("AZURE_CLIENT_ID", app.get("client_id")),
        ("AZURE_CLIENT_SECRET", app.get("client_secret")),
        ("AZURE_POD_IDENTITY_AUTHORITY_HOST", endpoints["imds_url"]),
        ("MTP_EMULATOR_ADMIN_CLIENT_ID", admin.get("client_id")),
        ("MTP_EMULATOR_ADMIN_CLIENT_SECRET", admin.get("client_secret")),
        ("MTP_EMULATOR_GOV_AUTHORITY_HOST", endpoints.get("gov_authority_host")),
        ("MTP_EMULATOR_CONTROL_URL", endpoints["control_url"]),
        ("MTP_EMULATOR_PROXY_URL", endpoints.get("proxy_url")),
        ("MTP_EMULATOR_ENDPOINTS", endpoints_file),
    ]
    lines = [f"export {name}={shlex.quote(str(value))}" for name, value in values if value]
    if endpoints.get("proxy_url"):
        lines.append(f"# proxy mode (real default URLs): export HTTPS_PROXY={shlex.quote(endpoints['proxy_url'])} "
                     f"REQUESTS_CA_BUNDLE={shlex.quote(endpoints['ca_path'])} NO_PROXY=127.0.0.1,localhost")
    return lines


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=args.log_level, stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    from .server import EmulatorServer, write_json_atomic  # after logging is set up

    stop = threading.Event()

    def _on_signal(signum, frame):
        LOG.info("received %s, stopping", signal.Signals(signum).name)
        stop.set()

    signal.signal(signal.SIGTERM, _on_signal)
    signal.signal(signal.SIGINT, _on_signal)

    fixture = args.fixture
    if args.data:
        from . import seed

        try:
            fixture = seed.load_fixture_file(args.fixture) if args.fixture else seed.default_fixture()
            for path in args.data:
                seed.merge_data(fixture, seed.load_fixture_file(path))
        except (OSError, ValueError, yaml.YAMLError) as exc:
            LOG.error("cannot load the data file: %s: %s", type(exc).__name__, exc)
            return 1
    server = EmulatorServer(
        fixture=fixture, config=config_from_args(args), state_dir=args.state_dir, host=args.host,
        port=args.port, gov_port=args.gov_port, imds_port=args.imds_port, proxy_port=args.proxy_port,
        proxy=not args.no_proxy, persist=args.persist, request_log=args.request_log,
    )
    try:
        server.start()
    except (OSError, ValueError, KeyError, TypeError, yaml.YAMLError) as exc:
        # a taken port, an unreadable or malformed fixture or state file
        LOG.error("cannot start: %s: %s", type(exc).__name__, exc)
        return 1
    try:
        if args.print_env:
            print("\n".join(env_lines(server.endpoints, args.endpoints_file)), flush=True)
        # Written last: once the file exists, the listeners are up and the env lines are out.
        if args.endpoints_file:
            try:
                write_json_atomic(args.endpoints_file, server.endpoints)
            except OSError as exc:
                LOG.error("cannot write the endpoints file %s: %s", args.endpoints_file, exc.strerror or exc)
                return 1
        while not stop.wait(0.5):
            pass
    finally:
        server.stop()
        if args.endpoints_file and os.path.exists(args.endpoints_file):
            os.unlink(args.endpoints_file)
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
