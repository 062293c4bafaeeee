// A fax in the timeline: its page thumbnails, its state (rendered, read by OCR or not),
// and its documents. A thumbnail opens the page viewer: a modal dialog with zoom.
// Keys in the viewer: ← → (or PageUp/PageDown) page, + − zoom, 0 fit to width, Esc closes.
import { h, replace, announce } from "./dom.js";
import { t } from "./i18n.js";

const PAGE = /^page-(\d+)(-thumb)?\.png$/;
const ZOOMS = [0.25, 0.5, 0.75, 1, 1.25, 1.5, 2, 3, 4];
const url = (file) => `/api/v1/attachments/${file.id}`;

// Pages by number, each { number, full, thumb }; the other files are the fax's documents.
export function faxPages(files) {
  const pages = new Map();
  const documents = [];
  for (const f of files || []) {
    const m = PAGE.exec(f.filename);
    if (!m || f.content_type !== "image/png") { documents.push(f); continue; }
    const n = Number(m[1]);
    const page = pages.get(n) || { number: n };
    page[m[2] ? "thumb" : "full"] = f;
    pages.set(n, page);
  }
  return { pages: [...pages.values()].filter((p) => p.full).sort((a, b) => a.number - b.number), documents };
}

function stateLine(meta) {
  const notes = [];
  if (meta.render === "failed") notes.push(h("p", { class: "fax-state error", role: "note" }, t("fax.not_rendered"), meta.render_error ? ` (${meta.render_error})` : ""));
  else if (!meta.render) notes.push(h("p", { class: "fax-state muted" }, t("fax.preparing")));
  if (meta.ocr === "off") notes.push(h("p", { class: "fax-state muted" }, t("fax.ocr_off")));
  if (meta.ocr === "failed") notes.push(h("p", { class: "fax-state muted" }, t("fax.ocr_failed")));
  if (meta.ocr === "empty") notes.push(h("p", { class: "fax-state muted" }, t("fax.ocr_empty")));
  if (meta.pages_shown) notes.push(h("p", { class: "fax-state muted" }, t("fax.pages_shown", { shown: meta.pages_shown, pages: meta.pages })));
  return notes;
}

export function faxView(message) {
  const meta = message.meta || {};
  const { pages, documents } = faxPages(message.attachments);
  const list = h("ol", { class: "fax-pages", "aria-label": t("fax.pages", { n: pages.length }) },
    pages.map((page, i) => h("li", {},
      // a stable id: a live re-render of the conversation keeps the keyboard focus on it
      h("button", { type: "button", class: "fax-thumb", id: `fax-${message.id}-page-${page.number}`, "aria-label": t("fax.open_page", { n: page.number, of: pages.length }), onclick: () => openViewer(pages, i) },
        h("img", { src: url(page.thumb || page.full), alt: "", loading: "lazy" }),
        h("span", { class: "fax-page-no" }, String(page.number))))));
  return h("div", { class: "fax" }, stateLine(meta), pages.length ? list : null,
    documents.length ? h("ul", { class: "files", "aria-label": t("fax.documents") },
      documents.map((f) => h("li", {}, h("a", { href: url(f), download: f.filename }, f.filename)))) : null);
}

export function openViewer(pages, start = 0) {
  let index = start;
  let zoom = 0; // 0: fit to the width of the dialog
  const img = h("img", { class: "fax-image", alt: "" });
  const where = h("span", { class: "fax-where", "aria-live": "polite" });
  const level = h("span", { class: "fax-zoom-level", "aria-live": "polite" });
  const stage = h("div", { class: "fax-stage", tabindex: "0" }, img);
  const button = (label, key, handler) => h("button", { type: "button", "aria-label": t(label), title: `${t(label)} (${key})`, onclick: handler }, key);

  function show() {
    const page = pages[index];
    img.src = url(page.full);
    img.alt = t("fax.page", { n: page.number, of: pages.length });
    replace(where, t("fax.page", { n: page.number, of: pages.length }));
    applyZoom();
  }
  function applyZoom() {
    replace(level, zoom === 0 ? t("fax.fit") : `${Math.round(zoom * 100)} %`);
    img.classList.toggle("fit", zoom === 0);
    if (zoom === 0) img.style.width = "";
    else if (img.naturalWidth) img.style.width = `${Math.round(img.naturalWidth * zoom)}px`; // else: on load
  }
  function current() { return zoom || (img.clientWidth && img.naturalWidth ? img.clientWidth / img.naturalWidth : 1); }
  function zoomBy(step) {
    const now = current();
    const next = step > 0 ? ZOOMS.find((z) => z > now + 0.01) : [...ZOOMS].reverse().find((z) => z < now - 0.01);
    if (next) { zoom = next; applyZoom(); }
  }
  function go(delta) {
    const next = index + delta;
    if (next < 0 || next >= pages.length) return;
    index = next;
    show();
    announce(t("fax.page", { n: pages[index].number, of: pages.length }));
  }
  img.addEventListener("load", applyZoom);

  const dlg = h("dialog", { class: "fax-viewer", "aria-label": t("fax.viewer") },
    h("div", { class: "fax-toolbar", role: "toolbar", "aria-label": t("fax.viewer") },
      button("fax.prev", "←", () => go(-1)), where, button("fax.next", "→", () => go(1)),
      h("span", { class: "spacer" }),
      button("fax.zoom_out", "−", () => zoomBy(-1)), level, button("fax.zoom_in", "+", () => zoomBy(1)),
      button("fax.fit", "0", () => { zoom = 0; applyZoom(); }),
      h("button", { type: "button", class: "primary", onclick: () => dlg.close() }, t("fax.close"))),
    stage);
  dlg.addEventListener("keydown", (e) => {
    const act = { ArrowLeft: () => go(-1), PageUp: () => go(-1), ArrowRight: () => go(1), PageDown: () => go(1),
      "+": () => zoomBy(1), "=": () => zoomBy(1), "-": () => zoomBy(-1), "0": () => { zoom = 0; applyZoom(); } }[e.key];
    if (act && !(e.target instanceof HTMLButtonElement && e.key === "Enter")) { e.preventDefault(); act(); }
  });
  dlg.addEventListener("close", () => dlg.remove());
  document.body.append(dlg);
  show();
  dlg.showModal();
  stage.focus();
  return dlg;
}
