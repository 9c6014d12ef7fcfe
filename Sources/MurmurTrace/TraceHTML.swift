import Foundation
import MurmurCore

/// One self-contained page (no network): data embedded as a script constant, drawn as inline
/// SVG by an inline script. The page is well-formed XML (script and style in CDATA sections) so
/// tests can parse it; the data is between `/*DATA*/` and `/*END*/`.
public enum TraceHTML {
    public static func render(report: TraceReport, export: TraceExport) -> String {
        let enc = JSONEncoder()
        enc.outputFormatting = [.sortedKeys]
        var json = (try? enc.encode(export)).map { String(decoding: $0, as: UTF8.self) } ?? "{}"
        // <, > and & only occur inside JSON strings, where \u escapes mean the same.
        json = json.replacingOccurrences(of: "<", with: "\\u003c").replacingOccurrences(of: ">", with: "\\u003e")
            .replacingOccurrences(of: "&", with: "\\u0026")
        var page = head
        page += "<header><h1>murmur trace</h1><p class=\"sub\">\(esc(summaryLine(report)))</p>"
        page += "<p class=\"sub\">\(esc(TraceText.clockLine(report.clock)))</p></header>\n"
        page += body
        page += "<section><h2>Summary</h2>\n" + summaryTables(report) + "</section>\n"
        page += "<script>//<![CDATA[\nconst DATA = /*DATA*/\(json)/*END*/;\n\(script)\n//]]></script>\n</body></html>\n"
        return page
    }

    static func summaryLine(_ r: TraceReport) -> String {
        "\(r.input.files) file\(r.input.files == 1 ? "" : "s") · \(TraceText.bytes(r.input.bytes)) · \(TraceText.group(r.input.events)) events · "
            + "\(r.input.errors) bad lines · \(r.nodesWithEvents) nodes with traces · \(r.records) records · span \(TraceText.ms(r.endNs &- r.startNs))"
    }

    static func esc(_ s: String) -> String {
        s.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;")
            .replacingOccurrences(of: ">", with: "&gt;").replacingOccurrences(of: "\"", with: "&quot;")
    }

    static func table(_ rows: [[String]]) -> String {
        guard let h = rows.first else { return "" }
        var s = "<table><thead><tr>" + h.map { "<th>\(esc($0))</th>" }.joined() + "</tr></thead><tbody>"
        for r in rows.dropFirst() { s += "<tr>" + r.map { "<td>\(esc($0))</td>" }.joined() + "</tr>" }
        return s + "</tbody></table>\n"
    }

    static func summaryTables(_ r: TraceReport) -> String {
        var s = "<h3>Per record kind</h3>"
        var rows = [["kind", "records", "deliveries", "dups", "dup ratio", "grafts", "graft rate", "latency p50", "p90", "p99", "max"]]
        for k in r.kinds {
            rows.append([k.kind, "\(k.records)", "\(k.deliveries)", "\(k.duplicates)", TraceText.format2(k.duplicateRatio),
                         "\(k.grafts)", TraceText.format2(k.graftRate), k.latencyNs.map { TraceText.ms($0.p50) } ?? "-",
                         k.latencyNs.map { TraceText.ms($0.p90) } ?? "-", k.latencyNs.map { TraceText.ms($0.p99) } ?? "-",
                         k.latencyNs.map { TraceText.ms($0.max) } ?? "-"])
        }
        s += table(rows)
        s += "<h3>Links (top 30 of \(r.links.count) by bytes)</h3>"
        rows = [["a", "b", "frames a→b", "bytes a→b", "frames b→a", "bytes b→a"]]
        for l in r.links.prefix(30) {
            rows.append([String(l.a.prefix(8)), String(l.b.prefix(8)), "\(l.framesAB)", TraceText.bytes(l.bytesAB), "\(l.framesBA)", TraceText.bytes(l.bytesBA)])
        }
        s += table(rows)
        s += "<h3>Drops by node</h3>"
        if r.drops.isEmpty { s += "<p>none</p>" } else {
            rows = [["node", "drops", "by reason"]]
            for d in r.drops.prefix(30) {
                rows.append([String(d.node.prefix(8)), "\(d.total)", d.byReason.sorted { $0.value > $1.value }.map { "\($0.key) \($0.value)" }.joined(separator: ", ")])
            }
            s += table(rows)
        }
        if r.input.errors > 0 {
            s += "<h3>Bad lines (\(r.input.errors))</h3><ul>" + r.input.errorExamples.map { "<li>\(esc($0))</li>" }.joined() + "</ul>"
        }
        return s
    }

    static let head = #"""
    <!DOCTYPE html>
    <html lang="en" xmlns="http://www.w3.org/1999/xhtml"><head><meta charset="utf-8"/>
    <meta name="viewport" content="width=device-width, initial-scale=1"/>
    <title>murmur trace</title>
    <style>/*<![CDATA[*/
    :root { --bg:#fbfbfa; --fg:#1d232a; --mut:#6b7580; --line:#d9dde2; --acc:#2563eb; }
    * { box-sizing: border-box; }
    body { margin:0; padding:20px 28px 40px; background:var(--bg); color:var(--fg);
           font:14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "DejaVu Sans", sans-serif; }
    h1 { font-size:22px; margin:0 0 4px; } h2 { font-size:17px; margin:28px 0 8px; border-bottom:1px solid var(--line); padding-bottom:4px; }
    h3 { font-size:14px; margin:14px 0 6px; color:#333; }
    .sub { color:var(--mut); margin:2px 0; font-size:13px; }
    .row { display:flex; gap:18px; flex-wrap:wrap; align-items:flex-start; }
    .panel { background:#fff; border:1px solid var(--line); border-radius:8px; padding:10px 12px; }
    .scroll { max-height:560px; overflow:auto; }
    select { font:inherit; padding:3px 6px; max-width:640px; }
    table { border-collapse:collapse; font-size:12.5px; background:#fff; }
    th, td { border-bottom:1px solid #eceef1; padding:3px 10px; text-align:right; font-variant-numeric:tabular-nums; }
    th { color:var(--mut); font-weight:600; } td:first-child, th:first-child, td:nth-child(2) { text-align:left; }
    code, .mono { font-family:ui-monospace, "DejaVu Sans Mono", monospace; font-size:12px; }
    .legend span { display:inline-block; margin-right:12px; font-size:12px; }
    .legend i { display:inline-block; width:10px; height:10px; border-radius:2px; margin-right:4px; vertical-align:-1px; }
    svg text { font-family:ui-monospace, "DejaVu Sans Mono", monospace; font-size:11px; fill:#333; }
    svg .axis { stroke:#9aa3ad; stroke-width:1; } svg .grid { stroke:#eef0f3; stroke-width:1; }
    .kv b { font-weight:600; } .kv span { margin-right:16px; }
    .note { color:var(--mut); font-size:12px; }
    /*]]>*/</style></head><body>

    """#

    static let body = #"""
    <section><h2>Record propagation</h2>
    <p><label>Record <select id="record"></select></label> <span class="note" id="record-note"></span></p>
    <div class="kv" id="record-info"></div>
    <div class="row">
    <div class="panel"><h3>Time to coverage</h3><div id="coverage"></div></div>
    <div class="panel scroll" style="flex:1; min-width:520px"><h3>Propagation tree (first delivery at each node)</h3><div id="tree"></div></div>
    </div>
    <div id="missing"></div>
    </section>
    <section><h2>Swimlane (node × time)</h2><p><label><input type="checkbox" id="zoom" checked="checked"/> zoom to the selected record (its origin is the dashed line)</label></p><p class="legend" id="legend"></p><div class="panel scroll" id="swimlane"></div><p class="note" id="swim-note"></p></section>
    <section><h2>Jobs</h2><div id="jobs"></div></section>

    """#

    static let script = #"""
    (function () {
    "use strict";
    const NS = "http://www.w3.org/2000/svg";
    const D = DATA;
    const short = h => h ? h.slice(0, 8) : "?";
    const ms = ns => { const v = ns / 1e6; return (Math.abs(v) >= 10000 ? (v / 1000).toFixed(1) + " s" : v.toFixed(3) + " ms"); };
    function el(tag, attrs, parent, text) {
      const e = document.createElementNS(tag === "div" || tag === "p" || tag === "span" || tag === "option" || tag === "b" || tag === "table" || tag === "tr" || tag === "td" || tag === "th" || tag === "i" || tag === "h3" ? "http://www.w3.org/1999/xhtml" : NS, tag);
      for (const k in (attrs || {})) e.setAttribute(k, attrs[k]);
      if (text !== undefined) e.textContent = text;
      if (parent) parent.appendChild(e);
      return e;
    }
    const palette = ["#2563eb", "#16a34a", "#ea580c", "#9333ea", "#0891b2", "#dc2626", "#ca8a04", "#db2777", "#4b5563", "#65a30d"];
    const hopColor = h => h === null || h === undefined ? "#9ca3af" : palette[h % palette.length];
    const kindColors = { send: "#93c5fd", recv: "#60a5fa", deliver: "#16a34a", dup: "#f59e0b", drop: "#dc2626",
      graft: "#9333ea", prune: "#a78bfa", ihave: "#cbd5e1", antientropy: "#0891b2", connect: "#10b981",
      disconnect: "#6b7280", "handshake.fail": "#b91c1c", verdict: "#111827" };
    const evColor = name => kindColors[name] || (name && name.indexOf("job.") === 0 ? "#db2777" : "#9ca3af");
    const nodeIndex = {}; D.nodes.forEach((n, i) => { nodeIndex[n] = i; });

    // ---------- record selector ----------
    const sel = document.getElementById("record");
    D.records.forEach((r, i) => {
      el("option", { value: String(i) }, sel, short(r.id) + " · " + (r.kind || "?") + " · " + r.delivered + "/" + r.nodesInTrace + " nodes · 100% at " + ms(r.coverageNs.p100));
    });
    document.getElementById("record-note").textContent = D.records.length ? D.records.length + " records (most delivered first)" : "no deliveries in these traces";
    sel.addEventListener("change", () => showRecord(+sel.value));
    document.getElementById("zoom").addEventListener("change", () => drawSwimlane());

    function showRecord(i) {
      const r = D.records[i];
      const info = document.getElementById("record-info"); info.textContent = "";
      const cov = document.getElementById("coverage"); cov.textContent = "";
      const tree = document.getElementById("tree"); tree.textContent = "";
      const miss = document.getElementById("missing"); miss.textContent = "";
      if (!r) return;
      const kv = [["id", r.id], ["origin", short(r.origin) + (r.originKnown ? "" : " (guessed)")], ["delivered", r.delivered + " of " + r.nodesInTrace],
        ["duplicates", r.duplicates], ["50%", ms(r.coverageNs.p50)], ["90%", ms(r.coverageNs.p90)], ["99%", ms(r.coverageNs.p99)], ["100%", ms(r.coverageNs.p100)]];
      kv.forEach(([k, v]) => { const s = el("span", {}, info); el("b", {}, s, k + " "); s.appendChild(document.createTextNode(String(v))); });
      drawCoverage(cov, r);
      drawTree(tree, r);
      if (r.missing.length) {
        el("h3", {}, miss, "Never delivered (" + r.missing.length + ")");
        const t = el("table", {}, miss);
        const h = el("tr", {}, t); ["node", "last event", "peer", "reason", "at"].forEach(x => el("th", {}, h, x));
        r.missing.slice(0, 200).forEach(m => {
          const tr = el("tr", {}, t); const e = m.lastEvent || {};
          [short(m.node), (e.ev || "none") + (m.lastEventIsAboutRecord ? " (this record)" : ""), short(e.peer), e.reason || "", e.sinceStartNs !== undefined ? ms(e.sinceStartNs) : ""].forEach(x => el("td", {}, tr, x));
        });
      }
      highlight = r.id;
      drawSwimlane();
    }

    function drawCoverage(parent, r) {
      const W = 440, H = 270, L = 46, R = 12, T = 12, B = 36;
      const svg = el("svg", { width: W, height: H, viewBox: "0 0 " + W + " " + H, id: "coverage-svg" }, parent);
      const pts = r.curve; const n = r.delivered || 1;
      const tmax = Math.max(1, pts.length ? pts[pts.length - 1][0] : 1);
      const x = t => L + (W - L - R) * t / tmax, y = c => H - B - (H - T - B) * c / n;
      for (let k = 0; k <= 4; k++) {
        const yy = y(n * k / 4); el("line", { x1: L, x2: W - R, y1: yy, y2: yy, class: "grid" }, svg);
        el("text", { x: L - 6, y: yy + 4, "text-anchor": "end" }, svg, (25 * k) + "%");
        const xx = x(tmax * k / 4); el("text", { x: xx, y: H - B + 16, "text-anchor": k === 0 ? "start" : k === 4 ? "end" : "middle" }, svg, ms(tmax * k / 4));
      }
      el("line", { x1: L, x2: L, y1: T, y2: H - B, class: "axis" }, svg);
      el("line", { x1: L, x2: W - R, y1: H - B, y2: H - B, class: "axis" }, svg);
      el("text", { x: (L + W - R) / 2, y: H - 4, "text-anchor": "middle" }, svg, "time since origin");
      let d = "M" + x(0) + "," + y(0);
      pts.forEach(p => { d += " H" + x(p[0]).toFixed(1) + " V" + y(p[1]).toFixed(1); });
      el("path", { d: d, fill: "none", stroke: "#2563eb", "stroke-width": 2 }, svg);
      const marks = [["50%", r.coverageNs.p50, 0.5], ["90%", r.coverageNs.p90, 0.9], ["99%", r.coverageNs.p99, 0.99], ["100%", r.coverageNs.p100, 1]];
      // Marks at the same time share one label.
      const merged = [];
      marks.forEach(m => { const last = merged[merged.length - 1]; if (last && last[1] === m[1]) { last[0] += "/" + m[0]; last[2] = m[2]; } else merged.push(m.slice()); });
      // Markers on the curve; their values listed in the empty lower-right corner.
      let lastMark = -1e9;
      merged.forEach(([lab, t, q], k) => {
        const xx = x(t), yy = y(n * q);
        const crowded = xx - lastMark < 24; lastMark = xx;
        el("line", { x1: xx, x2: xx, y1: yy, y2: H - B, stroke: "#f59e0b", "stroke-dasharray": "3,3" }, svg);
        el("circle", { cx: xx, cy: yy, r: 3.5, fill: "#f59e0b" }, svg);
        if (!crowded) el("text", { x: xx - 4, y: yy - 6, "text-anchor": "end", style: "font-size:9px; fill:#b45309" }, svg, lab.split("/")[0]);
        el("text", { x: W - R - 4, y: H - B - 10 - 14 * (merged.length - 1 - k), "text-anchor": "end" }, svg, lab + "  " + ms(t));
      });
    }

    function drawTree(parent, r) {
      const rows = r.tree; if (!rows.length) { el("p", { class: "note" }, parent, "no deliveries"); return; }
      const RH = 17, L = 14, labelW = 210, W = 820, T = 16;
      const tmax = Math.max(1, ...rows.map(e => e.sinceOriginNs));
      const x = t => L + (W - L - labelW) * t / tmax;
      const H = T + rows.length * RH + 10;
      const svg = el("svg", { width: W, height: H, viewBox: "0 0 " + W + " " + H, id: "tree-svg" }, parent);
      for (let k = 0; k <= 4; k++) { const xx = x(tmax * k / 4); el("line", { x1: xx, x2: xx, y1: T - 4, y2: H, class: "grid" }, svg);
        el("text", { x: xx, y: 10, "text-anchor": k === 0 ? "start" : "middle" }, svg, ms(tmax * k / 4)); }
      const pos = {};
      rows.forEach((e, i) => { pos[e.node] = { x: x(e.sinceOriginNs), y: T + i * RH + RH / 2 }; });
      rows.forEach(e => {
        const p = pos[e.node]; const q = e.from && !e.orphan ? pos[e.from] : null;
        if (q) el("path", { d: "M" + q.x + "," + q.y + " V" + p.y + " H" + p.x, fill: "none", stroke: "#b6bec8", "stroke-width": 1.2 }, svg);
      });
      rows.forEach(e => {
        const p = pos[e.node];
        const c = el("circle", { cx: p.x, cy: p.y, r: 4.5, fill: e.orphan ? "#9ca3af" : hopColor(e.hops), stroke: "#fff", "stroke-width": 1 }, svg);
        el("title", {}, c, short(e.node) + " +" + ms(e.sinceOriginNs) + (e.hops !== undefined && e.hops !== null ? " hop " + e.hops : "") + (e.from ? " from " + short(e.from) : " (origin)"));
        el("text", { x: p.x + 8, y: p.y + 4 }, svg, short(e.node) + "  +" + ms(e.sinceOriginNs) + (e.hops !== undefined && e.hops !== null ? "  h" + e.hops : "") + (e.orphan ? "  (parent missing)" : ""));
      });
      if (D.treeEntriesOmitted) el("p", { class: "note" }, parent, "Large trees are cut in the page; murmur trace --record ID --json has every node.");
    }

    // ---------- swimlane ----------
    let highlight = null;
    const legend = document.getElementById("legend");
    const seenKinds = {}; D.events.forEach(e => { seenKinds[D.eventNames[e[2]]] = true; });
    Object.keys(seenKinds).sort().forEach(k => { const s = el("span", {}, legend); el("i", { style: "background:" + evColor(k) }, s); s.appendChild(document.createTextNode(k)); });
    function drawSwimlane() {
      const host = document.getElementById("swimlane"); host.textContent = "";
      const MAXROWS = 120, MAXEV = 60000;
      const counts = {}; D.events.forEach(e => { counts[e[1]] = (counts[e[1]] || 0) + 1; });
      // Rows in the order the selected record reached the nodes (the wave reads top to bottom).
      const reached = {};
      const rec = D.records.find(r => r.id === highlight);
      if (rec) rec.tree.forEach(e => { reached[nodeIndex[e.node]] = e.sinceOriginNs; });
      const key = n => reached[n] === undefined ? Infinity : reached[n];
      let rowsIdx = Object.keys(counts).map(Number).sort((a, b) => (key(a) - key(b)) || (a - b));
      const shownRows = rowsIdx.slice(0, MAXROWS);
      const rowOf = {}; shownRows.forEach((n, i) => { rowOf[n] = i; });
      const RH = 13, L = 78, R = 16, T = 22, W = Math.max(900, Math.min(1600, window.innerWidth - 80));
      const H = T + shownRows.length * RH + 8;
      // Time window: the whole trace, or around the selected record (origin … 130 % of its 100 % time).
      const zoom = document.getElementById("zoom").checked && rec;
      const origin = rec ? rec.originNs - D.startNs : 0;
      const t0 = zoom ? origin - 0.1 * Math.max(rec.coverageNs.p100, 1e6) : 0;
      const t1 = zoom ? origin + 1.3 * Math.max(rec.coverageNs.p100, 1e6) : Math.max(1, D.events.length ? D.events[D.events.length - 1][0] : 1);
      const inWindow = t => t >= t0 && t <= t1;
      const x = t => L + (W - L - R) * (t - t0) / (t1 - t0);
      const svg = el("svg", { width: W, height: H, viewBox: "0 0 " + W + " " + H, id: "swimlane-svg" }, host);
      for (let k = 0; k <= 8; k++) { const t = t0 + (t1 - t0) * k / 8, xx = x(t); el("line", { x1: xx, x2: xx, y1: T - 4, y2: H, class: "grid" }, svg);
        el("text", { x: xx, y: 12, "text-anchor": k === 0 ? "start" : k === 8 ? "end" : "middle" }, svg, zoom ? (t - origin >= 0 ? "+" : "") + ms(t - origin) : ms(t)); }
      if (zoom) { const xo = x(origin); el("line", { x1: xo, x2: xo, y1: T - 4, y2: H, stroke: "#2563eb", "stroke-dasharray": "4,3" }, svg); }
      shownRows.forEach((n, i) => { el("text", { x: 4, y: T + i * RH + 10 }, svg, short(D.nodes[n])); if (i % 2) el("rect", { x: L, y: T + i * RH, width: W - L - R, height: RH, fill: "#f6f7f9" }, svg); });
      const hiIdx = highlight === null ? -2 : D.recordIDs.indexOf(highlight);
      let drawn = 0;
      const byKind = {};
      for (const e of D.events) {
        if (rowOf[e[1]] === undefined || !inWindow(e[0])) continue;
        if (drawn++ >= MAXEV) break;
        const k = D.eventNames[e[2]]; (byKind[k] = byKind[k] || []).push(e);
      }
      // One path per event kind keeps the DOM small.
      Object.keys(byKind).forEach(k => {
        let d = ""; byKind[k].forEach(e => { const yy = T + rowOf[e[1]] * RH + 2; d += "M" + x(e[0]).toFixed(1) + "," + yy + "v" + (RH - 4); });
        el("path", { d: d, stroke: evColor(k), "stroke-width": 1.6, fill: "none", opacity: 0.85 }, svg);
      });
      if (hiIdx >= 0) {
        for (const e of D.events) {
          if (e[3] !== hiIdx || rowOf[e[1]] === undefined || !inWindow(e[0])) continue;
          const k = D.eventNames[e[2]]; if (k !== "deliver") continue;
          const c = el("circle", { cx: x(e[0]), cy: T + rowOf[e[1]] * RH + RH / 2, r: 3.2, fill: "#16a34a", stroke: "#fff", "stroke-width": 0.8 }, svg);
          el("title", {}, c, short(D.nodes[e[1]]) + " deliver " + short(highlight) + " at " + ms(e[0]));
        }
      }
      const notes = [];
      notes.push(D.events.length + " events from " + rowsIdx.length + " nodes embedded");
      if (rowsIdx.length > MAXROWS) notes.push("first " + MAXROWS + " nodes shown");
      if (drawn > MAXEV) notes.push("first " + MAXEV + " events drawn");
      if (D.eventsOmitted) notes.push(D.eventsOmitted + " later events not embedded (the page and --chrome keep the earliest events, plus all of the --record record's)");
      notes.push("rows ordered by when the selected record reached them; green dots: its deliveries");
      document.getElementById("swim-note").textContent = notes.join(" · ");
    }

    // ---------- jobs ----------
    function drawJobs() {
      const host = document.getElementById("jobs");
      if (!D.jobs.length) { el("p", { class: "note" }, host, "no job events in these traces"); return; }
      D.jobs.slice(0, 40).forEach(j => {
        const p = el("div", { class: "panel", style: "margin:8px 0" }, host);
        el("h3", {}, p, "job " + short(j.id) + " · " + j.outcome + " · " + ms(j.durationNs));
        const nodes = []; j.timeline.forEach(e => { if (nodes.indexOf(e.node) < 0) nodes.push(e.node); });
        const RH = 30, L = 78, R = 150, T = 18, W = 900, H = T + nodes.length * RH + 6;
        const svg = el("svg", { width: W, height: H, viewBox: "0 0 " + W + " " + H, class: "job-svg" }, p);
        const dur = Math.max(1, j.durationNs), x = t => L + (W - L - R) * (t - j.startNs) / dur;
        for (let k = 0; k <= 4; k++) { const xx = L + (W - L - R) * k / 4; el("line", { x1: xx, x2: xx, y1: T - 4, y2: H, class: "grid" }, svg);
          el("text", { x: xx, y: 11, "text-anchor": "middle" }, svg, "+" + ms(dur * k / 4)); }
        nodes.forEach((n, i) => el("text", { x: 4, y: T + i * RH + 16 }, svg, short(n)));
        const last = {};
        // Events closer than 44 px on one row share a label ("assign·claim·execute"); hover shows each.
        const clusters = {};
        j.timeline.forEach(e => {
          const i = nodes.indexOf(e.node), xx = x(e.tNs), yy = T + i * RH + 12;
          if (last[i] !== undefined) el("line", { x1: last[i], x2: xx, y1: yy, y2: yy, stroke: "#f9a8d4", "stroke-width": 3 }, svg);
          last[i] = xx;
          const c = el("circle", { cx: xx, cy: yy, r: 5, fill: evColor(e.ev) }, svg);
          el("title", {}, c, e.ev + " at +" + ms(e.tNs - j.startNs) + (e.peer ? " peer " + short(e.peer) : "") + (e.reason ? " reason " + e.reason : ""));
          const list = clusters[i] = clusters[i] || [];
          const cur = list[list.length - 1];
          const name = e.ev.replace("job.", "");
          if (cur && xx - cur.x1 < 44) { if (cur.names.indexOf(name) < 0) cur.names.push(name); cur.x1 = xx; }
          else list.push({ x0: xx, x1: xx, y: yy, names: [name] });
        });
        Object.keys(clusters).forEach(i => clusters[i].forEach(c => {
          el("text", { x: c.x0 - 4, y: c.y - 8, style: "font-size:10px" }, svg, c.names.join("\u00b7"));
        }));
      });
    }

    drawJobs();
    if (D.records.length) showRecord(0); else drawSwimlane();
    window.TRACE_READY = { nodes: D.nodes.length, events: D.events.length, records: D.records.length };
    document.body.setAttribute("data-ready", "yes");
    })();
    """#
}
