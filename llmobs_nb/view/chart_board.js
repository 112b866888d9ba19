// The dashboard's charts, all in one widget, updated in place (llmobs_nb/view/chart_board.py).
//
// Python sends, in one message: `panels` (their order), `specs` (Vega-Lite, datasets emptied
// and named d0, d1… so a spec is the same whatever the data), `packed` (per panel, its rows
// per dataset as UTF-8 JSON in a binary buffer, parsed here only for a changed panel),
// `values` (titles and legend lists, lifted into params), `versions` (a panel's version
// moves when its spec, data or values changed) and `generation`.
// A panel whose spec is unchanged gets its new rows through the live Vega view (no compile);
// a changed spec is embedded anew. Every changed panel is drawn in the same pass; then
// `drawn` goes back to Python with the generation, and the board's `data-drawn` attribute
// says it to the page; `on_page` says that a view is shown (a page will draw what comes).
// A drag across a time chart ("zoom" interval) is sent as `zoom`.
// window.__llmobsVega (the loader above this module) resolves to vegaEmbed.

const OPTIONS = {
  mode: "vega-lite",
  actions: { export: true, source: true, compiled: false, editor: false },
};

function note(el, text) {
  const p = document.createElement("p");
  p.className = "llmobs-board-note";
  p.textContent = text;
  el.replaceChildren(p);
}

const DECODER = new TextDecoder();

function rowsOf(packed) {
  // A panel's datasets: JSON bytes (a DataView or ArrayBuffer from the kernel) or an object.
  if (packed == null) return {};
  if (packed instanceof ArrayBuffer || ArrayBuffer.isView(packed)) {  // a DataView is a view
    return JSON.parse(DECODER.decode(packed));
  }
  return packed;
}

function zoomOf(value) {
  // The interval selection's value: {field: [start, end]} (Dates or epoch milliseconds).
  const range = value && Object.values(value)[0];
  if (!Array.isArray(range) || range.length !== 2) return null;
  const [a, b] = range.map((v) => +new Date(v));
  return Number.isFinite(a) && Number.isFinite(b) && a !== b
    ? { start_ms: Math.min(a, b), end_ms: Math.max(a, b) }
    : null;
}

async function render({ model, el }) {
  const rendered = performance.now();
  el.classList.add("llmobs-board");
  const grid = document.createElement("div");
  grid.className = "llmobs-board-grid";
  el.appendChild(grid);
  const slots = new Map();
  let zooms = 0;
  let queue = Promise.resolve();

  function slotFor(name) {
    let slot = slots.get(name);
    if (!slot) {
      const div = document.createElement("div");
      div.className = "llmobs-board-panel";
      div.dataset.panel = name;
      note(div, "computing…");
      slot = { div, version: null, key: null, api: null, zoomed: false };
      slots.set(name, slot);
    }
    return slot;
  }

  function listenForZoom(slot) {
    const view = slot.api.view;
    try {
      view.signal("zoom");
    } catch (e) {
      return; // this chart has no time selection
    }
    slot.div.addEventListener("pointerup", () => {
      const range = zoomOf(view.signal("zoom"));
      if (range == null) return;
      slot.zoomed = true; // the brush is left on a view about to change: embed it anew
      zooms += 1;
      model.set("zoom", { ...range, n: zooms });
      model.save_changes();
    });
  }

  async function drawPanel(embed, slot, spec, packed, values) {
    const began = performance.now();
    try {
      await updateOrEmbed(embed, slot, spec, rowsOf(packed), values);
    } finally {
      slot.div.dataset.drawMs = String(Math.round(performance.now() - began));
    }
  }

  async function updateOrEmbed(embed, slot, spec, data, values) {
    const key = JSON.stringify(spec);
    if (slot.api && slot.key === key && !slot.zoomed) {
      slot.div.dataset.how = "update";
      const view = slot.api.view;
      for (const [name, value] of Object.entries(values)) view.signal(name, value);
      for (const [name, rows] of Object.entries(data)) {
        view.change(name, window.vega.changeset().remove(() => true).insert(rows));
      }
      await view.runAsync();
      return;
    }
    const params = (spec.params || []).map((p) =>
      p.name in values ? { ...p, value: values[p.name] } : p,
    );
    slot.div.dataset.how = "embed";
    // Drawn hidden inside the panel (a container width to fit), then swapped in.
    const div = document.createElement("div");
    div.className = "llmobs-board-next";
    slot.div.appendChild(div);
    let api;
    try {
      api = await embed(div, { ...spec, params, datasets: data }, OPTIONS);
    } catch (e) {
      div.remove();
      throw e;
    }
    if (slot.api) slot.api.finalize();
    div.classList.remove("llmobs-board-next");
    slot.div.replaceChildren(div);
    slot.api = api;
    slot.key = key;
    slot.zoomed = false;
    listenForZoom(slot);
  }

  async function draw() {
    const began = performance.now();
    const generation = model.get("generation");
    const specs = model.get("specs") || {};
    const packed = model.get("packed") || {};
    const values = model.get("values") || {};
    const versions = model.get("versions") || {};
    const names = model.get("panels") || [];
    const order = names.map((name) => slotFor(name).div);
    if (order.some((div, i) => grid.children[i] !== div)) grid.replaceChildren(...order);
    let embed;
    try {
      embed = await window.__llmobsVega;
      // From this view's start to the Vega libraries ready (loaded once per page).
      if (!el.dataset.vegaMs) el.dataset.vegaMs = String(Math.round(performance.now() - rendered));
    } catch (e) {
      names.forEach((name) => note(slotFor(name).div, "Vega did not load: " + e));
      return;
    }
    const jobs = [];
    for (const name of names) {
      const slot = slotFor(name);
      if (!(name in specs) || slot.version === versions[name]) continue;
      slot.version = versions[name];
      jobs.push(
        drawPanel(embed, slot, specs[name], packed[name], values[name] || {}).catch((e) => {
          slot.api = null;
          slot.key = null;
          note(slot.div, "chart error: " + e);
        }),
      );
    }
    await Promise.all(jobs);
    // How long the page took to draw this generation (for benchmarks and curious users).
    el.dataset.drawMs = String(Math.round(performance.now() - began));
    // The first generation's too (a later one, such as a background panel, replaces drawMs).
    if (!el.dataset.firstDrawMs && jobs.length) el.dataset.firstDrawMs = el.dataset.drawMs;
    el.dataset.drawn = String(generation);
    // And once the browser has painted that frame (the task after its animation frame):
    // data-painted and its time on the page's clock, for benchmarks timing what users see.
    requestAnimationFrame(() =>
      setTimeout(() => {
        el.dataset.paintedAt = String(performance.now());
        el.dataset.painted = String(generation);
      }, 0),
    );
    if (model.get("drawn") !== generation) {
      model.set("drawn", generation);
      model.save_changes();
    }
  }

  function drawInTurn() {
    // One draw at a time, in the order the generations came.
    queue = queue.then(draw, draw);
    return queue;
  }

  function showUpdating() {
    el.classList.toggle("llmobs-updating", !!model.get("updating"));
  }

  model.on("change:generation", drawInTurn);
  model.on("change:updating", showUpdating);
  showUpdating();
  if (!model.get("on_page")) {
    model.set("on_page", true); // a page will draw what comes: the kernel's later work waits
    model.save_changes();
  }
  await drawInTurn();
  return () => slots.forEach((slot) => slot.api && slot.api.finalize());
}

export default { render };
