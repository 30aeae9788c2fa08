// agentverse-view: the runs, each run's problem table, a problem's rounds and calls, two runs side
// by side. Data come from the viewer's JSON API, or from the page itself in an exported file.
"use strict";

const EMBEDDED = (() => {
  const node = document.getElementById("embedded-data");
  return node ? JSON.parse(node.textContent) : null;
})();
const POLL_MS = 2000;
const MATH_TASKS = new Set(["math500", "aime2024"]);
let poller = null;
let runsCache = [];

// ---- data -------------------------------------------------------------------------------------

async function getJSON(url) {
  const response = await fetch(url);
  if (!response.ok) throw new Error(`${url}: ${response.status} ${await response.text()}`);
  return response.json();
}

const api = {
  async runs() {
    runsCache = EMBEDDED ? EMBEDDED.runs : await getJSON("/api/runs");
    return runsCache;
  },
  async sweeps() {
    return EMBEDDED ? EMBEDDED.sweeps || [] : getJSON("/api/sweeps");
  },
  async rows(key, version) {
    if (EMBEDDED) return { version: 0, rows: EMBEDDED.rows[key] || [] };
    const query = version === null ? "" : `?version=${encodeURIComponent(version)}`;
    return getJSON(`/api/runs/${encodeURIComponent(key)}/problems${query}`);
  },
  async problem(key, id) {
    if (EMBEDDED) {
      const found = (EMBEDDED.problems[key] || {})[id];
      if (!found) throw new Error(`no problem ${id} in this export`);
      return found;
    }
    return getJSON(`/api/runs/${encodeURIComponent(key)}/problems/${encodeURIComponent(id)}`);
  },
};

// ---- small helpers ----------------------------------------------------------------------------

function el(tag, attributes = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (value === null || value === undefined || value === false) continue;
    if (name === "class") node.className = value;
    else if (name === "text") node.textContent = value;
    else if (name.startsWith("on")) node.addEventListener(name.slice(2), value);
    else node.setAttribute(name, value === true ? "" : value);
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

function badge(text, kind) {
  return el("span", { class: `badge ${kind || text}`, text });
}

function fixed(value, digits = 1) {
  return value === null || value === undefined ? "–" : Number(value).toFixed(digits);
}

function integer(value) {
  return value === null || value === undefined ? "–" : Number(value).toLocaleString("en-US");
}

function seconds(value) {
  if (value === null || value === undefined) return "–";
  return value >= 120 ? `${(value / 60).toFixed(1)} min` : `${Number(value).toFixed(value < 10 ? 2 : 1)} s`;
}

function renderMath(node) {
  if (typeof renderMathInElement !== "function") return;
  renderMathInElement(node, {
    delimiters: [
      { left: "$$", right: "$$", display: true },
      { left: "\\[", right: "\\]", display: true },
      { left: "\\(", right: "\\)", display: false },
      { left: "$", right: "$", display: false },
    ],
    throwOnError: false,
  });
}

function boxedAsMath(text) {
  // \boxed{...} outside $...$ (how solvers state answers) is shown as math too.
  let out = "";
  let index = 0;
  while (index < text.length) {
    const start = text.indexOf("\\boxed{", index);
    if (start < 0) break;
    const before = text.slice(0, start);
    const insideMath = (before.match(/(?<!\\)\$/g) || []).length % 2 === 1;
    let depth = 0;
    let end = start + 7;
    for (; end < text.length; end += 1) {
      if (text[end] === "{") depth += 1;
      else if (text[end] === "}" && --depth === 0) break;
    }
    if (end >= text.length || insideMath) {
      out += text.slice(index, start + 7);
      index = start + 7;
      continue;
    }
    out += `${text.slice(index, start)}$${text.slice(start, end + 1)}$`;
    index = end + 1;
  }
  return out + text.slice(index);
}

function texText(text, asMath) {
  // A short answer of a math task is TeX itself (e.g. \frac{3}{4}); other text holds $...$ spans.
  const node = el("div", { class: "text tex" });
  const value = text === null || text === undefined ? "" : String(text);
  if (asMath && typeof katex !== "undefined" && value && value.length < 300 && !value.includes("\n")) {
    katex.render(value, node, { throwOnError: false });
  } else {
    node.textContent = boxedAsMath(value);
    renderMath(node);
  }
  return node;
}

function runByKey(key) {
  return runsCache.find((run) => run.key === key) || null;
}

function link(hash, text) {
  return el("a", { href: hash, text });
}

function problemHash(key, id) {
  return `#/run/${encodeURIComponent(key)}/p/${encodeURIComponent(id)}`;
}

function setWhere(...parts) {
  const where = document.getElementById("where");
  where.replaceChildren(...parts.flatMap((part, index) => (index ? [" / ", part] : [part])));
}

function setLive(text) {
  document.getElementById("live").textContent = text;
}

function stopPolling() {
  if (poller !== null) clearInterval(poller);
  poller = null;
}

function poll(task) {
  stopPolling();
  if (!EMBEDDED) poller = setInterval(() => task().catch(showError), POLL_MS);
}

function showError(error) {
  document.getElementById("app").replaceChildren(el("p", { class: "error-text", text: String(error.message || error) }));
}

// ---- runs -------------------------------------------------------------------------------------

const RUN_COLUMNS = [
  ["run", (run) => link(`#/run/${encodeURIComponent(run.key)}`, run.name)],
  ["task", (run) => run.task],
  ["model", (run) => run.model],
  ["config", (run) => el("code", { text: run.config_digest })],
  ["score", (run) => (run.score === null ? "–" : `${fixed(run.score)} ± ${fixed(run.standard_error)}`), "num"],
  ["completed", (run) => `${run.completed} / ${run.problems}`, "num"],
  ["errors", (run) => run.errors, "num"],
  ["no answer", (run) => run.no_answer, "num"],
  ["tokens", (run) => integer(run.tokens), "num"],
  ["wall time", (run) => seconds(run.wall_time_s), "num"],
];

async function showRuns() {
  const draw = async () => {
    const runs = await api.runs();
    const body = el("tbody");
    let group = null;
    for (const run of runs) {
      if (run.group !== group) {
        group = run.group;
        const label = run.sweep ? `${group} (sweep points)` : group;
        if (group && group !== ".") body.append(el("tr", { class: "group" }, el("td", { colspan: RUN_COLUMNS.length, text: label })));
      }
      body.append(el("tr", { "data-run": run.key }, RUN_COLUMNS.map(([, cell, kind]) => el("td", { class: kind }, cell(run)))));
    }
    const table = el("table", { id: "runs" }, el("thead", {}, el("tr", {}, RUN_COLUMNS.map(([title, , kind]) => el("th", { class: kind, text: title })))), body);
    const sweeps = (await api.sweeps()).map(sweepTable);
    document.getElementById("app").replaceChildren(...sweeps, el("h1", { text: "Runs" }), table);
    setLive(EMBEDDED ? "exported" : `updated ${new Date().toLocaleTimeString()}`);
  };
  setWhere(el("span", { text: "runs" }));
  await draw();
  poll(draw);
}

const POINT_COLUMNS = [
  ["system", (point) => (point.run_key ? link(`#/run/${encodeURIComponent(point.run_key)}`, point.system) : point.system)],
  ["kind", (point) => point.kind],
  ["score", (point) => (point.score === null ? "–" : `${fixed(point.score)} ± ${fixed(point.standard_error)}`), "num"],
  ["95% interval", (point) => (point.ci_low === null ? "–" : `[${fixed(point.ci_low)}, ${fixed(point.ci_high)}]`), "num"],
  ["completion tokens", (point) => integer(point.mean_completion_tokens === null ? null : Math.round(point.mean_completion_tokens)), "num"],
  ["pass@k", (point) => fixed(point.pass_at_k), "num"],
  ["problems", (point) => point.problems, "num"],
  ["errors", (point) => point.errors, "num"],
];

function sweepTable(sweep) {
  return el("section", { class: "sweep" }, el("h1", { text: `Sweep ${sweep.name}` }),
    el("table", { class: "points" }, el("thead", {}, el("tr", {}, POINT_COLUMNS.map(([title, , kind]) => el("th", { class: kind, text: title })))),
      el("tbody", {}, sweep.points.map((point) => el("tr", {}, POINT_COLUMNS.map(([, cell, kind]) => el("td", { class: kind }, cell(point))))))));
}

// ---- one run's problem table ------------------------------------------------------------------

const PROBLEM_COLUMNS = [
  ["id", "id"],
  ["status", "status"],
  ["grade", "grade"],
  ["termination", "termination"],
  ["CEO", "ceo"],
  ["rounds", "rounds", "num"],
  ["tokens", "tokens", "num"],
  ["time", "wall_time_s", "num"],
  ["problem", "problem"],
];

function tableState() {
  const params = new URLSearchParams(location.hash.split("?")[1] || "");
  return {
    show: params.get("show") || "all",
    termination: params.get("termination") || "",
    ceo: params.get("ceo") || "",
    q: params.get("q") || "",
    sort: params.get("sort") || "",
    desc: params.get("desc") === "1",
  };
}

function matches(row, state) {
  const shown = {
    all: () => true,
    wrong: () => row.status === "ok" && row.grade !== "correct",
    correct: () => row.grade === "correct",
    no_answer: () => row.grade === "no_answer",
    errors: () => row.status === "error",
  }[state.show] || (() => true);
  if (!shown()) return false;
  if (state.termination && row.termination !== state.termination) return false;
  if (state.ceo && !(row.ceo || []).includes(state.ceo)) return false;
  if (state.q) {
    const needle = state.q.toLowerCase();
    const haystack = `${row.id}\n${row.problem}\n${row.answer}`.toLowerCase();
    if (!haystack.includes(needle)) return false;
  }
  return true;
}

function sortRows(rows, state) {
  if (!state.sort) return rows;
  const key = state.sort;
  const sign = state.desc ? -1 : 1;
  return [...rows].sort((a, b) => {
    const left = Array.isArray(a[key]) ? a[key].join(",") : a[key];
    const right = Array.isArray(b[key]) ? b[key].join(",") : b[key];
    if (left === right) return 0;
    if (left === null || left === undefined) return 1;
    if (right === null || right === undefined) return -1;
    return (left < right ? -1 : 1) * sign;
  });
}

function select(name, value, options, onChange) {
  return el("select", { name, onchange: (event) => onChange(event.target.value) },
    options.map(([optionValue, label]) => el("option", { value: optionValue, selected: optionValue === value, text: label })));
}

function updateHash(key, state) {
  const params = new URLSearchParams();
  for (const [name, value] of Object.entries(state)) {
    if (value && value !== "all") params.set(name, value === true ? "1" : value);
  }
  const query = params.toString();
  history.replaceState(null, "", `#/run/${encodeURIComponent(key)}${query ? `?${query}` : ""}`);
}

async function showRun(key) {
  await api.runs();
  const run = runByKey(key);
  if (!run) throw new Error(`no run ${key}`);
  setWhere(link("#/", "runs"), el("span", { text: run.name }));
  let rows = [];
  let version = null;
  const state = tableState();
  const app = document.getElementById("app");
  const tableHolder = el("div");
  const count = el("span", { class: "muted" });

  const drawTable = () => {
    updateHash(key, state);
    const shown = sortRows(rows.filter((row) => matches(row, state)), state);
    count.textContent = `${shown.length} of ${rows.length} problems`;
    const head = el("tr", {}, PROBLEM_COLUMNS.map(([title, field, kind]) => {
      const sorted = state.sort === field;
      return el("th", {
        class: `${kind || ""} ${sorted ? "sorted" : ""} ${sorted && !state.desc ? "up" : ""}`.trim(),
        "data-sort": field,
        text: title,
        onclick: () => {
          state.desc = state.sort === field ? !state.desc : false;
          state.sort = field;
          drawTable();
        },
      });
    }));
    const body = el("tbody", {}, shown.map((row) => el("tr", { "data-id": row.id },
      el("td", {}, link(problemHash(key, row.id), row.id)),
      el("td", {}, badge(row.status)),
      el("td", {}, row.grade ? badge(row.grade) : "–"),
      el("td", { text: row.termination || "–" }),
      el("td", { text: (row.ceo || []).join(", ") || "–" }),
      el("td", { class: "num", text: row.rounds }),
      el("td", { class: "num", text: integer(row.tokens) }),
      el("td", { class: "num", text: seconds(row.wall_time_s) }),
      el("td", { class: "muted", text: row.problem.slice(0, 120) }),
    )));
    tableHolder.replaceChildren(el("table", { id: "problems" }, el("thead", {}, head), body));
  };

  let terminationsShown = "";
  const terminationSelect = () => {
    const terminations = [...new Set(rows.map((row) => row.termination).filter(Boolean))].sort();
    terminationsShown = terminations.join("\n");
    return select("termination", state.termination, [["", "any termination"], ...terminations.map((value) => [value, value])],
      (value) => { state.termination = value; drawTable(); });
  };
  const toolbar = () => {
    return el("div", { class: "toolbar" },
      select("show", state.show, [["all", "all problems"], ["wrong", "wrong"], ["correct", "correct"], ["no_answer", "no answer"], ["errors", "errors"]],
        (value) => { state.show = value; drawTable(); }),
      terminationSelect(),
      select("ceo", state.ceo, [["", "any CEO decision"], ["stop", "CEO said stop"], ["continue", "CEO said continue"], ["fallback", "CEO fallback"]],
        (value) => { state.ceo = value; drawTable(); }),
      el("input", { type: "search", name: "q", placeholder: "search problems and answers", value: state.q,
        oninput: (event) => { state.q = event.target.value; drawTable(); } }),
      count);
  };

  const token = navigation;
  const refresh = async () => {
    const answer = await api.rows(key, version);
    if (answer.unchanged || token !== navigation) return; // unchanged, or the user has gone elsewhere
    const first = version === null;
    rows = answer.rows;
    version = answer.version;
    if (first) {
      app.replaceChildren(el("h1", { text: run.name }), runLine(run), toolbar(), tableHolder);
    } else if ([...new Set(rows.map((row) => row.termination).filter(Boolean))].sort().join("\n") !== terminationsShown) {
      // Only the termination choices can change; the search box keeps its focus and caret.
      app.querySelector("select[name=termination]").replaceWith(terminationSelect());
    }
    drawTable();
    setLive(EMBEDDED ? "exported" : `${rows.length} problems, updated ${new Date().toLocaleTimeString()}`);
  };
  await refresh();
  if (token === navigation) poll(refresh);
}

function runLine(run) {
  const score = run.score === null ? "no score yet" : `score ${fixed(run.score)} ± ${fixed(run.standard_error)}`;
  return el("p", { class: "muted" },
    `${run.task} · ${run.model} · config ${run.config_digest} · ${score} · ${run.completed} completed, ${run.errors} errors, ${run.no_answer} no answer · ${integer(run.tokens)} tokens · ${seconds(run.wall_time_s)}`);
}

// ---- one problem ------------------------------------------------------------------------------

function planCard(plan) {
  const rows = [
    ["decision", plan.decision],
    ["recruit", plan.recruit_number],
    ["direction", plan.direction],
    ["budget", plan.max_tokens === null ? "configured" : integer(plan.max_tokens)],
  ];
  const notes = [];
  if (plan.source === "fallback") notes.push(badge("fallback: the CEO's reply could not be read; configured team and budget", "fallback"));
  if (plan.source === "fixed") notes.push(badge("no CEO: fixed team and budget", "fixed"));
  for (const [field, change] of Object.entries(plan.clamped || {})) {
    notes.push(badge(`${field} clamped: asked ${change.asked}, used ${change.used}`, "clamped"));
  }
  if (plan.stop_ignored) notes.push(badge("stop ignored (no solution yet)", "clamped"));
  return el("div", { class: "card plan" }, el("h3", { text: "CEO" }),
    el("dl", {}, rows.flatMap(([name, value]) => [el("dt", { text: name }), el("dd", { class: "text", text: value ?? "–" })])), notes);
}

function callCard(call, asMath) {
  const verdict = call.verdict ? badge(call.verdict, call.verdict.split(" ")[0]) : null;
  const summary = el("summary", {},
    el("b", { text: `${call.number}. ${call.agent}` }), " ", call.role ? el("span", { class: "muted", text: `(${call.role}) ` }) : null,
    badge(call.status), " ", verdict,
    el("span", { class: "meta", text: `  ${integer(call.prompt_tokens)} + ${integer(call.completion_tokens)} tokens · ${seconds(call.latency_s)} · attempt ${call.attempt}${call.attempts.length > 1 ? ` · ${call.attempts.length} HTTP tries` : ""}` }));
  const body = el("div", { class: "body" },
    el("div", { class: "meta", text: [call.model && `model ${call.model}`, call.endpoint_name && `endpoint ${call.endpoint_name}`, call.max_tokens && `max_tokens ${call.max_tokens}`, call.forced_answer && "answer forced at the budget", call.truncated && "cut at the length limit"].filter(Boolean).join(" · ") }),
    call.error ? el("div", { class: "error-text text", text: call.error }) : null,
    call.reasoning ? el("details", { class: "thinking" }, el("summary", { text: `thinking (${call.reasoning.length.toLocaleString("en-US")} characters)` }), texText(call.reasoning, false)) : null,
    call.content !== null ? texText(call.content, false) : null,
    el("details", { class: "messages" }, el("summary", { text: `messages sent (${call.messages.length})` }),
      call.messages.map((message) => el("div", { class: "message" }, el("div", { class: "who", text: message.role }), el("div", { class: "text", text: message.content })))),
    call.attempts.length ? el("details", { class: "attempts" }, el("summary", { text: `HTTP attempts (${call.attempts.length})` }),
      el("ul", {}, call.attempts.map((attempt) => el("li", { text: `${attempt.endpoint || "–"}: ${attempt.status_code ? `HTTP ${attempt.status_code}` : attempt.error_kind || "ok"} in ${seconds(attempt.latency_s)}` })))) : null);
  const open = call.status !== "ok" && call.status !== "parse_error" ? true : null;
  return el("details", { class: `call ${call.agent_type}`, "data-status": call.status, open }, summary, body);
}

function eventLine(event) {
  const detail = event.detail || {};
  switch (event.kind) {
    case "critic_verdicts":
      return el("div", {}, "critics: ", (detail.agree || []).map((agree) => badge(agree ? "agree" : "disagree")));
    case "consensus":
      return el("div", { text: `consensus after inner turn ${detail.inner_turn}` });
    case "fallback":
      return el("div", {}, badge("fallback"), ` ${detail.agent}: ${detail.used || ""} (${detail.error || ""})`);
    case "agent_failed":
      return el("div", {}, badge("failed", "error"), ` ${detail.agent}: ${detail.error || ""}`);
    case "infrastructure_error":
      return el("div", {}, badge("infrastructure error", "error"), ` ${detail.agent}: ${detail.error || ""}`);
    case "vote":
      return el("div", { class: "text", text: `vote: ${JSON.stringify(detail)}` });
    default:
      return null;
  }
}

function roundSection(round, asMath) {
  const evaluation = round.evaluation;
  return el("section", { class: "round", "data-round": round.number },
    el("h2", { text: `Round ${round.number}` }),
    round.plan ? planCard(round.plan) : null,
    round.experts.length ? el("div", { class: "card experts" }, el("h3", { text: "Experts" }), el("ol", {}, round.experts.map((expert) => el("li", { text: expert })))) : null,
    el("h3", { text: "Discussion" }),
    round.calls.map((call) => callCard(call, asMath)),
    el("div", { class: "card events" }, round.events.map(eventLine)),
    round.executor ? el("div", { class: "card executor" }, el("h3", { text: "Executor" }),
      round.executor.passed === null || round.executor.passed === undefined ? null : badge(round.executor.passed ? "passed" : "failed", round.executor.passed ? "ok" : "error"),
      el("div", { class: "text", text: round.executor.summary || "" })) : null,
    evaluation ? el("div", { class: "card evaluation" }, el("h3", { text: "Evaluator" }),
      evaluation.correct === null || evaluation.correct === undefined ? badge("no verdict", "fallback") : badge(evaluation.correct ? "correct (1)" : "incorrect (0)", evaluation.correct ? "correct" : "incorrect"),
      el("div", { class: "text advice", text: `Advice: ${evaluation.advice || "–"}` }),
      evaluation.recruiting_suggestion ? el("div", { class: "text muted", text: `Recruiting suggestion: ${evaluation.recruiting_suggestion}` }) : null) : null);
}

function problemBody(run, view) {
  const asMath = MATH_TASKS.has(run.task);
  const grade = view.grade;
  return el("div", { class: "problem", "data-run": run.key },
    el("div", { class: "card" }, el("h3", { text: "Problem" }), texText(view.problem, false),
      el("h3", { text: "Target" }), texText(view.target, asMath)),
    el("p", {}, badge(view.status), " ", view.termination ? `ended by ${view.termination}` : "", ` · ${integer(view.tokens)} tokens · ${seconds(view.wall_time_s)} · ${view.mode}`),
    view.error ? el("div", { class: "card error-text text", text: view.error }) : null,
    view.rounds.map((round) => roundSection(round, asMath)),
    el("div", { class: "card final" }, el("h3", { text: "Final answer" }),
      view.final_answer === null ? el("p", { class: "muted", text: "none" }) : texText(view.final_answer, false),
      grade ? el("div", {}, badge(grade.status), ` score ${grade.score}`, grade.extracted ? el("span", {}, " · extracted: ", texText(grade.extracted, asMath)) : null,
        el("div", { class: "text muted", text: grade.detail || "" })) : el("p", { class: "muted", text: "not graded" })));
}

async function showProblem(key, id) {
  stopPolling();
  await api.runs();
  const run = runByKey(key);
  if (!run) throw new Error(`no run ${key}`);
  setWhere(link("#/", "runs"), link(`#/run/${encodeURIComponent(key)}`, run.name), el("span", { text: id }));
  const view = await api.problem(key, id);
  const others = runsCache.filter((other) => other.key !== key);
  const compare = others.length ? el("div", { class: "toolbar" }, "compare with ",
    select("compare", "", [["", "another run…"], ...others.map((other) => [other.key, other.name])],
      (value) => { if (value) location.hash = `#/compare/${encodeURIComponent(key)}/${encodeURIComponent(value)}/${encodeURIComponent(id)}`; })) : null;
  document.getElementById("app").replaceChildren(...[el("h1", { text: id }), compare, problemBody(run, view)].filter(Boolean));
}

async function showCompare(left, right, id) {
  stopPolling();
  await api.runs();
  const runs = [runByKey(left), runByKey(right)];
  if (runs.includes(null)) throw new Error("unknown run");
  setWhere(link("#/", "runs"), el("span", { text: `${runs[0].name} vs ${runs[1].name}` }), el("span", { text: id }));
  const columns = await Promise.all(runs.map(async (run) => {
    try {
      return el("div", { class: "side" }, el("h2", {}, link(problemHash(run.key, id), run.name)), runLine(run), problemBody(run, await api.problem(run.key, id)));
    } catch (error) {
      return el("div", { class: "side" }, el("h2", { text: run.name }), el("p", { class: "muted", text: `no record of ${id} in this run` }));
    }
  }));
  document.getElementById("app").replaceChildren(el("h1", { text: id }), el("div", { class: "columns" }, columns));
}

// ---- routing ----------------------------------------------------------------------------------

let navigation = 0; // which route is showing: a page still loading for an older one stands down

async function route() {
  navigation += 1;
  stopPolling();
  const path = location.hash.replace(/^#/, "").split("?")[0];
  const parts = path.split("/").filter(Boolean).map(decodeURIComponent);
  try {
    if (parts[0] === "run" && parts[2] === "p") await showProblem(parts[1], parts.slice(3).join("/"));
    else if (parts[0] === "run") await showRun(parts[1]);
    else if (parts[0] === "compare") await showCompare(parts[1], parts[2], parts.slice(3).join("/"));
    else await showRuns();
  } catch (error) {
    showError(error);
  }
}

window.addEventListener("hashchange", route);
route();
