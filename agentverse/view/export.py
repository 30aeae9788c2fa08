"""`agentverse-view RUN_DIR --export report.html`: the viewer's page as one self-contained file, with
its styles, scripts, KaTeX (fonts inlined) and the runs' data embedded; it opens from a file://
URL with no server and no network."""

from __future__ import annotations

import base64
import json
import re
from pathlib import Path
from typing import Any

from agentverse.view.problem import problem_view
from agentverse.view.runs import Run, SweepTable
from agentverse.view.server import KATEX, STATIC, table_rows

FONT_SOURCE = re.compile(r'url\(fonts/([A-Za-z0-9_-]+)\.woff2\) format\("woff2"\)(?:,url\([^)]*\) format\("[a-z]+"\))*')


class AssetsMissing(RuntimeError):
    """The viewer's front-end files (KaTeX) are not installed."""


def katex_css() -> str:
    css = (KATEX / "katex.min.css").read_text(encoding="utf-8")

    def inline(match: re.Match[str]) -> str:
        font = base64.b64encode((KATEX / "fonts" / f"{match.group(1)}.woff2").read_bytes()).decode("ascii")
        return f'url(data:font/woff2;base64,{font}) format("woff2")'

    return FONT_SOURCE.sub(inline, css)


def script_safe(text: str) -> str:
    """JSON that no string inside can end or reopen the <script> element holding it: `<`, `>` and
    `&` as JSON escapes (a `<!--<script>` in a model's reply would otherwise swallow the page)."""
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def script(text: str) -> str:
    return "<script>" + text.replace("</script", "<\\/script") + "</script>"


def embedded_data(runs: list[Run], sweeps: list[SweepTable]) -> dict[str, Any]:
    data: dict[str, Any] = {
        "runs": [],
        "rows": {},
        "problems": {},
        "sweeps": [table.model_dump(exclude={"path"}) for table in sweeps],
    }
    for run in runs:
        data["runs"].append(run.stats().model_dump(exclude={"path"}))  # (local paths stay on this machine)
        rows, _ = run.current_rows()
        data["rows"][run.key] = table_rows(rows)
        data["problems"][run.key] = {row.id: problem_view(run.records.read_record(row)).model_dump() for row in rows}
    return data


def export_html(runs: list[Run], output: Path, sweeps: list[SweepTable] | None = None) -> int:
    """Write the file; returns its size in bytes."""
    if not (KATEX / "katex.min.js").exists():
        raise AssetsMissing(f"KaTeX is not installed in {KATEX}; run `bash scripts/build_viewer_assets.sh`")
    page = (STATIC / "index.html").read_text(encoding="utf-8")
    styles = "<style>" + katex_css() + "\n" + (STATIC / "app.css").read_text(encoding="utf-8") + "</style>"
    scripts = "\n".join(
        script(path.read_text(encoding="utf-8"))
        for path in (KATEX / "katex.min.js", KATEX / "contrib" / "auto-render.min.js", STATIC / "app.js")
    )
    payload = script_safe(json.dumps(embedded_data(runs, sweeps or []), ensure_ascii=False))
    data = f'<script id="embedded-data" type="application/json">{payload}</script>'
    for marker, replacement in (("styles", styles), ("scripts", scripts), ("data", data)):
        page = replace_marked(page, marker, replacement)
    temporary = output.with_name(output.name + ".tmp")
    try:
        temporary.write_text(page, encoding="utf-8")
        temporary.replace(output)
    finally:  # written and renamed, or (a full disk, Ctrl-C) nothing left behind
        temporary.unlink(missing_ok=True)
    return output.stat().st_size


def replace_marked(page: str, marker: str, replacement: str) -> str:
    """Replace `<!--marker-->...<!--/marker-->` (or a lone `<!--marker-->`) in the page."""
    opening, closing = f"<!--{marker}-->", f"<!--/{marker}-->"
    start = page.index(opening)
    end = page.index(closing) + len(closing) if closing in page else start + len(opening)
    return page[:start] + replacement + page[end:]
