"""Microsoft Graph v1.0 directory: applications, service principals, app role assignments,
oauth2PermissionGrants, credentials (passwords, certificates, federated identity credentials) and
``/directory/deletedItems``; one module per resource.

| module | what |
|---|---|
| :mod:`.applications` | ``/applications``: list, create, upsert, GET/PATCH/DELETE, add/removePassword |
| :mod:`.federated` | ``/applications/{key}/federatedIdentityCredentials`` |
| :mod:`.service_principals` | ``/servicePrincipals`` and their navigations |
| :mod:`.grants` | app role assignments and ``/oauth2PermissionGrants`` |
| :mod:`.deleted_items` | ``/directory/deletedItems`` |
| :mod:`.users` | ``/users`` (read-only: list, by id or userPrincipalName) |
| :mod:`.common` | permissions, property sets, the caller (:class:`~.common.Ctx`), bodies, responses, views |

Paths are parsed here (not by Flask converters) so that OData alternate keys work everywhere:
``/applications(uniqueName='k')``, ``/applications(appId='…')/addPassword``,
``/servicePrincipals(appId='…')/appRoleAssignments``, ``…/federatedIdentityCredentials(name='n')``.
:func:`dispatch` authenticates the caller, splits the path into OData segments and hands over to the
resource's handler ``handler(ctx, segments, method)``.

Replication lag (``Directory.replicated``): reads and references see only replicated objects; writes addressed
by key (PATCH, DELETE, upsert, addPassword, …) act on the primary and see every object, so uniqueness
(``uniqueName``, duplicate assignments and grants, one SP per appId) is enforced on unreplicated objects too.

Federated identity credentials live in ``app["_federatedIdentityCredentials"]`` (list of Graph-shaped dicts);
password credentials keep ``_secretHash`` and ``_created``; key credentials keep ``_created``.
"""

from __future__ import annotations

from flask import Response, request

from .. import graph_odata as odata
from ..app import Route, add_routes
from ..state import EmulatorState
from .applications import applications
from .common import GRAPH_AUDIENCES, authenticate, json_response, read_body, unknown_segment  # noqa: F401
from .deleted_items import deleted_items
from .grants import permission_grants
from .service_principals import service_principals
from .users import users

HANDLERS = {"applications": applications, "servicePrincipals": service_principals,
            "oauth2PermissionGrants": permission_grants, "users": users}
COLLECTIONS = ("applications", "servicePrincipals", "oauth2PermissionGrants", "users")
METHODS = ("GET", "POST", "PATCH", "PUT", "DELETE")


def dispatch(state: EmulatorState) -> Response:
    ctx = authenticate(state)
    path = request.path[len("/v1.0/"):]
    segs = [odata.parse_segment(s) for s in odata.split_path(path)]
    method = request.method
    if segs[0][0] == "directory":
        if len(segs) < 2 or segs[1] != ("deletedItems", None) or segs[0][1] is not None:
            raise unknown_segment(segs[1][0] if len(segs) > 1 else "directory")
        return deleted_items(ctx, segs, method)
    handler = HANDLERS.get(segs[0][0])
    if handler is None:
        raise unknown_segment(segs[0][0])
    return handler(ctx, segs, method)


def graph_directory(state: EmulatorState, rest: str | None = None) -> Response:
    """Every directory path: the path is parsed by :func:`dispatch`, not by the URL rule."""
    return dispatch(state)


ROUTES = tuple(
    Route(rule, METHODS, graph_directory)
    for coll in COLLECTIONS
    for rule in (f"/v1.0/{coll}", f"/v1.0/{coll}/<path:rest>", f"/v1.0/{coll}(<path:rest>")
) + (
    Route("/v1.0/directory/deletedItems", METHODS, graph_directory),
    Route("/v1.0/directory/deletedItems/<path:rest>", METHODS, graph_directory),
)


def register(app, state: EmulatorState) -> None:
    add_routes(app, state, ROUTES)
