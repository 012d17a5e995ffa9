// Lab animation player (loaded by app/lab/player.py after `fig` and `START` are defined).
// Steps only through Plotly.animate on prepared frames; plotly's own slider and buttons are
// replaced by ours, so no slider-change event can pause playback behind the teacher's back.
(function () {
  const $ = (id) => document.getElementById(id);
  const gd = $("plot"), pos = $("pos"), stepLine = $("step"), scrub = $("scrub");
  const playBtn = $("play"), speedSel = $("speed");
  const titles = fig.frames.map((f) => (f.layout && f.layout.title ? f.layout.title.text : ""));
  const frames = fig.frames.map((f) => ({
    name: f.name, data: f.data, traces: f.traces,
    layout: f.layout && f.layout.shapes ? {shapes: f.layout.shapes} : {},
  }));
  const names = frames.map((f) => f.name), n = names.length;
  const layout = Object.assign({}, fig.layout, {sliders: [], updatemenus: []});
  layout.title = Object.assign({}, layout.title || {}, {text: ""});
  let cur = 0, timer = null, gen = 0, lastUrl = 0;
  scrub.max = String(n);

  function writeUrl(force) {  // the shared link opens on this step (1-based)
    const now = Date.now();
    if (!force && now - lastUrl < 700) return;
    lastUrl = now;
    try {
      const w = window.parent;
      if (!w || w === window) return;
      const u = new URL(w.location.href);
      u.searchParams.set("step", String(cur + 1));
      w.history.replaceState(w.history.state, "", u.toString());
    } catch (e) { /* offline download or another origin: nothing to update */ }
  }
  function label() {
    pos.textContent = "step " + (cur + 1) + " / " + n;
    scrub.value = String(cur + 1);
    stepLine.innerHTML = titles[cur] || "";
    writeUrl(timer === null);
  }
  function show(i) {
    cur = Math.max(0, Math.min(n - 1, i));
    label();
    return Plotly.animate(gd, [names[cur]], {mode: "immediate", frame: {duration: 0, redraw: true},
                                             transition: {duration: 0}});
  }
  function pause() {
    if (timer !== null) clearTimeout(timer);
    timer = null; gen += 1;
    playBtn.textContent = "▶ play";
    writeUrl(true);
  }
  function tick(g) {
    if (g !== gen) return;
    const drawn = show(cur + 1);
    if (cur >= n - 1) { pause(); return; }  // the last step is shown: stop here
    drawn.then(() => {  // the next step only after this one is drawn (slow machines never pile up)
      if (g === gen && timer !== null) timer = setTimeout(() => tick(g), Number(speedSel.value));
    });
  }
  function play() {
    if (cur >= n - 1) show(0);
    gen += 1;
    const g = gen;
    playBtn.textContent = "⏸ pause";
    timer = setTimeout(() => tick(g), Number(speedSel.value));
  }
  function toggle() { if (timer !== null) pause(); else play(); }
  function axis(ref) { return ref.replace(/^([xy])/, "$1axis"); }
  function cells() {  // cell size (CSS px) each subplot's space allows: [by its width, by its height]
    const full = gd._fullLayout, sz = full._size;
    return Object.keys(full).filter((k) => /^xaxis\d*$/.test(k)).map((k) => {
      const xa = full[k], ya = full[k.replace("x", "y")];
      const xd = xa._inputDomain || xa.domain, yd = ya._inputDomain || ya.domain;
      return [(xd[1] - xd[0]) * sz.w / Math.abs(xa.range[1] - xa.range[0]),
              (yd[1] - yd[0]) * sz.h / Math.abs(ya.range[1] - ya.range[0])];
    });
  }
  function fit() {  // every number inside its cell, whatever the width or zoom
    const full = gd._fullLayout, sizes = [], idx = [];
    gd.data.forEach((t, i) => {
      if (!t.meta || !t.meta.fit) return;
      const xa = full[axis(t.xaxis || "x")], ya = full[axis(t.yaxis || "y")];
      const cw = xa._length / Math.abs(xa.range[1] - xa.range[0]);
      const ch = ya._length / Math.abs(ya.range[1] - ya.range[0]);
      const cell = Math.min(cw, ch) - 3;
      sizes.push(Math.max(5, Math.floor(Math.min(t.meta.max, 0.86 * cell / t.meta.fit, 0.62 * cell))));
      idx.push(i);
    });
    return idx.length ? Plotly.restyle(gd, {"textfont.size": sizes}, idx) : Promise.resolve();
  }
  let frameH = null;  // the iframe's height as the page laid it out: never grow past it (it would
  try { frameH = window.frameElement ? window.frameElement.clientHeight : null; } catch (e) { /* */ }
  function room() {   // overlap what follows); presenter mode: also end above the screen's bottom
    let r = frameH || Infinity;
    try {
      const f = window.frameElement, w = window.parent;
      if (BIG && f && w) r = Math.min(r, w.innerHeight - f.getBoundingClientRect().top - 8);
    } catch (e) { /* not embedded */ }
    return r;
  }
  function stepRoom() {  // the step line keeps the height of its longest text at this width, so
    stepLine.style.minHeight = "";  // the grid never moves while playing nor leaves the frame
    const keep = stepLine.innerHTML;
    let tallest = 0;
    for (const t of new Set(titles)) { stepLine.innerHTML = t; tallest = Math.max(tallest, stepLine.offsetHeight); }
    stepLine.innerHTML = keep;
    stepLine.style.minHeight = tallest + "px";
  }
  function top() { return gd.getBoundingClientRect().top + window.scrollY; }  // controls + step line
  let sizedTop = null;
  function size() {  // height follows the width: square cells without empty bands
    stepRoom();
    const full = gd._fullLayout, m = full.margin, plot = full.height - m.t - m.b;
    const ratio = Math.max(...cells().map(([w, h]) => w / h));
    sizedTop = top();
    const chrome = sizedTop + 8;
    let h = Math.round(plot * ratio + m.t + m.b);
    h = Math.max(160, Math.min(h, room() - chrome));
    const done = Math.abs(h - full.height) > 3 ? Plotly.relayout(gd, {height: h}) : Promise.resolve();
    return done.then(() => {
      try { if (window.frameElement) window.frameElement.style.height = (h + chrome) + "px"; }
      catch (e) { /* not embedded */ }
      return fit();
    });
  }
  function reserve() {  // the position label keeps the width of its longest text ("step n / n")
    pos.style.minWidth = "";
    pos.textContent = "step " + n + " / " + n;
    pos.style.minWidth = pos.offsetWidth + "px";
  }
  $("first").onclick = () => { pause(); show(0); };
  $("last").onclick = () => { pause(); show(n - 1); };
  $("prev").onclick = () => { pause(); show(cur - 1); };
  $("next").onclick = () => { pause(); show(cur + 1); };
  playBtn.onclick = toggle;
  scrub.oninput = () => { pause(); show(Number(scrub.value) - 1); };
  speedSel.onchange = () => { if (timer !== null) { pause(); play(); } };
  document.addEventListener("keydown", (e) => {
    if (e.target === scrub && e.key.startsWith("Arrow")) return;  // the range input steps itself
    const k = {ArrowRight: () => show(cur + 1), ArrowLeft: () => show(cur - 1), " ": toggle,
               Home: () => show(0), End: () => show(n - 1)}[e.key];
    if (k) { e.preventDefault(); if (e.key !== " ") pause(); k(); }
  });
  let resizing = null;
  const later = () => { clearTimeout(resizing); resizing = setTimeout(size, 250); };
  window.addEventListener("resize", () => { reserve(); label(); later(); });
  // anything above the grid that changes height later (a font arriving, the controls wrapping)
  // moves the grid: size again, so it never ends below the frame
  new ResizeObserver(() => { if (sizedTop !== null && Math.abs(top() - sizedTop) > 1) size(); })
    .observe(document.body);
  cur = Math.max(0, Math.min(n - 1, START));
  reserve();
  label();  // the controls and the step line hold their real text before the grid is sized
  Plotly.newPlot(gd, fig.data, layout, {displayModeBar: false, responsive: true}).then(() => {
    Plotly.addFrames(gd, frames);
    return size();
  }).then(() => {
    show(cur);
    document.body.focus({preventScroll: true});
    document.body.dataset.ready = "1";
  });
  window.labPlayer = {show, play, pause, fit, size, current: () => cur, playing: () => timer !== null};
})();
