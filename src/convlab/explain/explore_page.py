"""The explorer page's HTML, CSS and JavaScript, as one template (kept in a Python module so it
ships with the package). :mod:`.explore` fills in ``__DATA__`` with the opening layer's example.

The script recomputes a layer the learner builds with the controls: its geometry (the output
size formulas of :mod:`convlab.engine.geometry`), a whole-number example (the opening layer's
embedded; others from the same counter-based generator as convlab's, ``draw``, so every layer
shows the numbers ``convlab explain --trace`` gives it for the seed), and
every output as a trace, the same loop as :func:`convlab.explain.trace.trace`: per tap the
padded-view cell, where it reads (zero padding, ``reflect``, ``replicate`` or ``circular``
copies, the zeros a transposed convolution inserts), the products per input channel of the
group, their sums, the bias and the total. The tests hold every number it shows equal to
convlab's layer on the same example, in Chromium.
"""

PAGE = r"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>convlab explore</title>
<style>
body { font-family: DejaVu Sans, Verdana, sans-serif; margin: 16px; color: #202020; }
h1 { font-size: 18px; margin: 0 0 8px 0; }
#controls { display: flex; flex-wrap: wrap; gap: 6px 14px; margin-bottom: 10px;
            font-size: 13px; }
#controls label { display: flex; flex-direction: column; }
#controls input[type=number] { width: 52px; }
.row { display: flex; flex-wrap: wrap; gap: 22px; align-items: flex-start; }
.panel { font-size: 12px; }
.panel .title { margin-bottom: 3px; }
.grid { display: grid; gap: 0; }
.cell { width: 30px; height: 30px; box-sizing: border-box; border: 1px solid #4a7fb0;
        background: #9cc3e6; display: flex; align-items: center; justify-content: center;
        position: relative; font-size: 12px; }
.cell.padding { background: #f0f0f0; border-color: #c0c0c0; color: #9a9a9a; }
.cell.zero { background: #fff; border-color: #9cc3e6; color: #9a9a9a; }
.cell.tap { background: #1f4e79; color: #fff; border-color: #0b2440; }
.cell.tap.padding, .cell.tap.zero { background: #6b6b6b; }
.cell .w { position: absolute; right: 2px; bottom: 0; font-size: 8px; }
.cell.out { background: #fff; border-color: #c8c8c8; cursor: pointer; }
.cell.out.done { background: #8fd9c8; border-color: #3c9c86; }
.cell.out.now { background: #137a63; color: #fff; border: 2px solid #0b2440; }
.other { opacity: 0.35; }
#formula, #code, #trace { font-family: DejaVu Sans Mono, monospace; font-size: 12px;
                          white-space: pre; }
#code { background: #f6f6f6; padding: 6px; }
#error { color: #b00020; font-weight: bold; min-height: 1em; }
.faint { color: #777; font-size: 12px; }
</style>
</head>
<body>
<h1>convlab explore: <span id="layer-text"></span></h1>
<div id="controls">
  <label>layer <select id="kind">
    <option value="conv">convolution</option><option value="max">max pooling</option>
    <option value="avg">average pooling</option>
    <option value="adaptive_avg">adaptive average pooling</option>
    <option value="adaptive_max">adaptive max pooling</option></select></label>
  <label>transposed <input type="checkbox" id="transposed"></label>
  <label>input H <input type="number" id="H" min="1" max="12"></label>
  <label>input W <input type="number" id="W" min="1" max="12"></label>
  <label>in channels <input type="number" id="cin" min="1" max="8"></label>
  <label>out channels <input type="number" id="cout" min="1" max="8"></label>
  <label>kernel / output size <input type="number" id="k" min="1" max="7"></label>
  <label>stride <input type="number" id="s" min="1" max="4"></label>
  <label>padding <input type="number" id="p" min="0" max="4"></label>
  <label>padding mode <select id="mode"><option>zeros</option><option>reflect</option>
    <option>replicate</option><option>circular</option></select></label>
  <label>dilation <input type="number" id="d" min="1" max="3"></label>
  <label>groups <input type="number" id="groups" min="1" max="8"></label>
  <label>output padding <input type="number" id="op" min="0" max="3"></label>
  <label>seed <input type="number" id="seed" min="0" max="9999"></label>
</div>
<div id="error"></div>
<div id="formula"></div>
<div class="faint" id="source"></div>
<p><button id="play">play</button> <button id="step">step</button>
   <span class="faint">hover an output to take it apart</span></p>
<div class="row" id="grids"><div class="row" id="inputs"></div>
  <div class="panel" id="outpanel"><div class="title" id="out-title"></div>
  <div class="grid" id="output"></div></div></div>
<h3 style="font-size:14px">trace</h3>
<div id="trace"></div>
<h3 style="font-size:14px">the same layer in code</h3>
<div id="code"></div>
<script id="data" type="application/json">__DATA__</script>
<script>
"use strict";
const DATA = JSON.parse(document.getElementById("data").textContent);
const $ = (id) => document.getElementById(id);
const FIELDS = ["kind", "transposed", "H", "W", "cin", "cout", "k", "s", "p", "mode", "d",
                "groups", "op", "seed"];
let state = Object.assign({}, DATA.opening.config);
let model = null;     // {config, x, w, b, y, traces...}
let current = 0;      // the output position shown
let timer = null;

// convlab.explain.example.whole_numbers: element i of a stream, a hash of (seed, stream, i),
// so any layer on the page gets the numbers convlab explain --trace uses for it
function draw(seed, stream, i, choices) {
  let h = (Math.imul(i, 0x9E3779B1) + Math.imul(seed, 0x85EBCA77) +
           Math.imul(stream, 0xC2B2AE3D)) >>> 0;
  h = (h ^ (h >>> 16)) >>> 0;
  h = Math.imul(h, 0x7FEB352D) >>> 0;
  h = (h ^ (h >>> 15)) >>> 0;
  h = Math.imul(h, 0x846CA68B) >>> 0;
  h = (h ^ (h >>> 16)) >>> 0;
  return choices[h % choices.length];
}

function fmt(v) {
  v = v + 0;
  if (Object.is(v, -0)) v = 0;
  return Number.isInteger(v) ? String(v) : String(Number(v.toPrecision(3)));
}

function isPool(c) { return c.kind !== "conv"; }
function isAdaptive(c) { return c.kind.startsWith("adaptive"); }

// The layer as convlab / PyTorch code (the same text works for both).
function layerText(c) {
  if (c.kind === "conv") {
    const name = c.transposed ? "ConvTranspose2d" : "Conv2d";
    const args = [c.cin, c.cout, c.k];
    if (c.s !== 1) args.push(`stride=${c.s}`);
    if (c.p !== 0) args.push(`padding=${c.p}`);
    if (c.transposed && c.op !== 0) args.push(`output_padding=${c.op}`);
    if (c.groups !== 1) args.push(`groups=${c.groups}`);
    if (c.d !== 1) args.push(`dilation=${c.d}`);
    if (c.mode !== "zeros") args.push(`padding_mode='${c.mode}'`);
    return `${name}(${args.join(", ")})`;
  }
  if (isAdaptive(c)) {
    return `Adaptive${c.kind === "adaptive_max" ? "Max" : "Avg"}Pool2d(${c.k})`;
  }
  const args = [c.k];
  if (c.s !== c.k) args.push(`stride=${c.s}`);
  if (c.p !== 0) args.push(`padding=${c.p}`);
  if (c.kind === "max" && c.d !== 1) args.push(`dilation=${c.d}`);
  return `${c.kind === "max" ? "Max" : "Avg"}Pool2d(${args.join(", ")})`;
}

// Per axis: {i, o, k, s, pLo, d, formula, windows, transposed}; throws the layer's complaint.
function axes(c) {
  const sizes = [c.H, c.W], names = ["H", "W"];
  return sizes.map((i, a) => {
    if (isAdaptive(c)) {
      const o = c.k, windows = [];
      for (let j = 0; j < o; j++) {
        windows.push([Math.floor(j * i / o), Math.ceil((j + 1) * i / o)]);
      }
      const spans = windows.map(([lo, hi]) => `${lo}..${hi - 1}`).join(", ");
      return {i, o, windows, pLo: 0, s: 1, d: 1, k: 0, transposed: false,
              formula: `${names[a]}: ${o} windows [floor(j*${i}/${o}), ceil((j+1)*${i}/${o}))` +
                       `: ${spans}`};
    }
    const k = c.k, s = c.s, p = c.p, d = isPool(c) && c.kind !== "max" ? 1 : c.d;
    const keff = d * (k - 1) + 1;
    if (isPool(c) && 2 * p > k) {
      throw new Error(`pad should be smaller than or equal to half of kernel size, but got ` +
                      `padding=${p}, kernel_size=${k}`);
    }
    if (c.kind === "conv" && c.transposed) {
      const o = (i - 1) * s - 2 * p + d * (k - 1) + c.op + 1;
      if (c.op >= Math.max(s, d)) {
        throw new Error(`output padding must be smaller than either stride or dilation, ` +
                        `but got output_padding=${c.op}, stride=${s}, dilation=${d}`);
      }
      if (o < 1) throw new Error(`${names[a]}: the output size ${o} is too small`);
      return {i, o, k, s, d, transposed: true, pLo: d * (k - 1) - p,
              formula: `${names[a]}: (${i} - 1)*${s} - 2*${p} + ${d}*(${k}-1) + ${c.op} + 1 = ` +
                       `${o}`};
    }
    if (c.mode === "reflect" && p >= i) {
      throw new Error(`padding_mode='reflect' needs padding less than the input size, but got ` +
                      `padding (${p}, ${p}) for ${names[a]} of size ${i}`);
    }
    if (c.mode === "circular" && p > i) {
      throw new Error(`padding_mode='circular' wraps around more than once: padding ` +
                      `(${p}, ${p}) for ${names[a]} of size ${i}`);
    }
    const o = Math.floor((i + 2 * p - keff) / s) + 1;
    if (i + 2 * p < keff) {
      throw new Error(`${names[a]}: kernel ${k} dilated to ${keff} does not fit the padded ` +
                      `input ${i} + 2*${p} = ${i + 2 * p}`);
    }
    return {i, o, k, s, d, pLo: p, pHi: p, transposed: false,
            formula: `${names[a]}: floor((${i} + 2*${p} - ${d}*(${k}-1) - 1) / ${s}) + 1 = ${o}`};
  });
}

function check(c) {
  if (c.kind === "conv") {
    if (c.cin % c.groups) throw new Error("in_channels must be divisible by groups");
    if (c.cout % c.groups) throw new Error("out_channels must be divisible by groups");
    if (c.transposed && c.mode !== "zeros") {
      throw new Error("only 'zeros' padding mode is supported for a transposed convolution");
    }
  }
}

// Where padded-view position q reads along one axis: [kind, input position or null].
function source(q, ax, mode) {
  const t = q - ax.pLo, i = ax.i;
  if (ax.transposed) {
    if (t < 0 || t > (i - 1) * ax.s) return ["padding", null];
    return t % ax.s ? ["zero", null] : ["input", t / ax.s];
  }
  if (t >= 0 && t < i) return ["input", t];
  if (mode === "zeros" || t < -i || t >= 2 * i) return ["padding", null];
  if (mode === "reflect") return ["padding", t < 0 ? -t : 2 * (i - 1) - t];
  if (mode === "replicate") return ["padding", t < 0 ? 0 : i - 1];
  return ["padding", ((t % i) + i) % i];  // circular
}

function combine(kinds) {
  if (kinds.includes("padding")) return "padding";
  if (kinds.includes("zero")) return "zero";
  return "input";
}

function makeExample(c, A) {
  const opening = DATA.opening;
  if (JSON.stringify(c) === JSON.stringify(opening.config)) {
    return {x: opening.x, w: opening.w, b: opening.b, from: "convlab's example (seed " +
            c.seed + "), the numbers of convlab explain --trace"};
  }
  const x = Array.from({length: c.cin * c.H * c.W}, (_, i) => draw(c.seed, 2, i, [0, 1, 2, 3]));
  let w = null, b = null;
  if (c.kind === "conv") {
    const wn = c.transposed ? c.cin * (c.cout / c.groups) * c.k * c.k
                            : c.cout * (c.cin / c.groups) * c.k * c.k;
    w = Array.from({length: wn}, (_, i) => draw(c.seed, 0, i, [-1, 1, 2]));
    b = Array.from({length: c.cout}, (_, i) => draw(c.seed, 1, i, [-2, -1, 0, 1, 2]));
  }
  return {x, w, b, from: "convlab's example (seed " + c.seed + "), the numbers of convlab " +
          "explain --trace for this layer"};
}

// One output taken apart: the same loop as convlab.explain.trace.
function trace(c, A, ex, co, oy, ox) {
  const o = [oy, ox], cinOf = (ch, y, xx) => ex.x[(ch * c.H + y) * c.W + xx];
  if (isPool(c)) {
    let K, cells, starts;
    if (isAdaptive(c)) {
      starts = A.map((ax, a) => ax.windows[o[a]][0]);
      K = A.map((ax, a) => ax.windows[o[a]][1] - ax.windows[o[a]][0]);
    } else {
      K = [c.k, c.k];
    }
    const taps = [];
    for (let my = 0; my < K[0]; my++) {
      for (let mx = 0; mx < K[1]; mx++) {
        const m = [my, mx];
        const cell = isAdaptive(c) ? [starts[0] + my, starts[1] + mx]
                                   : A.map((ax, a) => o[a] * ax.s + m[a] * ax.d);
        const src = cell.map((q, a) => source(q, A[a], "zeros"));
        const kind = combine(src.map((s) => s[0]));
        const pos = kind === "input" ? src.map((s) => s[1]) : null;
        taps.push({m, cell, kind, pos, values: [pos ? cinOf(co, pos[0], pos[1]) : 0]});
      }
    }
    const read = taps.filter((t) => t.kind === "input").map((t) => t.values[0]);
    let total, divisor = null;
    if (c.kind.endsWith("max")) {
      total = Math.max(...read);
    } else {
      if (isAdaptive(c)) {
        divisor = K[0] * K[1];
      } else {
        divisor = A.reduce((acc, ax, a) => {
          const start = o[a] * ax.s - ax.pLo;
          return acc * (Math.min(start + ax.k, ax.i + ax.pHi) - start);
        }, 1);
      }
      total = read.reduce((s, v) => s + v, 0) / divisor;
    }
    return {co, o, taps, channels: [co], read, divisor, total, op: c.kind};
  }
  const Cg = c.cin / c.groups, Og = c.cout / c.groups, g = Math.floor(co / Og);
  const channels = Array.from({length: Cg}, (_, j) => g * Cg + j);
  const taps = [];
  for (let my = 0; my < c.k; my++) {
    for (let mx = 0; mx < c.k; mx++) {
      const m = [my, mx];
      const cell = A.map((ax, a) => (ax.transposed ? o[a] : o[a] * ax.s) + m[a] * ax.d);
      const src = cell.map((q, a) => source(q, A[a], c.mode));
      const kind = combine(src.map((s) => s[0]));
      const pos = src.every((s) => s[1] !== null) ? src.map((s) => s[1]) : null;
      const values = channels.map((ch) => pos ? cinOf(ch, pos[0], pos[1]) : 0);
      const weights = channels.map((ch, j) => c.transposed
        ? ex.w[((ch * Og + co % Og) * c.k + (c.k - 1 - my)) * c.k + (c.k - 1 - mx)]
        : ex.w[((co * Cg + j) * c.k + my) * c.k + mx]);
      taps.push({m, cell, kind, pos: kind === "input" ? pos : null, values, weights});
    }
  }
  const sums = channels.map((_, j) => taps.reduce((s, t) => s + t.values[j] * t.weights[j], 0));
  const bias = ex.b ? ex.b[co] : 0;
  const total = sums.reduce((s, v) => s + v, 0) + bias;
  return {co, o, taps, channels, sums, bias, total, op: "conv"};
}

function build() {
  const c = Object.assign({}, state);
  check(c);
  const A = axes(c);
  const ex = makeExample(c, A);
  const cout = c.kind === "conv" ? c.cout : c.cin;
  const traces = [];
  for (let co = 0; co < cout; co++) {
    for (let oy = 0; oy < A[0].o; oy++) {
      for (let ox = 0; ox < A[1].o; ox++) traces.push(trace(c, A, ex, co, oy, ox));
    }
  }
  return {config: c, axes: A, ex, cout, traces, text: layerText(c)};
}

function gridView(A) {
  // padded-view extent per axis
  return A.map((ax) => {
    if (ax.windows) return ax.i;
    if (ax.transposed) return (ax.i - 1) * ax.s + 1 + 2 * ax.pLo + state.op;
    return Math.max(ax.i + 2 * ax.pLo, (ax.o - 1) * ax.s + ax.d * (ax.k - 1) + 1);
  });
}

function cellDiv(cls, text, weight) {
  const div = document.createElement("div");
  div.className = "cell " + cls;
  div.textContent = text;
  if (weight !== undefined) {
    const w = document.createElement("span");
    w.className = "w";
    w.textContent = weight;
    div.appendChild(w);
  }
  return div;
}

function render() {
  const m = model, c = m.config, A = m.axes, t = m.traces[current];
  $("layer-text").textContent = m.text;
  $("formula").textContent = A.map((ax) => ax.formula).join("\n");
  $("source").textContent = "numbers: " + m.ex.from;
  const grids = $("inputs");
  grids.innerHTML = "";
  const [GH, GW] = gridView(A);
  const shown = c.kind === "conv" ? Array.from({length: Math.min(c.cin, 8)}, (_, j) => j)
                                  : [t.co];
  for (const ch of shown) {
    const inGroup = t.channels.includes(ch);
    const j = t.channels.indexOf(ch);
    const panel = document.createElement("div");
    panel.className = "panel" + (inGroup ? "" : " other");
    panel.innerHTML = `<div class="title">input channel ${ch}` +
                      `${inGroup ? "" : " (other group)"}</div>`;
    const grid = document.createElement("div");
    grid.className = "grid";
    grid.style.gridTemplateColumns = `repeat(${GW}, 30px)`;
    grid.dataset.channel = ch;
    const taps = new Map(inGroup ? t.taps.map((tap) => [tap.cell.join(","), tap]) : []);
    for (let qy = 0; qy < GH; qy++) {
      for (let qx = 0; qx < GW; qx++) {
        const src = [source(qy, A[0], c.mode), source(qx, A[1], c.mode)];
        const kind = combine(src.map((s) => s[0]));
        const pos = src.every((s) => s[1] !== null) ? src.map((s) => s[1]) : null;
        const v = pos ? m.ex.x[(ch * c.H + pos[0]) * c.W + pos[1]] : 0;
        const tap = taps.get(qy + "," + qx);
        const cls = (kind === "input" ? "" : kind) + (tap ? " tap" : "");
        const text = kind === "padding" && c.kind.endsWith("max") ? "" : fmt(v);
        grid.appendChild(cellDiv(cls, text, tap && tap.weights ? fmt(tap.weights[j]) :
                                 undefined));
      }
    }
    panel.appendChild(grid);
    grids.appendChild(panel);
  }
  // the output cells stay in place (hovering one must not replace it): update them
  $("out-title").textContent = `output channel ${t.co}`;
  const per = A[0].o * A[1].o, base = t.co * per;
  Array.from($("output").children).forEach((div, k) => {
    const order = base + k, tr = m.traces[order];
    div.className = "cell out" + (order < current ? " done" : order === current ? " now" : "");
    div.textContent = order <= current ? fmt(tr.total) : "";
    div.dataset.index = order;
    div.dataset.value = tr.total;
  });
  $("trace").textContent = traceText(t);
  $("code").textContent = codeText(m, t);
}

function traceText(t) {
  const where = `output[0, ${t.co}, ${t.o.join(", ")}]`;
  if (t.op !== "conv") {
    const vals = t.read.map(fmt).join(", ");
    if (t.op.endsWith("max")) return `${where} = max(${vals}) = ${fmt(t.total)}`;
    return `${where} = (${t.read.map(fmt).join(" + ")}) / ${t.divisor} = ${fmt(t.total)}`;
  }
  const lines = t.channels.map((ch, j) => {
    const terms = t.taps.filter((tap) => tap.kind === "input" || state.mode !== "zeros")
      .map((tap) => `${fmt(tap.values[j])}×${tap.weights[j] < 0 ? "(" + fmt(tap.weights[j]) +
           ")" : fmt(tap.weights[j])}`);
    return `input channel ${ch}: ${terms.join(" + ") || "0"} = ${fmt(t.sums[j])}`;
  });
  const bias = model.ex.b ? ` + bias ${fmt(t.bias)}` : "";
  lines.push(`${where} = ${t.sums.map(fmt).join(" + ")}${bias} = ${fmt(t.total)}`);
  return lines.join("\n");
}

function codeText(m, t) {  // t: the output shown, which the explain line traces
  const c = m.config, A = m.axes;
  const outC = c.kind === "conv" ? c.cout : c.cin;
  return `import convlab as torch          # or: import torch - the same code runs in both\n` +
         `layer = torch.nn.${m.text}\n` +
         `x = torch.zeros(1, ${c.cin}, ${c.H}, ${c.W})\n` +
         `y = layer(x)                      # shape (1, ${outC}, ${A[0].o}, ${A[1].o})\n` +
         `# convlab explain "${m.text}" --input 1x${c.cin}x${c.H}x${c.W} --seed ${c.seed} ` +
         `--trace 0,${t.co},${t.o.join(",")}`;
}

function readControls() {
  for (const f of FIELDS) {
    const el = $(f);
    if (el.type === "checkbox") state[f] = el.checked;
    else if (el.tagName === "SELECT") state[f] = el.value;
    else state[f] = parseInt(el.value, 10);
  }
  if (state.kind !== "conv") { state.cout = state.cin; state.transposed = false; }
}

function writeControls() {
  for (const f of FIELDS) {
    const el = $(f);
    if (el.type === "checkbox") el.checked = state[f];
    else el.value = state[f];
  }
}

function outputCells(A) {
  const og = $("output");
  og.innerHTML = "";
  og.style.gridTemplateColumns = `repeat(${A[1].o}, 30px)`;
  for (let k = 0; k < A[0].o * A[1].o; k++) {
    const div = cellDiv("out", "");
    div.addEventListener("mouseenter", () => {
      stop();
      current = parseInt(div.dataset.index, 10);
      render();
    });
    og.appendChild(div);
  }
}

function update() {
  try {
    model = build();
    current = 0;
    $("error").textContent = "";
    $("grids").style.display = "";
    outputCells(model.axes);
    render();
  } catch (e) {
    model = null;
    $("error").textContent = e.message;
    $("grids").style.display = "none";
  }
}

function stop() { if (timer) { clearInterval(timer); timer = null; } }
function step() {
  if (!model) return;
  current = (current + 1) % model.traces.length;
  render();
}

for (const f of FIELDS) {
  $(f).addEventListener("change", () => { stop(); readControls(); update(); });
}
$("play").addEventListener("click", () => { stop(); timer = setInterval(step, 600); });
$("step").addEventListener("click", () => { stop(); step(); });
writeControls();
update();

// For tests and the curious: the numbers on the page.
window.convlabPage = {
  snapshot: () => ({text: model.text, config: model.config, x: model.ex.x, w: model.ex.w,
                    b: model.ex.b, outputs: model.traces.map((t) => t.total),
                    shape: [1, model.cout, model.axes[0].o, model.axes[1].o]}),
  set: (changes) => { stop(); Object.assign(state, changes); writeControls(); update(); },
  error: () => $("error").textContent,
};
</script>
</body>
</html>
"""
