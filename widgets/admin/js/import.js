// Customer import: upload a CSV (or JSON lines) in the browser; a progress bar while the
// file goes up and while the hub stores it, then the created, updated and rejected rows.
import { h, replace } from "/console/js/dom.js";
import { t } from "./i18n.js";

function csrfToken() {
  return fetch("/api/v1/me", { credentials: "same-origin" }).then((r) => r.json()).then((me) => me.csrf_token);
}

export async function render(root) {
  const bar = h("progress", { class: "progress", id: "import-progress", max: 100, value: 0, hidden: true, "aria-label": t("import.progress") });
  const status = h("p", { id: "import-status", role: "status" });
  const result = h("div", { id: "import-result" });
  const file = h("input", { type: "file", id: "import-file", accept: ".csv,.jsonl,.ndjson,text/csv,application/x-ndjson", required: true });
  const form = h("form", { class: "card", id: "import-form", onsubmit: async (e) => {
    e.preventDefault();
    const chosen = file.files[0];
    if (!chosen) return;
    replace(result);
    bar.hidden = false;
    upload(chosen, await csrfToken(), bar, status, result);
  } },
  h("label", { class: "field", for: "import-file" }, t("import.file"), file, h("span", { class: "muted" }, t("import.columns"))),
  h("button", { class: "primary", type: "submit", id: "import-run" }, t("import.run")));
  replace(root, h("h1", {}, t("import.title")), form, bar, status, result);
}

// XMLHttpRequest, not fetch: it reports upload progress. The hub answers in JSON lines,
// {"done", "total"} per batch stored and {"report"} (or {"error"}) last.
function upload(file, csrf, bar, status, result) {
  const json = /\.(jsonl|ndjson)$/i.test(file.name) || file.type === "application/x-ndjson";
  const xhr = new XMLHttpRequest();
  let seen = 0;
  xhr.open("POST", "/api/v1/customers/import");
  xhr.setRequestHeader("Content-Type", json ? "application/x-ndjson" : "text/csv");
  xhr.setRequestHeader("Accept", "application/x-ndjson");
  xhr.setRequestHeader("X-CSRF-Token", csrf);
  xhr.upload.onprogress = (e) => {
    if (!e.lengthComputable) return;
    bar.value = Math.round((e.loaded / e.total) * 30);
    status.textContent = t("import.uploading", { pct: Math.round((e.loaded / e.total) * 100) });
  };
  const lines = (final) => {
    const text = xhr.responseText;
    const complete = final ? text.length : text.lastIndexOf("\n") + 1;
    for (const line of text.slice(seen, complete).split("\n")) {
      if (!line.trim()) continue;
      const msg = JSON.parse(line);
      if (msg.total) {
        bar.value = 30 + Math.round((msg.done / msg.total) * 70);
        status.textContent = t("import.storing", { done: msg.done, total: msg.total });
      } else if (msg.report) {
        bar.value = 100;
        status.textContent = t("import.finished");
        replace(result, report(msg.report));
      } else if (msg.error) {
        status.textContent = msg.error.detail;
      }
    }
    seen = complete;
  };
  xhr.onprogress = () => lines(false);
  xhr.onload = () => {
    if (xhr.status >= 400) {
      let detail = xhr.statusText;
      try { detail = JSON.parse(xhr.responseText).detail; } catch { /* not JSON */ }
      status.textContent = t("import.failed", { detail });
      bar.hidden = true;
      return;
    }
    lines(true);
  };
  xhr.onerror = () => { status.textContent = t("error.network"); bar.hidden = true; };
  xhr.send(file);
}

function report(r) {
  return h("div", { class: "card" },
    h("p", { id: "import-counts" }, t("import.counts", { created: r.created, updated: r.updated, rejected: r.rejected_count })),
    r.rejected.length ? h("table", { class: "list", id: "import-rejected" },
      h("thead", {}, h("tr", {}, h("th", {}, t("import.line")), h("th", {}, t("import.reason")))),
      h("tbody", {}, r.rejected.map((row) => h("tr", {}, h("td", {}, String(row.line)), h("td", {}, typeof row.reason === "string" ? row.reason : JSON.stringify(row.reason))))))
      : null);
}
