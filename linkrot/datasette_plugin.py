"""linkrot's Datasette plugin: the shipped metadata and dashboard for every linkrot database served.

Datasette 0.65 keys metadata by database name (a file's stem: ``acme.db`` is ``acme``), and so does
datasette-dashboards (each chart names its ``db``).  ``metadata.yml`` is written for a database named
``linkrot``; :func:`metadata_for` re-keys it for the names actually served, and the ``startup`` hook
finds those names once Datasette has opened its files, so ``site.db``, ``a.db b.db`` and two files
both called ``linkrot.db`` (Datasette names the second ``linkrot_2``) all get descriptions, canned
queries and a dashboard.  Registered through the ``datasette`` entry point (pyproject.toml): a plain
``datasette serve site.db`` in the same environment gets it too.  A database without linkrot's
tables is left alone.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterable
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import quote
from weakref import WeakKeyDictionary

import yaml
from datasette import hookimpl
from datasette.utils import tilde_encode

METADATA = Path(__file__).with_name("metadata.yml")
TEMPLATE = "linkrot"  # the database name metadata.yml is written for
DASHBOARDS = "datasette-dashboards"
# what makes a database one of linkrot's: tables every run writes and the views the charts read
SIGNATURE_TABLES = frozenset({"runs", "urls", "backlinks"})
SIGNATURE_VIEWS = frozenset({"pages", "backlink_status", "redirect_chains"})

# per Datasette instance, the metadata of its linkrot databases as JSON: get_metadata hands out a
# fresh copy each call, because Datasette merges the local -m metadata *into* what a hook returns
_SERVED: WeakKeyDictionary[Any, str] = WeakKeyDictionary()


@cache
def _template() -> dict[str, Any]:
    return yaml.safe_load(METADATA.read_text(encoding="utf-8"))


def _renamed(value: Any, name: str) -> Any:
    """A deep copy of ``value`` whose dashboard links point at ``name``'s dashboard."""
    if isinstance(value, dict):
        return {k: _renamed(v, name) for k, v in value.items()}
    if isinstance(value, list):
        return [_renamed(v, name) for v in value]
    if isinstance(value, str):
        return value.replace(f"-/dashboards/{TEMPLATE}", f"-/dashboards/{quote(name, safe='')}")
    return value


def metadata_for(names: Iterable[str]) -> dict[str, Any]:
    """Datasette metadata for linkrot databases called ``names``: one section and one dashboard each.

    The dashboard's slug is the database name, so ``/-/dashboards/<name>`` shows that database.
    """
    template = _template()
    databases: dict[str, Any] = {}
    dashboards: dict[str, Any] = {}
    for name in dict.fromkeys(names):
        databases[name] = _renamed(template["databases"][TEMPLATE], name)
        board = _renamed(template["plugins"][DASHBOARDS][TEMPLATE], name)
        board["title"] = f"{board['title']}: {name}"  # several databases, several dashboards
        for chart in board["charts"].values():
            if "db" in chart:
                chart["db"] = name
        dashboards[name] = board
    plugins = {k: copy.deepcopy(v) for k, v in template.get("plugins", {}).items() if k != DASHBOARDS}
    rest = {k: copy.deepcopy(v) for k, v in template.items() if k not in ("databases", "plugins")}
    return {**rest, "databases": databases, "plugins": {**plugins, DASHBOARDS: dashboards}}


def datasette_names(paths: Iterable[str]) -> list[str]:
    """The names Datasette 0.65 gives files served in this order: the stem, then ``_2``, ``_3``…

    Mirrors ``Datasette.add_database`` for ``linkrot explore --metadata``, which writes metadata
    before any Datasette runs; the plugin itself reads the real names.
    """
    names: list[str] = []
    for path in paths:
        stem = Path(path).stem
        name, i = stem, 2
        while name in names:
            name, i = f"{stem}_{i}", i + 1
        names.append(name)
    return names


async def _is_linkrot(db: Any) -> bool:
    if db.is_memory:
        return False
    tables, views = set(await db.table_names()), set(await db.view_names())
    return SIGNATURE_TABLES <= tables and SIGNATURE_VIEWS <= views


@hookimpl
def startup(datasette: Any) -> Any:
    async def find_linkrot_databases() -> None:
        names = [name for name, db in datasette.databases.items() if await _is_linkrot(db)]
        if names:
            _SERVED[datasette] = json.dumps(metadata_for(names))

    return find_linkrot_databases


@hookimpl
def asgi_wrapper(datasette: Any) -> Any:
    """Route datasette-dashboards' data requests for a name Datasette tilde-encodes.

    Its JavaScript fetches ``/<db>.json?sql=…`` with the raw name, but Datasette routes
    ``example.com`` (from ``example.com.db``, the natural name for a site's database) at
    ``/example~2Ecom``: ``/example.com.json`` would read as database ``example``, format ``com``,
    and every chart would stay empty.  Only a served name whose route differs is rewritten.
    """

    def wrap(app: Any) -> Any:
        async def routed(scope: dict[str, Any], receive: Any, send: Any) -> None:
            path = scope.get("path", "") if scope.get("type") == "http" else ""
            prefix, _, last = path.rpartition("/")
            if last.endswith(".json") and prefix + "/" in ("/", datasette.setting("base_url")):
                name = last[: -len(".json")]
                db = datasette.databases.get(name)
                if db is not None and db.route == name and tilde_encode(name) != name:
                    path = f"{prefix}/{tilde_encode(name)}.json"
                    scope = {**scope, "path": path, "raw_path": path.encode("ascii")}
            await app(scope, receive, send)

        return routed

    return wrap


@hookimpl
def get_metadata(datasette: Any, key: str | None, database: str | None, table: str | None) -> Any:
    served = _SERVED.get(datasette)
    return json.loads(served) if served else None
