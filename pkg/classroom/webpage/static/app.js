// duplexdemo's classroom page: the browser plays the grandchild against
// grandma on the server, over HTTP (fetch) and over a WebSocket, measures
// its own side with performance.now(), and merges grandma's record of the
// call, which she hands over at its end, with her clock aligned to the
// page's from the lines they exchanged.
'use strict';

(() => {
  const LOG_PREFIX = '{"protocol":';
  const RESOLUTION = 1; // ms: shorter waits are scheduling noise
  const LABELLED = 10; // ms: shorter waits are drawn, and named only in their tooltip
  const SVG = 'http://www.w3.org/2000/svg';
  let script = null;
  const runs = {};
  window.duplexdemoRuns = runs; // what each call measured, for tests and the curious

  const $ = (sel) => document.querySelector(sel);
  const status = (text, error) => {
    const s = $('#status');
    s.textContent = text;
    s.classList.toggle('error', !!error);
  };

  function deferred() {
    let resolve;
    const promise = new Promise((r) => { resolve = r; });
    return { promise, resolve };
  }

  function randomHex(bytes) {
    const b = new Uint8Array(bytes);
    crypto.getRandomValues(b);
    return Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('');
  }

  // lineLabel names a line of the script by its part in the call.
  function lineLabel(text) {
    if (text === script.question) return 'question';
    if (text === script.interruption) return 'interruption';
    if (text === script.goodbye) return 'goodbye';
    if (text === script.answer) return 'answer';
    if (text === script.afterthought) return 'afterthought';
    if (text === script.farewell) return 'farewell';
    if (script.story.includes(text)) return 'story';
    return null;
  }

  // Recorder is the page's record of its side: every line it wants to say,
  // sends and hears, on its own clock (ms since the call began).
  class Recorder {
    constructor(onChange) {
      this.t0 = performance.now();
      this.msgs = [];
      this.onChange = onChange;
    }
    now() { return performance.now() - this.t0; }
    want(label, text, reason) {
      const m = { from: 'client', label, text, reason, wantedAt: this.now(), sent: false, heard: false };
      this.msgs.push(m);
      this.onChange();
      return m;
    }
    sent(m, at) {
      m.sent = true;
      m.sentAt = at === undefined ? this.now() : at;
      this.onChange();
    }
    heard(text) {
      const label = lineLabel(text);
      if (!label) throw new Error('grandma said something not in the script: ' + text.slice(0, 60));
      const m = { from: 'server', label, text, heard: true, heardAt: this.now() };
      this.msgs.push(m);
      this.onChange();
      return m;
    }
    // sleepUntil resolves at `at`, at once if that has passed.
    sleepUntil(at) {
      const left = at - this.now();
      if (left <= 0) return Promise.resolve();
      return new Promise((r) => setTimeout(r, left));
    }
  }

  // The milestones a cue may wait for (story.Milestone on the server):
  // how far the grandchild must have heard the story.
  const MILESTONES = ['', 'story_begun', 'story_ended'];

  // progress follows the story as the page hears it.
  function progress(rec) {
    const begun = deferred();
    const ended = deferred();
    const reached = { '': Promise.resolve(), story_begun: begun.promise, story_ended: ended.promise };
    let heard = 0;
    return {
      // reached resolves once the story has reached the milestone.
      reached(milestone) { return reached[milestone]; },
      heard(m) {
        if (m.label !== 'story') return;
        heard++;
        if (heard === 1) begun.resolve();
        if (heard === script.story.length) ended.resolve();
      },
    };
  }

  // reasonFor says why the cue at index i waits, if it does: the first line
  // for the connection, the later ones for the channel.
  const reasonFor = (i) => (i === 0 ? script.reasons.connecting : script.reasons.channel_busy);

  // walkie plays the call over HTTP: each line a POST, grandma's answers
  // streamed. The browser may open another connection to send a line while
  // an answer is still streaming; grandma's record says how many it used.
  async function walkie(rec) {
    const callID = randomHex(16);
    const p = progress(rec);
    let log = null;
    performance.clearResourceTimings();
    // say says a line and reads grandma's answer; handed is called once
    // the request is the browser's, so that the next line can follow it.
    async function say(label, text, reason, query, handed) {
      const m = rec.want(label, text, reason);
      const url = new URL('/say?' + query, location.href).href;
      const handedOver = rec.now(); // a lower bound: the browser has the request
      const answer = fetch(url, {
        method: 'POST',
        cache: 'no-store',
        headers: { 'Content-Type': 'text/plain; charset=utf-8', 'Duplexdemo-Protocol': String(script.protocol), 'Duplexdemo-Call': callID },
        body: text,
      });
      handed();
      const resp = await answer;
      if (!resp.ok) throw new Error(`grandma answered the ${label} with ${resp.status}: ${(await resp.text()).slice(0, 200)}`);
      const reader = resp.body.getReader();
      const decoder = new TextDecoder();
      let buf = '';
      for (;;) {
        const { value, done } = await reader.read();
        if (value) buf += decoder.decode(value, { stream: true });
        let i;
        while ((i = buf.indexOf('\n')) >= 0) {
          const line = buf.slice(0, i);
          buf = buf.slice(i + 1);
          if (line.startsWith(LOG_PREFIX)) log = JSON.parse(line);
          else p.heard(rec.heard(line));
        }
        if (done) break;
      }
      // When the request went out, as the browser measured it; the entry
      // may be filed a moment after the answer ends.
      const entry = await timingOf(url, handedOver + rec.t0);
      rec.sent(m, entry ? entry.requestStart - rec.t0 : handedOver);
    }
    // Each cue waits for its time, its milestone and the cue before it
    // to be handed to fetch; the first also carries the script's query,
    // which starts the call.
    let previous = Promise.resolve();
    await Promise.all(script.cues.map((cue, i) => {
      const before = previous;
      const handed = deferred();
      previous = handed.promise;
      return (async () => {
        await rec.sleepUntil(cue.at_ms);
        await p.reached(cue.after);
        await before;
        const query = (i === 0 ? script.query + '&' : '') + 'line=' + encodeURIComponent(cue.label);
        await say(cue.label, cue.text, reasonFor(i), query, handed.resolve);
      })();
    }));
    return log;
  }

  // timingOf waits, up to a second, for the browser's timing of the
  // request to url made after `after`, and returns it, or null.
  async function timingOf(url, after) {
    for (let i = 0; i < 20; i++) {
      const entry = performance.getEntriesByName(url).filter((e) => e.startTime >= after - 1 && e.requestStart > 0).pop();
      if (entry) return entry;
      await new Promise((r) => setTimeout(r, 50));
    }
    return null;
  }

  // phone plays the call over the browser's WebSocket: lines go the moment
  // they are wanted, whatever grandma is saying. The first line opens the
  // call and goes when it is open; the last is the grandchild's goodbye.
  async function phone(rec) {
    const p = progress(rec);
    const [first, ...rest] = script.cues;
    await rec.sleepUntil(first.at_ms);
    await p.reached(first.after); // '' (start() checks): nothing is heard before the call
    return new Promise((resolve, reject) => {
      let log = null;
      let bye = null;
      const opening = rec.want(first.label, first.text, reasonFor(0));
      const ws = new WebSocket(`ws://${location.host}/call?${script.query}`);
      const open = () => ws.readyState === WebSocket.OPEN;
      // say sends a wanted line. The last goes as a message too: a browser
      // drops whatever arrives after it sends its own closing frame,
      // grandma's record included, so it lets her close the call.
      const say = (m, last) => {
        rec.sent(m);
        ws.send(m.text);
        if (last) bye = m;
      };
      ws.onopen = () => {
        say(opening, rest.length === 0);
        (async () => {
          for (const [i, cue] of rest.entries()) {
            await rec.sleepUntil(cue.at_ms);
            await p.reached(cue.after);
            if (!open()) return;
            say(rec.want(cue.label, cue.text, reasonFor(i + 1)), i === rest.length - 1);
          }
        })().catch(reject);
      };
      ws.onmessage = (e) => {
        try {
          if (typeof e.data !== 'string') throw new Error('grandma sent something other than text');
          if (e.data.startsWith(LOG_PREFIX)) log = JSON.parse(e.data);
          else p.heard(rec.heard(e.data));
        } catch (err) {
          reject(err);
          ws.close(1002, 'unexpected message');
        }
      };
      ws.onerror = () => reject(new Error('the WebSocket to grandma failed'));
      ws.onclose = (e) => {
        if (e.code === 1000 && bye) {
          try {
            rec.heard(e.reason);
          } catch (err) {
            reject(err);
            return;
          }
          resolve(log);
        } else {
          reject(new Error(`grandma hung up with ${e.code} ${e.reason}`));
        }
      };
    });
  }

  // herRecord rebuilds grandma's lines from the record she handed over:
  // times in ms on her clock.
  function herRecord(log) {
    if (!log || log.protocol !== script.protocol || !Array.isArray(log.events)) throw new Error('grandma did not hand over her record of the call');
    const byID = new Map();
    const msgs = [];
    for (const e of log.events) {
      const at = e.at_ns / 1e6;
      if (e.kind === 'want') {
        const m = { from: 'server', label: e.label, text: e.text, reason: e.reason, wantedAt: at, sent: false };
        byID.set(e.msg, m);
        msgs.push(m);
      } else if (e.kind === 'send') {
        const m = byID.get(e.msg);
        if (m) { m.sent = true; m.sentAt = at; }
      } else if (e.kind === 'heard') {
        msgs.push({ from: 'client', label: e.label, text: e.text, heard: true, heardAt: at });
      }
    }
    return { msgs, connections: log.connections || 0, durationMs: log.duration_ns / 1e6 };
  }

  // merge places grandma's clock on the page's, as NTP does: a line the
  // page sent and she heard says her clock reads at least so much, a line
  // she sent and the page heard says at most so much. It returns both
  // sides' lines on the page's clock and the alignment's uncertainty.
  function merge(rec, hers) {
    const sentBy = (msgs, from) => msgs.filter((m) => m.from === from && m.sent).sort((a, b) => a.sentAt - b.sentAt);
    const heardOf = (msgs, from) => msgs.filter((m) => m.from === from && m.heard && !m.sent).sort((a, b) => a.heardAt - b.heardAt);
    const up = sentBy(rec.msgs, 'client');
    const upHeard = heardOf(hers.msgs, 'client');
    const down = sentBy(hers.msgs, 'server');
    const downHeard = heardOf(rec.msgs, 'server');
    let lo = -Infinity;
    let hi = Infinity;
    for (let i = 0; i < Math.min(up.length, upHeard.length); i++) lo = Math.max(lo, up[i].sentAt - upHeard[i].heardAt);
    for (let i = 0; i < Math.min(down.length, downHeard.length); i++) hi = Math.min(hi, downHeard[i].heardAt - down[i].sentAt);
    if (!isFinite(lo) || !isFinite(hi)) throw new Error('the clocks cannot be aligned: no line was heard each way');
    if (lo > hi) [lo, hi] = [hi, lo];
    const offset = lo + (hi - lo) / 2;
    const lines = [];
    up.forEach((m, i) => {
      const h = upHeard[i];
      if (h && h.text !== m.text) throw new Error(`grandma heard "${h.text}", but the page had said "${m.text}"`);
      lines.push({ ...m, heard: !!h, heardAt: h ? h.heardAt + offset : undefined });
    });
    for (const m of rec.msgs) if (m.from === 'client' && !m.sent) lines.push({ ...m });
    down.forEach((m, i) => {
      const h = downHeard[i];
      if (h && h.text !== m.text) throw new Error(`the page heard "${h.text}", but grandma had said "${m.text}"`);
      lines.push({ ...m, wantedAt: m.wantedAt + offset, sentAt: m.sentAt + offset, heard: !!h, heardAt: h ? h.heardAt : undefined });
    });
    for (const m of hers.msgs) if (m.from === 'server' && !m.sent) lines.push({ ...m, wantedAt: m.wantedAt + offset });
    lines.sort((a, b) => a.wantedAt - b.wantedAt);
    return { lines, offset, uncertainty: (hi - lo) / 2 };
  }

  // spans derives, from lines on one clock, each side's talking, waiting
  // and listening.
  function spans(lines, end) {
    const out = [];
    const groups = new Map();
    for (const m of lines) {
      if (!m.sent) continue;
      const key = m.from + ' ' + m.label;
      if (!groups.has(key)) groups.set(key, []);
      groups.get(key).push(m);
    }
    for (const [, ms] of groups) {
      const from = ms[0].from;
      const peer = from === 'client' ? 'server' : 'client';
      out.push({ side: from, state: 'talk', start: ms[0].sentAt, end: ms[ms.length - 1].sentAt, label: ms[0].label });
      const heard = ms.filter((m) => m.heard);
      if (heard.length) out.push({ side: peer, state: 'listen', start: heard[0].heardAt, end: heard[heard.length - 1].heardAt, label: ms[0].label });
    }
    for (const m of lines) {
      const until = m.sent ? m.sentAt : end;
      if (until - m.wantedAt >= RESOLUTION && m.wantedAt !== undefined) out.push({ side: m.from, state: 'wait', start: m.wantedAt, end: until, label: m.label, reason: m.reason });
    }
    return out;
  }

  // draw draws one run's swimlanes: a lane per side with three stripes,
  // an arrow per line from its sending to its hearing.
  function draw(container, mode, lines, total) {
    const W = 1100, left = 170, right = 30, laneH = 72, wire = 56, top = 8, axisH = 40;
    const plot = W - left - right;
    const H = top + laneH + wire + laneH + axisH;
    const x = (t) => left + Math.max(0, Math.min(t, total)) / total * plot;
    const el = (name, attrs, text) => {
      const e = document.createElementNS(SVG, name);
      for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, v);
      if (text !== undefined) e.textContent = text;
      return e;
    };
    const svg = el('svg', { class: 'lanes', viewBox: `0 0 ${W} ${H}`, role: 'img', 'data-mode': mode, 'aria-label': `${mode}: swimlanes of the grandchild and grandma` });
    const laneY = { client: top, server: top + laneH + wire };
    let step = 100;
    for (const s of [100, 200, 250, 500, 1000, 2000, 5000]) { step = s; if (total / s <= 12) break; }
    for (let t = 0; t <= total; t += step) {
      const g = el('g', { class: 'tick' });
      g.append(el('line', { x1: x(t), y1: 0, x2: x(t), y2: H - axisH + 4 }));
      g.append(el('text', { x: x(t), y: H - axisH + 22, 'text-anchor': 'middle' }, t >= 1000 ? `${t / 1000} s` : `${t} ms`));
      svg.append(g);
    }
    const ss = spans(lines, total);
    const placed = {}; // per lane, the spans of the wait labels drawn
    ss.sort((a, b) => (b.end - b.start) - (a.end - a.start)); // the longest waits get their labels first
    for (const side of ['client', 'server']) {
      const y = laneY[side];
      const g = el('g', { class: 'lane', 'data-side': side });
      g.append(el('rect', { class: 'lane-bg', x: left, y, width: plot, height: laneH }));
      g.append(el('text', { class: 'lane-name', x: 8, y: y + 30 }, side === 'client' ? 'you' : 'grandma'));
      g.append(el('text', { class: 'lane-role', x: 8, y: y + 50 }, side === 'client' ? 'the grandchild (client)' : 'the server'));
      ['talks', 'waits', 'listens'].forEach((n, i) => g.append(el('text', { class: 'stripe-name', x: left - 6, y: y + 19 + i * 21, 'text-anchor': 'end' }, n)));
      for (const s of ss.filter((s) => s.side === side)) {
        const w = Math.max(3, x(s.end) - x(s.start));
        const row = { talk: 0, wait: 1, listen: 2 }[s.state];
        if (s.state === 'wait') {
          const wg = el('g', { class: 'wait', 'data-label': s.label, 'data-reason': s.reason || '', 'data-waited-ms': (s.end - s.start).toFixed(3) });
          const text = `${s.label} waited ${Math.round(s.end - s.start)} ms: ${s.reason}`;
          wg.append(el('rect', { x: x(s.start), y: y + 6 + row * 21, width: w, height: 18 }, undefined));
          wg.firstChild.append(el('title', {}, text));
          // The label goes inside the bar if it fits, else beside it, on
          // the side with room; a label that would cover another is left
          // to the tooltip.
          const tw = text.length * 7.6;
          let tx = x(s.start) + 6;
          let anchor = 'start';
          if (tw + 12 > w) {
            tx = x(s.start) + w + 6;
            if (tx + tw > W) { tx = x(s.start) - 6; anchor = 'end'; }
          }
          const box = anchor === 'end' ? [tx - tw, tx] : [tx, tx + tw];
          const key = side;
          placed[key] = placed[key] || [];
          if (s.end - s.start >= LABELLED && !placed[key].some(([a, b]) => box[0] < b + 8 && a < box[1] + 8)) {
            placed[key].push(box);
            wg.append(el('text', { x: tx, y: y + 20 + row * 21, 'text-anchor': anchor }, text));
          }
          g.append(wg);
        } else {
          g.append(el('rect', { class: s.state, x: x(s.start) - (w > x(s.end) - x(s.start) ? 1.5 : 0), y: y + 6 + row * 21, width: w, height: 18 }, undefined));
        }
      }
      svg.append(g);
    }
    for (const m of lines) {
      if (!m.sent || !m.heard) continue;
      const g = el('g', { class: `msg from-${m.from}`, 'data-label': m.label });
      const y1 = m.from === 'client' ? laneY.client + laneH : laneY.server;
      const y2 = m.from === 'client' ? laneY.server : laneY.client + laneH;
      g.append(el('line', { x1: x(m.sentAt), y1, x2: x(m.heardAt), y2 }));
      if (m.label === 'interruption' || m.label === 'afterthought') {
        const kx = Math.max(x(m.sentAt), x(m.heardAt));
        const far = kx + 8 + m.label.length * 7.6 > W;
        g.append(el('text', { class: 'key', x: far ? Math.min(x(m.sentAt), x(m.heardAt)) - 8 : kx + 8, y: (y1 + y2) / 2 + 5, 'text-anchor': far ? 'end' : 'start' }, m.label));
      }
      g.append(el('title', {}, `${m.label}, sent ${Math.round(m.sentAt)} ms, heard ${Math.round(m.heardAt)} ms: ${m.text}`));
      svg.append(g);
    }
    container.replaceChildren(svg);
  }

  // live draws what the page has seen so far: its own side, as it happens.
  function live(rec, mode) {
    const lines = rec.msgs.map((m) => ({ ...m }));
    // A line the page heard was sent by grandma at some time it will learn
    // from her record; until then it is drawn where it was heard.
    for (const m of lines) if (m.from === 'server') { m.sent = true; m.sentAt = m.heardAt; m.wantedAt = m.heardAt; }
    const lastCue = script.cues[script.cues.length - 1];
    draw($(`#run-${mode} .figure`), mode, lines, Math.max(lastCue.at_ms + 400, rec.now()));
  }

  const fmt = (v) => (v === undefined || v === null ? '–' : `${Math.round(v)} ms`);

  function moment(lines, label) {
    const m = lines.find((l) => l.label === label);
    if (!m) return {};
    return { wanted: m.wantedAt, sent: m.sentAt, heard: m.heardAt, waited: m.sent ? m.sentAt - m.wantedAt : undefined, after: m.heard ? m.heardAt - m.wantedAt : undefined, reason: m.reason };
  }

  function summarize(mode, result) {
    const { lines, uncertainty, connections } = result;
    const i = moment(lines, 'interruption');
    const a = moment(lines, 'afterthought');
    result.interruption = i;
    result.afterthought = a;
    const sec = $(`#run-${mode}`);
    const rows = [['wanted at', 'wanted'], ['sent at', 'sent'], ['heard at', 'heard'], ['waited', 'waited'], ['heard after', 'after']];
    const table = document.createElement('table');
    table.dataset.mode = mode;
    table.dataset.interruptionHeardAfterMs = i.after === undefined ? '' : i.after.toFixed(3);
    table.dataset.connections = String(connections);
    table.innerHTML = '<thead><tr><th scope="col"></th><th scope="col">interruption</th><th scope="col">afterthought</th></tr></thead>';
    const body = document.createElement('tbody');
    for (const [name, key] of rows) {
      const tr = document.createElement('tr');
      for (const v of [name, fmt(i[key]), fmt(a[key])]) {
        const td = document.createElement(v === name ? 'th' : 'td');
        td.textContent = v;
        tr.append(td);
      }
      body.append(tr);
    }
    table.append(body);
    const facts = document.createElement('table');
    const fbody = document.createElement('tbody');
    for (const [name, v] of [['connections grandma saw', String(connections)], ['grandma\u2019s clock aligned to within', `± ${Math.round(uncertainty)} ms`]]) {
      const tr = document.createElement('tr');
      const th = document.createElement('th');
      th.scope = 'row';
      th.textContent = name;
      const td = document.createElement('td');
      td.textContent = v;
      tr.append(th, td);
      fbody.append(tr);
    }
    facts.append(fbody);
    sec.querySelector('.summary').replaceChildren(table, facts);
    let note = '';
    if (mode === 'walkie' && connections > 1) {
      note = `Your browser used ${connections} connections to grandma for this call: to get a word in while her answer was still streaming, it sent your interruption on another one (a new connection costs a round trip to open). That is one of the workarounds before WebSocket; on one connection, like a walkie-talkie, your interruption would have waited for the story to end. Her afterthought still had to wait: HTTP lets her speak only in answer to a request.`;
    } else if (mode === 'walkie') {
      note = 'Your browser used one connection for this call: each line waited for the answer before it.';
    } else {
      note = 'One connection, both ways at once: your interruption went the moment you wanted it, while grandma was still talking.';
    }
    if (a.waited >= LABELLED && a.reason) note += ` Grandma's afterthought waited ${Math.round(a.waited)} ms: ${a.reason}.`;
    sec.querySelector('.note').textContent = note;
  }

  function compare() {
    const w = runs.walkie;
    const p = runs.phone;
    if (!w || !p) return;
    const sec = $('#compare');
    const rows = [
      ['interruption waited', (r) => fmt(r.interruption.waited)],
      ['interruption heard after', (r) => fmt(r.interruption.after)],
      ['afterthought waited', (r) => fmt(r.afterthought.waited)],
      ['afterthought heard after', (r) => fmt(r.afterthought.after)],
      ['connections grandma saw', (r) => String(r.connections)],
      ['clock aligned to within', (r) => `± ${Math.round(r.uncertainty)} ms`],
    ];
    const table = document.createElement('table');
    table.innerHTML = '<thead><tr><th scope="col">measure</th><th scope="col">walkie (HTTP)</th><th scope="col">phone (WebSocket)</th></tr></thead>';
    const body = document.createElement('tbody');
    for (const [name, get] of rows) {
      const tr = document.createElement('tr');
      for (const v of [name, get(w), get(p)]) {
        const td = document.createElement(v === name ? 'th' : 'td');
        td.textContent = v;
        tr.append(td);
      }
      body.append(tr);
    }
    table.append(body);
    sec.querySelector('.table').replaceChildren(table);
    sec.hidden = false;
  }

  // plain says what went wrong in words for a student.
  function plain(err) {
    const msg = String(err && err.message || err);
    if (/Failed to fetch|NetworkError|WebSocket to grandma failed/i.test(msg)) {
      return 'grandma does not answer. Is duplexdemo serve still running on the teacher\u2019s machine? Ask the teacher, then try again.';
    }
    if (/ 1001 /.test(msg)) return 'grandma had to go: the teacher stopped the server. Ask the teacher to start it again, then try again.';
    return msg;
  }

  async function play(mode) {
    const buttons = document.querySelectorAll('button[data-mode]');
    buttons.forEach((b) => { b.disabled = true; });
    const sec = $(`#run-${mode}`);
    sec.hidden = false;
    delete runs[mode]; // until this call is over, it has no numbers
    $('#compare').hidden = true;
    sec.querySelector('.summary').replaceChildren();
    sec.querySelector('.note').textContent = '';
    status(mode === 'walkie' ? 'Calling grandma over HTTP…' : 'Calling grandma over a WebSocket…');
    let rec;
    let over = false;
    const redraw = () => { if (!over) live(rec, mode); };
    rec = new Recorder(() => requestAnimationFrame(redraw));
    try {
      const log = await (mode === 'walkie' ? walkie(rec) : phone(rec));
      over = true; // a redraw still queued must not cover the merged picture
      const hers = herRecord(log);
      const merged = merge(rec, hers);
      const total = Math.max(rec.now(), ...merged.lines.map((m) => m.heardAt || m.sentAt || 0)) + 50;
      rec.onChange = () => {};
      draw(sec.querySelector('.figure'), mode, merged.lines, total);
      runs[mode] = { lines: merged.lines, uncertainty: merged.uncertainty, connections: hers.connections };
      summarize(mode, runs[mode]);
      compare();
      status(runs.walkie && runs.phone ? 'Both calls played: compare them below.' : `The ${mode === 'walkie' ? 'walkie-talkie' : 'phone'} call is over. Now try the other one.`);
    } catch (err) {
      over = true;
      status(`The call failed: ${plain(err)}`, true);
    } finally {
      buttons.forEach((b) => { b.disabled = false; });
    }
  }

  // checkSchedule makes sure the page can play the schedule it was served.
  function checkSchedule({ cues, reasons }) {
    if (!reasons || typeof reasons.connecting !== 'string' || typeof reasons.channel_busy !== 'string') throw new Error('the script gives no reasons for waiting');
    if (!Array.isArray(cues) || cues.length === 0) throw new Error('the script has no lines for you');
    for (const c of cues) {
      if (typeof c.text !== 'string' || typeof c.at_ms !== 'number' || !MILESTONES.includes(c.after)) {
        throw new Error(`the script's ${c.label} line cannot be played`);
      }
    }
    if (cues[0].after !== '') throw new Error(`the script's first line waits for the story, which cannot begin before it`);
  }

  async function start() {
    try {
      const resp = await fetch('/script.json', { cache: 'no-store' });
      if (!resp.ok) throw new Error(`the script: ${resp.status}`);
      script = await resp.json();
      checkSchedule(script);
    } catch (err) {
      status(`Cannot load the script from grandma: ${err.message}`, true);
      return;
    }
    document.querySelectorAll('button[data-mode]').forEach((b) => {
      b.disabled = false;
      b.addEventListener('click', () => play(b.dataset.mode));
    });
    status('Ready: press a button to call grandma.');
  }

  start();
})();
