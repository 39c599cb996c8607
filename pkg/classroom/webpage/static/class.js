// duplexdemo's teacher's view: every student's call of the class
// experiment, for a projector. Live, it listens to /class/events (a
// snapshot of the experiment on connecting, then each batch of new calls
// with the stats as they now stand) and draws, for each mode, the
// distribution of the four measures the server worked out, and one row of
// swimlanes per call, newest first. Saved as a report (duplexdemo report
// --html), the same page finds the experiment in the page itself
// (#class-data) and draws it once.
//
// Drawing is coalesced into one animation frame however many events come,
// and a call's row is built once and moved, never rebuilt, while the
// time axis and the width stay the same: a class of two hundred finishing
// at once costs the page what their new rows cost.
'use strict';

(() => {
  const SVG = 'http://www.w3.org/2000/svg';
  const TOKEN_KEY = 'duplexdemo-teacher'; // sessionStorage: this tab's teacher token
  const ROW_H = 56; // CSS px: one call's row of swimlanes
  const MIN_ROWS = 4; // rows drawn per mode on the shortest screen
  const MAX_ROWS = 60; // rows drawn per mode on the tallest
  const STATIC_ROWS = 500; // rows drawn per mode in a saved report, which scrolls and prints
  const BIN_PX = 12; // CSS px: the width of a histogram's bar
  const MIN_WIDTH = 480; // CSS px: a narrower box scrolls its figure sideways
  // On paper the figures are drawn for the page, not for the screen they
  // were on: A4 landscape less class.css's 10 mm margins, two columns 8 mm
  // apart, in CSS px. A narrower paper shrinks them a little (max-width).
  const PAPER_WIDTH = 1047;
  const PAPER_GAP = 30;
  const RECONNECT_MS = 2000; // before opening again a stream the server closed
  const ANNOUNCE_MS = 4000; // between two announcements of the counts to a screen reader
  // A mode's fill, in the order the server lists the modes, and its name
  // in the legend: modes differ without colour. The view names no mode
  // itself; the server's stats do.
  // Ten fills, so that the groups a class plays (the nine modes, and a
  // browser's walkie on two connections) never share one.
  const PATTERNS = ['hatch', 'solid', 'dots', 'cross', 'vertical', 'horizontal', 'back', 'grid', 'rings', 'checker'];
  const PATTERN_WORDS = {
    hatch: 'Hatched', solid: 'Solid', dots: 'Dotted', cross: 'Cross-hatched', vertical: 'Striped',
    horizontal: 'Lined', back: 'Back-hatched', grid: 'Gridded', rings: 'Ringed', checker: 'Checked',
  };

  const $ = (sel) => document.querySelector(sel);
  const ms = (v) => `${Math.round(v)} ms`;
  const plural = (n, one, many) => `${n} ${n === 1 ? one : many}`;
  const wall = () => performance.timeOrigin + performance.now(); // ms since 1970, to the microsecond

  // state is what the view shows: the experiment, the stats the server
  // worked out, and each mode's rows, oldest first.
  const state = { static: false, experiment: null, stats: null, modes: new Map(), longest: 0 };

  // duplexdemoClass is for tests and the curious: when each call's row
  // arrived (seen) and when a frame first showed it (shown), on the wall
  // clock in ms; and how much drawing was done.
  const probe = { experiment: 0, seen: {}, shown: {}, events: 0, snapshots: 0, frames: 0, built: 0, drawMS: 0, longestMS: 0, status: 'starting' };
  window.duplexdemoClass = probe;

  // printing says the page is being laid out for paper.
  let printing = false;
  const isPrint = () => printing || window.matchMedia('print').matches;
  // widthOf is the width a figure in box is drawn at: the box's on screen,
  // a column of the paper's in print.
  const widthOf = (box) => Math.max(MIN_WIDTH, isPrint() ? Math.floor((PAPER_WIDTH - PAPER_GAP) / 2) : Math.floor(box.clientWidth));

  const modeName = (key, name) => (name ? name.replace(/^the /, '') : key);
  const patternOf = (i) => PATTERNS[i % PATTERNS.length];

  function el(name, attrs, text) {
    const e = document.createElementNS(SVG, name);
    for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, v);
    if (text !== undefined) e.textContent = text;
    return e;
  }

  function html(name, attrs, text) {
    const e = document.createElement(name);
    for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, v);
    if (text !== undefined) e.textContent = text;
    return e;
  }

  // measure returns the width in CSS px of text drawn with the classes
  // given, in a hidden SVG; digits are measured as 0s, as wide in the
  // figures' fonts, so that growing numbers are measured once.
  const measured = new Map();
  let ruler = null;
  function measure(text, textClass) {
    const t0 = text.replace(/[0-9]/g, '0');
    const key = `${textClass}|${t0}`;
    if (measured.has(key)) return measured.get(key);
    if (!ruler) {
      ruler = el('svg', { class: 'ruler', 'aria-hidden': 'true' });
      document.body.append(ruler);
    }
    const t = el('text', { class: textClass }, t0);
    ruler.append(t);
    const w = t.getComputedTextLength();
    t.remove();
    measured.set(key, w);
    return w;
  }

  // The fills that tell the modes and a wait apart without colour, once
  // for every figure of the page.
  function patterns() {
    const svg = el('svg', { class: 'defs', width: 0, height: 0, 'aria-hidden': 'true', focusable: 'false' });
    const defs = el('defs');
    const pat = (id, size, ...children) => {
      const p = el('pattern', { id, width: size, height: size, patternUnits: 'userSpaceOnUse' });
      p.append(el('rect', { class: 'pattern-bg', width: size, height: size }), ...children);
      defs.append(p);
    };
    pat('pattern-hatch', 5, el('path', { class: 'pattern-ink', d: 'M-1,1 l2,-2 M0,5 l5,-5 M4,6 l2,-2' }));
    pat('pattern-dots', 6, el('circle', { class: 'pattern-dot', cx: 3, cy: 3, r: 1.6 }));
    pat('pattern-cross', 6, el('path', { class: 'pattern-ink', d: 'M0,0 l6,6 M6,0 l-6,6' }));
    pat('pattern-vertical', 5, el('path', { class: 'pattern-ink', d: 'M2.5,0 v5' }));
    pat('pattern-horizontal', 5, el('path', { class: 'pattern-ink', d: 'M0,2.5 h5' }));
    pat('pattern-back', 5, el('path', { class: 'pattern-ink', d: 'M-1,4 l2,2 M0,0 l5,5 M4,-1 l2,2' }));
    pat('pattern-grid', 6, el('path', { class: 'pattern-thin', d: 'M3,0 v6 M0,3 h6' }));
    pat('pattern-rings', 8, el('circle', { class: 'pattern-ring', cx: 4, cy: 4, r: 2.2 }));
    pat('pattern-checker', 8, el('path', { class: 'pattern-dot', d: 'M0,0 h4 v4 h-4 z M4,4 h4 v4 h-4 z' }));
    pat('pattern-wait', 5, el('path', { class: 'pattern-wait-ink', d: 'M-1,1 l2,-2 M0,5 l5,-5 M4,6 l2,-2' }));
    svg.append(defs);
    document.body.append(svg);
  }

  // niceMax rounds a time up to an axis's end: 1, 2, 2.5, 4 or 5 times a
  // power of ten, in ms.
  function niceMax(v) {
    const t = Math.max(v, 100);
    const p = 10 ** Math.floor(Math.log10(t));
    for (const m of [1, 1.5, 2, 2.5, 3, 4, 5, 6, 8, 10]) if (m * p >= t) return m * p;
    return 10 * p;
  }

  // ticks returns the axis's times, far enough apart for labels of width w.
  function ticks(end, plot, cls) {
    for (const s of [50, 100, 200, 250, 500, 1000, 2000, 2500, 5000, 10000, 20000, 30000, 60000, 120000]) {
      let widest = 0;
      for (let t = 0; t <= end; t += s) widest = Math.max(widest, measure(ms(t), cls));
      if (s / end * plot >= widest + 18) {
        const out = [];
        for (let t = 0; t <= end + 1e-9; t += s) out.push(t);
        return out;
      }
    }
    return [0, end];
  }

  // axis draws a time axis at y, its labels below it, kept inside [0, W].
  function axis(svg, x, end, left, plot, y, W, tickTop) {
    for (const t of ticks(end, plot, 'tick-label')) {
      const g = el('g', { class: 'tick' });
      g.append(el('line', { x1: x(t), y1: tickTop, x2: x(t), y2: y + 4 }));
      const tw = measure(ms(t), 'tick-label');
      const tx = Math.max(tw / 2 + 1, Math.min(x(t), W - 1 - tw / 2));
      g.append(el('text', { class: 'tick-label', x: tx, y: y + 20, 'text-anchor': 'middle' }, ms(t)));
      svg.append(g);
    }
    svg.append(el('line', { class: 'axis', x1: left, y1: y, x2: left + plot, y2: y }));
  }

  // --- the distributions ---

  // drawDists draws one figure per measure, each with a strip per mode on
  // one time axis shared by the four, so that the same time is at the same
  // place everywhere.
  function drawDists() {
    const box = $('#dists');
    const stats = state.stats;
    if (!stats) { box.replaceChildren(); return; }
    const modes = stats.modes;
    const keys = modes.length ? modes[0].measures.map((d) => ({ key: d.key, title: d.title, caption: d.caption })) : [];
    let top = 0;
    for (const m of modes) for (const d of m.measures) if (d.max !== null && d.max !== undefined) top = Math.max(top, d.max);
    const end = niceMax(top * 1.02);
    const figures = [];
    $('#mode-key').textContent = modes.map((m, i) => `${PATTERN_WORDS[patternOf(i)]}: ${modeName(m.mode, m.name)}.`).join(' ');
    for (const { key, title, caption } of keys) {
      const fig = html('figure', { class: 'dist-figure', 'data-key': key });
      const cap = html('figcaption', {}, caption || title);
      fig.append(cap);
      figures.push(fig);
    }
    box.replaceChildren(...figures);
    // Drawn once the figures are in the page, at their width: every width
    // read before any figure is drawn, so that the page is laid out once.
    const widths = figures.map(widthOf);
    keys.forEach(({ key, title }, i) => figures[i].append(distFigure(modes, key, title, end, widths[i])));
  }

  function distFigure(modes, key, title, end, W) {
    const pad = 6, gap = 14, right = 14, stripH = 58, labelH = 21, axisH = 30;
    const labels = modes.map((m, i) => {
      const d = m.measures.find((x) => x.key === key);
      const n = d ? d.values.length : 0;
      const never = d ? d.never : 0;
      return { m, d, i, name: modeName(m.mode, m.name), count: plural(n, 'call', 'calls') + (never ? `, ${never} never` : '') };
    });
    const nameW = Math.max(60, ...labels.map((l) => Math.max(measure(l.name, 'strip-name'), measure(l.count, 'strip-count'))));
    const left = Math.ceil(pad + nameW + gap);
    const plot = W - left - right;
    const H = modes.length * stripH + axisH + 4;
    const x = (t) => left + Math.max(0, Math.min(t, end)) / end * plot;
    const said = labels.map((l) => `${l.name}: ${l.d && l.d.median !== null && l.d.median !== undefined ? `median ${ms(l.d.median)}` : 'no value'}, ${l.count}`);
    const svg = el('svg', {
      class: 'dist', width: W, height: H, viewBox: `0 0 ${W} ${H}`, role: 'img', 'data-key': key, 'data-end-ms': end,
      'aria-label': `${title}, in ms: ${said.join('; ')}`,
    });
    // Bins as wide as BIN_PX, on a round number of ms.
    const binMS = niceBin(end / Math.max(1, Math.floor(plot / BIN_PX)));
    const counts = labels.map((l) => {
      const bins = new Map();
      if (l.d) for (const v of l.d.values) { const b = Math.floor(v / binMS); bins.set(b, (bins.get(b) || 0) + 1); }
      return bins;
    });
    labels.forEach((l, i) => {
      const y = i * stripH;
      const barsTop = y + labelH, barsH = stripH - labelH - 8;
      const g = el('g', {
        class: 'strip', 'data-mode': l.m.mode, 'data-group': l.m.group || l.m.mode, 'data-key': key, 'data-calls': l.m.calls,
        'data-count': l.d ? l.d.values.length : 0, 'data-never': l.d ? l.d.never : 0,
        'data-median': l.d && l.d.median !== null && l.d.median !== undefined ? String(l.d.median) : '',
      });
      g.append(el('rect', { class: 'strip-bg', x: left, y: barsTop, width: plot, height: barsH }));
      g.append(el('text', { class: 'strip-name', x: pad, y: y + labelH + 10 }, l.name));
      g.append(el('text', { class: 'strip-count', x: pad, y: y + labelH + 28 }, l.count));
      // The bars, as one path: a bar's height is its count, the mode's
      // tallest bar as tall as the strip, so that each mode's spread shows
      // however few calls it has.
      let most = 1;
      for (const c of counts[i].values()) most = Math.max(most, c);
      let d = '';
      for (const [b, c] of counts[i]) {
        const x0 = x(b * binMS), x1 = Math.max(x0 + 2, x((b + 1) * binMS) - 1);
        const h = Math.max(6, c / most * barsH);
        d += `M${x0.toFixed(1)},${(barsTop + barsH).toFixed(1)}h${(x1 - x0).toFixed(1)}v${(-h).toFixed(1)}h${(x0 - x1).toFixed(1)}z`;
      }
      if (d) g.append(el('path', { class: `bars fill-${patternOf(i)}`, d }));
      const med = l.d ? l.d.median : null;
      if (med !== null && med !== undefined) {
        const mx = x(med);
        g.append(el('line', { class: 'median', x1: mx, y1: barsTop - 4, x2: mx, y2: barsTop + barsH }));
        const text = `median ${ms(med)}`;
        const tw = measure(text, 'median-label');
        // Beside the line, on the side with room, inside the figure.
        let tx = mx + 5, anchor = 'start';
        if (tx + tw > W - 2) { tx = mx - 5; anchor = 'end'; }
        if (anchor === 'end' && tx - tw < left) { tx = Math.min(Math.max(left, mx - tw / 2), W - 2 - tw); anchor = 'start'; }
        g.append(el('text', { class: 'median-label', x: tx, y: barsTop - 6, 'text-anchor': anchor }, text));
      } else {
        g.append(el('text', { class: 'median-label none', x: left + 4, y: barsTop + barsH / 2 + 6 }, l.m.calls ? 'never, in every call' : 'no calls yet'));
      }
      svg.append(g);
    });
    axis(svg, x, end, left, plot, modes.length * stripH, W, 0);
    return svg;
  }

  // niceBin rounds a bin's width up to 1, 2 or 5 times a power of ten, in ms.
  function niceBin(v) {
    const p = 10 ** Math.floor(Math.log10(Math.max(v, 0.1)));
    for (const m of [1, 2, 5, 10]) if (m * p >= v) return m * p;
    return 10 * p;
  }

  // --- the rows of swimlanes ---

  // mode returns the view's part for a mode, made on first need: its
  // heading, its axis, its list of rows and the note of those not drawn.
  function mode(key, name) {
    let m = state.modes.get(key);
    if (m) {
      if (!m.name && name) m.name = name;
      return m;
    }
    const sec = html('section', { class: 'mode', 'data-mode': key });
    const h = html('h3');
    const axisBox = html('div', { class: 'row-axis' });
    const list = html('ol', { class: 'rows', 'data-mode': key, reversed: '' });
    const note = html('p', { class: 'hidden-note' });
    sec.append(h, axisBox, list, note);
    m = { key, name, rows: [], els: new Map(), sec, h, axisBox, list, note, axisKey: '', index: state.modes.size };
    state.modes.set(key, m);
    return m;
  }

  // rowsToDraw is how many rows of each mode the view draws: live, as
  // many as fit the screen below the distributions (top is where the rows
  // begin on the page); in a report, all of them, up to STATIC_ROWS.
  function rowsToDraw(top) {
    if (state.static) return STATIC_ROWS;
    const room = window.innerHeight - top - 2.5 * parseFloat(getComputedStyle(document.body).fontSize);
    return Math.max(MIN_ROWS, Math.min(MAX_ROWS, Math.floor(room / ROW_H)));
  }

  // visibleRows returns the newest n rows of m that have lanes, newest
  // first: rows sent without lanes (the older ones of a snapshot) are
  // counted, not drawn.
  function visibleRows(m, n) {
    const out = [];
    for (let i = m.rows.length - 1; i >= 0 && out.length < n; i--) if (m.rows[i].spans) out.push(m.rows[i]);
    return out;
  }

  // nameWidth is the room a student's name takes at the start of a row:
  // the widest name duplexdemo gives, near enough.
  let nameW = 0;
  const nameWidth = () => nameW || (nameW = Math.ceil(Math.max(...['nimble-dolphin-00', 'bright-falcon-00', 'silver-puffin-00'].map((s) => measure(s, 'who')))));

  function drawRows() {
    // One list of rows per mode, whatever its connections: a row says its own.
    const order = state.stats ? [...new Set(state.stats.modes.map((m) => m.mode))] : [];
    for (const key of state.modes.keys()) if (!order.includes(key)) order.push(key);
    const parts = order.map((key) => mode(key));
    const box = $('#modes');
    if (box.children.length !== parts.length || parts.some((m, i) => box.children[i] !== m.sec)) box.replaceChildren(...parts.map((m) => m.sec));
    // Everything read from the layout is read before anything is drawn:
    // reading it between two changes would lay the page out again each time.
    const top = parts.length ? parts[0].list.getBoundingClientRect().top + window.scrollY : 0;
    const widths = parts.map((m) => widthOf(m.list));
    const n = rowsToDraw(top);
    const shown = parts.map((m) => [m, visibleRows(m, n)]);
    // One time axis for every row: to the end of the longest call yet,
    // rounded, so that it rarely changes (and the rows with it).
    const end = niceMax(state.longest * 1.02);
    nameWidth();
    measure('interruption', 'mark-label');
    measure('afterthought', 'mark-label');
    for (const [m, rows] of shown) for (const r of rows) if (!m.els.has(r.id)) measure(r.student, 'who');
    for (const [j, [m, rows]] of shown.entries()) {
      const groups = state.stats ? state.stats.modes.filter((x) => x.mode === m.key) : [];
      const calls = groups.length ? groups.reduce((n, x) => n + x.calls, 0) : m.rows.length;
      const st = groups.find((x) => x.connections <= 1) || groups[0];
      m.h.textContent = `${modeName(m.key, m.name || (st && st.name))}: ${plural(calls, 'call', 'calls')}`;
      const W = widths[j];
      const key = `${end}|${W}`;
      if (m.axisKey !== key) {
        m.axisKey = key;
        m.axisBox.replaceChildren(rowAxis(end, W));
      }
      // Reuse every row already built for this axis and width; build only
      // the new ones; move them into place.
      const keep = new Map();
      rows.forEach((r, i) => {
        let li = m.els.get(r.id);
        if (!li || li.dataset.key !== key) {
          li = buildRow(r, m, end, W, key);
          probe.built++;
        }
        keep.set(r.id, li);
        const at = m.list.children[i];
        if (at !== li) m.list.insertBefore(li, at || null);
      });
      while (m.list.children.length > rows.length) m.list.lastElementChild.remove();
      m.els = keep;
      const hidden = calls - rows.length;
      m.note.textContent = hidden > 0 ? `The newest ${plural(rows.length, 'call is', 'calls are')} drawn; ${plural(hidden, 'older call is', 'older calls are')} not drawn here, but counted above.` : '';
      m.note.hidden = hidden <= 0;
    }
  }

  // rowEnd is when a row's call ended, as drawn.
  function rowEnd(r) {
    let t = r.duration_ms || 0;
    for (const s of r.spans || []) t = Math.max(t, s.end_ms);
    return t;
  }

  // rowGeometry is where a row's parts go, in CSS px.
  function rowGeometry(W) {
    const left = nameWidth() + 18;
    return { left, plot: W - left - 10, client: 2, server: 34, laneH: 18 };
  }

  function rowAxis(end, W) {
    const { left, plot } = rowGeometry(W);
    const x = (t) => left + t / end * plot;
    const svg = el('svg', { class: 'axis-svg', width: W, height: 30, viewBox: `0 0 ${W} 30`, 'aria-hidden': 'true' });
    axis(svg, x, end, left, plot, 4, W, 0);
    svg.append(el('text', { class: 'axis-name', x: 2, y: 24 }, 'time in the call'));
    return svg;
  }

  // moment says a line's life in words.
  function momentText(label, mo) {
    const v = (k) => mo && mo[k] !== null && mo[k] !== undefined;
    if (!v('wanted_at_ms')) return `${label} never wanted`;
    if (!v('sent_at_ms')) return `${label} never sent`;
    return `${label} waited ${ms(mo.waited_ms)}` + (v('heard_after_ms') ? `, heard ${ms(mo.heard_after_ms)} after it was wanted` : ', never heard');
  }

  // buildRow draws one call: the grandchild's lane above, grandma's below,
  // each with a stripe for talking, waiting and listening as the student's
  // page draws them; the interruption and the afterthought as lines from
  // their sending to their hearing, with a tick where each was wanted.
  function buildRow(r, m, end, W, key) {
    const g = rowGeometry(W);
    const H = ROW_H - 4;
    const x = (t) => g.left + Math.max(0, Math.min(t, end)) / end * g.plot;
    const name = modeName(m.key, m.name);
    const label = `${r.student}, ${name}, call ${r.id}: ${momentText('interruption', r.interruption)}; ${momentText('afterthought', r.afterthought)}`;
    const li = html('li', { class: 'row', 'data-call-id': r.id, 'data-student': r.student, 'data-mode': r.mode, 'data-key': key });
    const svg = el('svg', { class: 'row-svg', width: W, height: H, viewBox: `0 0 ${W} ${H}`, role: 'img', 'aria-label': label });
    svg.append(el('title', {}, label));
    const who = el('text', { class: 'who', x: 2, y: 20 }, r.student);
    if (measure(r.student, 'who') > nameWidth()) { who.setAttribute('textLength', nameWidth()); who.setAttribute('lengthAdjust', 'spacingAndGlyphs'); }
    svg.append(who);
    // Under the name: the call's number, its connections when more than
    // one, its script when not the class's, its round trip; shorter, then
    // fewer, until it fits beside the lanes.
    const hasRT = r.round_trip_ms !== null && r.round_trip_ms !== undefined;
    const tries = [
      [r.connections > 1 && `${r.connections} connections`, r.variant, hasRT && `round trip ${ms(r.round_trip_ms)}`],
      [r.connections > 1 && `${r.connections} conn.`, r.variant, hasRT && `rt ${ms(r.round_trip_ms)}`],
      [r.connections > 1 && `${r.connections} conn.`, r.variant],
      [r.connections > 1 && `${r.connections} conn.`],
    ].map((parts) => [`#${r.id}`, ...parts.filter(Boolean)].join(' · '));
    const sub = tries.find((s) => measure(s, 'who-sub') <= nameWidth()) || tries[tries.length - 1];
    svg.append(el('text', { class: 'who-sub', x: 2, y: 42 }, sub));
    const laneY = { client: g.client, server: g.server };
    for (const side of ['client', 'server']) {
      svg.append(el('rect', { class: 'lane-bg', x: g.left, y: laneY[side], width: g.plot, height: g.laneH, 'data-side': side }));
    }
    // Talking on the lane's first stripe, waiting on the second, listening
    // on the third, as on the student's page.
    const stripe = { talking: [1, 5], waiting: [7, 6], listening: [14, 3] };
    const cls = { talking: 'talk', waiting: 'wait', listening: 'listen' };
    // One path for each side's state: a call has dozens of spans, and a
    // row of few elements is quick to build.
    const paths = new Map();
    for (const s of r.spans || []) {
      if (!stripe[s.state] || !laneY[s.side]) continue;
      const [dy, h] = stripe[s.state];
      const x0 = x(s.start_ms), w = Math.max(2, x(s.end_ms) - x0);
      const k = `${s.side} ${s.state}`;
      paths.set(k, (paths.get(k) || '') + `M${x0.toFixed(1)},${laneY[s.side] + dy}h${w.toFixed(1)}v${h}h${(-w).toFixed(1)}z`);
    }
    for (const [k, d] of paths) {
      const [side, st] = k.split(' ');
      svg.append(el('path', { class: cls[st], d, 'data-side': side }));
    }
    // The two lines that tell the modes apart.
    const placed = [];
    const line = (mo, what, from, to) => {
      const v = (k) => mo && mo[k] !== null && mo[k] !== undefined;
      if (!v('wanted_at_ms')) return;
      const gm = el('g', { class: `mark ${what}`, 'data-line': what });
      const yFrom = laneY[from], yTo = laneY[to];
      const wx = x(mo.wanted_at_ms);
      gm.append(el('line', { class: 'wanted', x1: wx, y1: yFrom - 2, x2: wx, y2: yFrom + g.laneH + 2 }));
      if (v('sent_at_ms') && v('heard_at_ms')) {
        const sx = x(mo.sent_at_ms), hx = x(mo.heard_at_ms);
        const y1 = from === 'client' ? yFrom + g.laneH : yFrom;
        const y2 = to === 'client' ? yTo + g.laneH : yTo;
        gm.append(el('line', { class: 'msg', x1: sx, y1, x2: hx, y2 }));
        gm.append(el('line', { class: 'heard', x1: hx, y1: yTo - 2, x2: hx, y2: yTo + g.laneH + 2 }));
        // Its name beside the line, between the lanes, if there is room.
        const tw = measure(what, 'mark-label');
        const mid = (g.client + g.laneH + g.server) / 2 + 4;
        const spot = [[Math.max(sx, hx) + 6, Math.max(sx, hx) + 6 + tw], [Math.min(sx, hx) - 6 - tw, Math.min(sx, hx) - 6]]
          .find(([a, b]) => a >= g.left && b <= W - 2 && !placed.some(([c, d]) => a < d + 6 && c < b + 6));
        if (spot) {
          placed.push(spot);
          gm.append(el('text', { class: 'mark-label', x: spot[0], y: mid }, what));
        }
      }
      svg.append(gm);
    };
    line(r.interruption, 'interruption', 'client', 'server');
    line(r.afterthought, 'afterthought', 'server', 'client');
    li.append(svg);
    return li;
  }

  // --- the header ---

  let announced = '';
  let announceAt = 0;
  let announceTimer = 0;

  function drawHeader() {
    const exp = state.experiment;
    $('#experiment').textContent = exp ? `${exp.number}` : '';
    const st = state.stats;
    const per = st ? st.modes.map((m) => `${modeName(m.mode, m.name)} ${m.calls}`) : [];
    const total = st ? st.calls : 0;
    const text = total === 0 ? 'No calls yet.' : `${plural(total, 'call', 'calls')}: ${per.join(' · ')}`;
    const counts = $('#counts');
    if (counts.textContent !== text) counts.textContent = text;
    counts.dataset.calls = String(total);
    announce(exp ? `Experiment ${exp.number}: ${text}` : text);
  }

  // announce tells a screen reader the counts, at most every ANNOUNCE_MS:
  // a class finishing its calls would otherwise talk over itself.
  function announce(text) {
    if (text === announced) return;
    const left = announceAt + ANNOUNCE_MS - Date.now();
    if (left > 0) {
      if (!announceTimer) announceTimer = setTimeout(() => { announceTimer = 0; announce(text); }, left);
      return;
    }
    announced = text;
    announceAt = Date.now();
    $('#announce').textContent = text;
  }

  function connection(text, kind) {
    const c = $('#connection');
    c.textContent = text;
    c.dataset.state = kind;
    probe.status = kind;
  }

  // --- drawing, once a frame ---

  let frame = 0;
  let distsDirty = true;
  let fresh = []; // ids received since the last frame

  function schedule() {
    if (!frame) frame = requestAnimationFrame(render);
  }

  function render() {
    if (frame) cancelAnimationFrame(frame);
    frame = 0;
    const began = performance.now();
    drawHeader();
    if (distsDirty) {
      distsDirty = false;
      drawDists();
    }
    drawRows();
    const now = wall();
    for (const id of fresh) if (!(id in probe.shown)) probe.shown[id] = now;
    fresh = [];
    probe.frames++;
    const took = performance.now() - began;
    probe.drawMS += took;
    probe.longestMS = Math.max(probe.longestMS, took);
  }

  // --- what the server says ---

  function snapshot(v) {
    state.experiment = v.experiment || { number: 0 };
    state.stats = v.stats && v.stats.modes ? v.stats : { experiment: state.experiment, calls: 0, modes: [] };
    state.modes = new Map();
    state.longest = 0;
    $('#modes').replaceChildren();
    probe.experiment = state.experiment.number;
    probe.seen = {};
    probe.shown = {};
    probe.snapshots++;
    const now = wall();
    fresh = [];
    for (const m of state.stats.modes) mode(m.mode, m.connections > 1 ? undefined : m.name);
    for (const r of v.calls || []) {
      mode(r.mode, r.name).rows.push(r);
      if (r.spans) state.longest = Math.max(state.longest, rowEnd(r));
      probe.seen[r.id] = now;
      fresh.push(r.id);
    }
    distsDirty = true;
    schedule();
  }

  function calls(d) {
    const now = wall();
    for (const r of d.calls || []) {
      mode(r.mode, r.name).rows.push(r);
      if (r.spans) state.longest = Math.max(state.longest, rowEnd(r));
      probe.seen[r.id] = now;
      fresh.push(r.id);
    }
    state.stats = d.stats;
    if (d.stats && d.stats.experiment) state.experiment = d.stats.experiment;
    distsDirty = true;
    schedule();
  }

  function listen() {
    const es = new EventSource('/class/events');
    const on = (name, f) => es.addEventListener(name, (e) => {
      probe.events++;
      f(JSON.parse(e.data));
    });
    on('snapshot', snapshot);
    on('calls', calls);
    es.addEventListener('open', () => connection('Live: each call appears here when its student\u2019s call is over.', 'live'));
    es.addEventListener('error', () => {
      connection('Reconnecting\u2026 the calls so far stay on the screen.', 'reconnecting');
      if (es.readyState === EventSource.CLOSED) {
        // The server answered with an error, so the browser will not try
        // again on its own.
        es.close();
        setTimeout(listen, RECONNECT_MS);
      }
    });
  }

  // --- the teacher's control ---

  // token returns this tab's teacher token: from the address (which it
  // then removes from the address bar, so that the projector never shows
  // it), else from the tab's session.
  function token() {
    let t = null;
    const m = /(?:^#|&)teacher=([^&]*)/.exec(location.hash);
    if (m) {
      t = decodeURIComponent(m[1]);
      try { sessionStorage.setItem(TOKEN_KEY, t); } catch (e) { /* a private window may keep nothing: the token lives in t */ }
      history.replaceState(history.state, '', location.pathname + location.search);
    }
    try { t = t || sessionStorage.getItem(TOKEN_KEY); } catch (e) { /* as above */ }
    return t || null;
  }

  function teacher() {
    const t = token();
    const button = $('#new-experiment');
    const confirmBox = $('#confirm');
    const yes = $('#confirm-yes');
    const no = $('#confirm-no');
    const say = (text, error) => {
      const s = $('#teacher-status');
      s.textContent = text;
      s.classList.toggle('error', !!error);
    };
    if (!t) {
      button.remove();
      confirmBox.remove();
      $('#teacher-note').hidden = false;
      return;
    }
    button.hidden = false;
    const close = () => {
      confirmBox.hidden = true;
      button.setAttribute('aria-expanded', 'false');
      button.focus();
    };
    button.setAttribute('aria-expanded', 'false');
    button.setAttribute('aria-controls', 'confirm');
    button.addEventListener('click', () => {
      const next = state.experiment ? state.experiment.number + 1 : null;
      yes.textContent = next ? `Yes, start experiment ${next}` : 'Yes, start a new one';
      confirmBox.hidden = false;
      button.setAttribute('aria-expanded', 'true');
      say('');
      no.focus();
    });
    no.addEventListener('click', close);
    confirmBox.addEventListener('keydown', (e) => { if (e.key === 'Escape') close(); });
    yes.addEventListener('click', async () => {
      yes.disabled = true;
      try {
        const resp = await fetch('/class/new', { method: 'POST', cache: 'no-store', headers: { Authorization: `Bearer ${t}` } });
        if (resp.status === 401 || resp.status === 403) {
          say('The server refused to start a new experiment: this screen\u2019s teacher token is not the one it printed. Open the address duplexdemo serve printed on the teacher\u2019s terminal (it ends in #teacher=\u2026), then try again.', true);
        } else if (!resp.ok) {
          say(`The server could not start a new experiment (${resp.status}): ${(await resp.text()).slice(0, 200)}`, true);
        } else {
          const j = await resp.json();
          say(`Experiment ${j.experiment.number} started: the view is clear.`);
        }
      } catch (err) {
        say(`The server could not be reached: ${err.message}. Is duplexdemo serve still running?`, true);
      } finally {
        yes.disabled = false;
        close();
      }
    });
  }

  // --- a saved report ---

  function saved(v) {
    state.static = true;
    $('#teacher').remove();
    $('#downloads').remove();
    const exp = v.experiment;
    const started = exp && exp.started ? new Date(exp.started) : null;
    const when = started && !isNaN(started) ? `, begun ${started.toISOString().slice(0, 16).replace('T', ' ')} UTC` : '';
    const note = $('#saved');
    note.textContent = `A saved report of experiment ${exp ? exp.number : '?'}${when}: it does not change, and it holds every call it shows.`;
    note.hidden = false;
    connection('Saved report', 'static');
    snapshot(v);
  }

  function start() {
    patterns();
    let redraw = 0;
    const again = () => {
      measured.clear();
      nameW = 0;
      distsDirty = true;
      for (const m of state.modes.values()) m.axisKey = '';
    };
    window.addEventListener('resize', () => {
      if (redraw) return;
      redraw = requestAnimationFrame(() => { redraw = 0; again(); render(); });
    });
    // Printing lays the page out anew, narrower: draw it for the paper at
    // once, as no frame may come before the printout.
    const print = (on) => () => { printing = on; again(); render(); };
    window.addEventListener('beforeprint', print(true));
    window.addEventListener('afterprint', print(false));
    window.matchMedia('print').addEventListener('change', (e) => print(e.matches)());

    const data = document.getElementById('class-data');
    if (data) {
      saved(JSON.parse(data.textContent));
      render();
      return;
    }
    teacher();
    connection('Connecting to grandma\u2026', 'connecting');
    listen();
  }

  if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', start);
  else start();
})();
