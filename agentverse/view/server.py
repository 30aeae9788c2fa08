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
from agentverse.view.runs import Run, find_sweeps

STATIC = Path(__file__).resolve().parent / "static"
KATEX = STATIC / "vendor" / "katex"
TABLE_FIELDS = set(IndexRow.model_fields) - {"offset", "length"}
RUNS_KEY: web.AppKey[dict[str, Run]] = web.AppKey("runs", dict)
PATHS_KEY: web.AppKey[list[Path]] = web.AppKey("paths", list)


def table_rows(rows: list[IndexRow]) -> list[dict[str, Any]]:
    return [row.model_dump(include=TABLE_FIELDS) for row in rows]


def run_of(request: web.Request) -> Run:
    run = request.app[RUNS_KEY].get(request.match_info["key"])
    if run is None:
        raise web.HTTPNotFound(text=f"no run {request.match_info['key']!r}")
    return run


async def runs_handler(request: web.Request) -> web.Response:
    runs = request.app[RUNS_KEY].values()
    stats = await asyncio.to_thread(lambda: [run.stats().model_dump() for run in runs])
    return web.json_response(stats)


async def sweeps_handler(request: web.Request) -> web.Response:
    runs = list(request.app[RUNS_KEY].values())
    tables = await asyncio.to_thread(find_sweeps, request.app[PATHS_KEY], runs)
    return web.json_response([table.model_dump() for table in tables])


async def problems_handler(request: web.Request) -> web.Response:
    run = run_of(request)
    await asyncio.to_thread(run.records.refresh)
    version = run.records.index.indexed_bytes
    if request.query.get("version") == str(version):
        return web.json_response({"version": version, "unchanged": True})
    return web.json_response({"version": version, "rows": table_rows(run.records.rows)})


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


def build_app(runs: list[Run], paths: list[Path]) -> web.Application:
    app = web.Application()
    app[RUNS_KEY] = {run.key: run for run in runs}
    app[PATHS_KEY] = paths
    app.router.add_get("/", page_handler)
    app.router.add_get("/api/runs", runs_handler)
    app.router.add_get("/api/sweeps", sweeps_handler)
    app.router.add_get("/api/runs/{key}/problems", problems_handler)
    app.router.add_get("/api/runs/{key}/problems/{problem:.+}", problem_handler)
    app.router.add_static("/static/", STATIC)
    return app


async def serve(runs: list[Run], paths: list[Path], host: str, port: int) -> None:
    runner = web.AppRunner(build_app(runs, paths), access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, host, port)
    await site.start()
    sockets = getattr(site._server, "sockets", None) or []
    bound = sockets[0].getsockname()[1] if sockets else port
    print(f"agentverse-view: http://{host}:{bound}/  ({len(runs)} runs; Ctrl-C stops)", flush=True)
    try:
        await asyncio.Event().wait()
    finally:
        await runner.cleanup()
