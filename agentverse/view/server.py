"""The viewer's web server (aiohttp): the page, its static files (KaTeX among them, served from the
installed package) and a small JSON API over the runs' indexes.

    GET /api/runs                          every run's statistics (refreshed from its records)
    GET /api/sweeps                        each sweep's points.csv, its rows linked to their runs
    GET /api/runs/{key}/problems?version=V the problem table's rows (`unchanged` when V is current)
    GET /api/runs/{key}/problems/{id}      one problem page (read from its record's byte range)
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from aiohttp import web

from agentverse.view.index import IndexRow
from agentverse.view.problem import problem_view
from agentverse.view.runs import Run, RunRegistry, find_sweeps

STATIC = Path(__file__).resolve().parent / "static"
KATEX = STATIC / "vendor" / "katex"
TABLE_FIELDS = set(IndexRow.model_fields) - {"offset", "length"}
REGISTRY_KEY: web.AppKey[RunRegistry] = web.AppKey("runs", RunRegistry)
OPEN_KEY: web.AppKey[bool] = web.AppKey("open to any host name", bool)


def table_rows(rows: list[IndexRow]) -> list[dict[str, Any]]:
    return [row.model_dump(include=TABLE_FIELDS) for row in rows]


def run_of(request: web.Request) -> Run:
    run = request.app[REGISTRY_KEY].get(request.match_info["key"])
    if run is None:
        raise web.HTTPNotFound(text=f"no run {request.match_info['key']!r}")
    return run


async def runs_handler(request: web.Request) -> web.Response:
    registry = request.app[REGISTRY_KEY]

    def all_stats() -> list[dict[str, Any]]:
        registry.refresh()  # runs started since (the next run-K, a sweep's later points) appear
        return [run.stats().model_dump() for run in registry.all()]

    return web.json_response(await asyncio.to_thread(all_stats))


async def sweeps_handler(request: web.Request) -> web.Response:
    registry = request.app[REGISTRY_KEY]
    tables = await asyncio.to_thread(find_sweeps, registry.paths, registry.all())
    return web.json_response([table.model_dump() for table in tables])


async def problems_handler(request: web.Request) -> web.Response:
    run = run_of(request)
    rows, _ = await asyncio.to_thread(run.current_rows)
    version = run.version
    if request.query.get("version") == version:
        return web.json_response({"version": version, "unchanged": True})
    return web.json_response({"version": version, "rows": table_rows(rows)})


async def problem_handler(request: web.Request) -> web.Response:
    run = run_of(request)
    await asyncio.to_thread(run.records.refresh)
    row = run.records.row(request.match_info["problem"])
    if row is None:
        raise web.HTTPNotFound(text=f"no problem {request.match_info['problem']!r} in {run.name}")
    record = await asyncio.to_thread(run.records.read_record, row)
    return web.json_response(problem_view(record).model_dump())


async def page_handler(request: web.Request) -> web.FileResponse:
    return web.FileResponse(STATIC / "index.html")


LOCAL_NAMES = {"127.0.0.1", "localhost", "[::1]", "::1"}


@web.middleware
async def local_hosts_only(request: web.Request, handler: Any) -> web.StreamResponse:
    """Serve only requests addressed to this machine by name: a page elsewhere that rebinds its own
    DNS name to 127.0.0.1 (DNS rebinding) would otherwise read every record. With --host other
    than 127.0.0.1 the user has chosen to serve others, and any name is accepted."""
    if request.app[OPEN_KEY] or host_name(request.host) in LOCAL_NAMES:
        return await handler(request)
    raise web.HTTPForbidden(text="agentverse-view serves this machine only (http://127.0.0.1:PORT/)")


def host_name(header: str | None) -> str:
    """The name in a Host header, without its port (`[::1]:7575` -> `[::1]`)."""
    text = header or ""
    if text.startswith("["):
        return text.split("]", 1)[0] + "]"
    return text.rsplit(":", 1)[0]


def build_app(registry: RunRegistry, open_to_any_host: bool = False) -> web.Application:
    app = web.Application(middlewares=[local_hosts_only])
    app[REGISTRY_KEY] = registry
    app[OPEN_KEY] = open_to_any_host
    app.router.add_get("/", page_handler)
    app.router.add_get("/api/runs", runs_handler)
    app.router.add_get("/api/sweeps", sweeps_handler)
    app.router.add_get("/api/runs/{key}/problems", problems_handler)
    app.router.add_get("/api/runs/{key}/problems/{problem:.+}", problem_handler)
    app.router.add_static("/static/", STATIC)
    return app


async def serve(registry: RunRegistry, host: str, port: int) -> None:
    runner = web.AppRunner(build_app(registry, open_to_any_host=host not in LOCAL_NAMES), access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, host, port)
    await site.start()
    sockets = getattr(site._server, "sockets", None) or []
    bound = sockets[0].getsockname()[1] if sockets else port
    print(f"agentverse-view: http://{host}:{bound}/  ({len(registry.runs)} runs; Ctrl-C stops)", flush=True)
    try:
        await asyncio.Event().wait()
    finally:
        await runner.cleanup()
