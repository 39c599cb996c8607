// duplexdemo's classroom page: the browser plays the grandchild against
// grandma on the server, over HTTP (fetch) and over a WebSocket, measures
// its own side with performance.now(), and merges grandma's record of the
// call, which she hands over at its end, with her clock aligned to the
// page's from the lines they exchanged. It then reports its own side of
// the call to the class experiment, under the student's anonymous name, so
// that the call shows on the teacher's screen.
'use strict';

(() => {
  const LOG_PREFIX = '{"protocol":';
  const RESOLUTION = 1; // ms: shorter waits are scheduling noise
  const LABELLED = 10; // ms: shorter waits are drawn, and named only in their tooltip
  const AT_ONCE = 10; // ms: a line sent within this of being wanted went at once
  const LIVE_EVERY = 150; // ms between two redraws of a running call, so that its waits grow
  const MIN_WIDTH = 640; // CSS px: a narrower screen scrolls the figure sideways
  const SVG = 'http://www.w3.org/2000/svg';
  const NAME = { walkie: 'walkie-talkie', phone: 'phone', webtransport: 'WebTransport' };
  const HOW = { walkie: 'over HTTP', phone: 'over a WebSocket', webtransport: 'over WebTransport' };
  const STUDENT_KEY = 'duplexdemo.student'; // localStorage: the name this browser keeps
  const STUDENT_SHAPE = /^[a-z]+-[a-z]+-[1-9][0-9]$/; // calm-otter-42; the server checks the words
  const REPORT_TIMEOUT = 10000; // ms: a report the server has not answered by then is given up
  let script = null;
  let student = null; // the student's anonymous name, once the script has come
  const runs = {};

  // next says what to do once a call is over: play the end of the lesson
  // not yet played, or compare what was.
  function next() {
    if (!runs.walkie) return 'Now try the walkie-talkie call.';
    if (!runs.phone) return 'Now try the phone call.';
    return Object.keys(runs).length > 2 ? 'Compare the calls below.' : 'Both calls played: compare them below.';
  }
  window.duplexdemoRuns = runs; // what each call measured, for tests and the curious

  const $ = (sel) => document.querySelector(sel);
  const status = (text, error) => {
    const s = $('#status');
    s.textContent = text;
    s.classList.toggle('error', !!error);
  };
  const sleep = (ms) => new Promise((r) => setTimeout(r, Math.max(0, ms)));
  const ms = (v) => `${Math.round(v)} ms`;

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

  // herEarliest is the earliest grandma's clock can read when she says a
  // line, or null if the script does not say: she tells sentence i of her
  // story no sooner than i paces into the call, and remembers the county
  // fair no sooner than its time.
  function herEarliest(text) {
    const i = script.story.indexOf(text);
    if (i >= 0) return i * script.pace_ms;
    if (text === script.afterthought) return script.afterthought_at_ms;
    return null;
  }

  // Recorder is the page's record of its side: every line it wants to say,
  // sends and hears, on its own clock (ms since the call began). It also
  // keeps a lower bound of grandma's clock, which starts only when the call
  // reaches her: however long the connection took to open, each of her
  // lines the page hears says her clock had reached at least so much.
  class Recorder {
    constructor(onChange) {
      this.t0 = performance.now();
      this.msgs = [];
      this.onChange = onChange;
      this.herZero = Infinity; // her clock read 0 no later than this, on the page's clock
      this.waiting = [];
    }
    now() { return performance.now() - this.t0; }
    changed() {
      this.onChange();
      const waiting = this.waiting;
      this.waiting = [];
      waiting.forEach((r) => r());
    }
    want(label, text, reason) {
      const m = { from: 'client', label, text, reason, wantedAt: this.now(), sent: false, heard: false };
      this.msgs.push(m);
      this.changed();
      return m;
    }
    // sent says the line went at `at` (now if not given). A provisional
    // time is the page's best so far, until the browser says when. A line
    // goes no sooner than it is wanted: the browser's timing of a request
    // is coarsened (to 0.1 ms or so), and may put its start a hair before
    // the page wanted the line; such a line is taken to have gone at once.
    sent(m, at, provisional) {
      m.sent = true;
      m.sentAt = Math.max(m.wantedAt, at === undefined ? this.now() : at);
      m.provisional = !!provisional;
      this.changed();
    }
    heard(text) {
      const label = lineLabel(text);
      if (!label) throw new Error('grandma said something not in the script: ' + text.slice(0, 60));
      const m = { from: 'server', label, text, heard: true, heardAt: this.now() };
      this.msgs.push(m);
      const earliest = herEarliest(text);
      if (earliest !== null) this.herZero = Math.min(this.herZero, m.heardAt - earliest);
      this.changed();
      return m;
    }
    // herNow is the least grandma's clock reads now (-Infinity until the
    // page has heard her).
    herNow() { return this.now() - this.herZero; }
    // sleepUntil resolves at `at`, at once if that has passed.
    sleepUntil(at) { return sleep(at - this.now()); }
    // onBothClocks resolves once both the page's clock and grandma's have
    // reached `at`: the script's times are the call's, and the call starts
    // for her only when it reaches her.
    async onBothClocks(at) {
      for (;;) {
        const left = Math.max(at - this.now(), at - this.herNow());
        if (left <= 0) return;
        const changed = new Promise((r) => this.waiting.push(r));
        await (isFinite(left) ? Promise.race([sleep(left), changed]) : changed);
      }
    }
  }

  // The milestones a cue may wait for (story.Milestone on the server):
  // how far the grandchild must have heard the story.
  const MILESTONES = ['', 'story_begun', 'story_ended'];

  // progress follows the story as the page hears it.
  function progress() {
    const begun = deferred();
    const ended = deferred();
    const reached = { '': Promise.resolve(), story_begun: begun.promise, story_ended: ended.promise };
    const heard = new Set();
    return {
      // reached resolves once the story has reached the milestone.
      reached(milestone) { return reached[milestone]; },
      heard(m) {
        if (m.label !== 'story') return;
        heard.add(m.text);
        if (heard.size === 1) begun.resolve();
        if (heard.size === script.story.length) ended.resolve();
      },
    };
  }

  // reasonFor says why the cue at index i waits, if it does: the first line
  // for the connection, the later ones for the channel.
  const reasonFor = (i) => (i === 0 ? script.reasons.connecting : script.reasons.channel_busy);

  // cueDue waits until the cue at index i may be said: its time on the
  // page's clock and on grandma's, and its milestone. The first line opens
  // the call, so it goes by the page's clock alone.
  async function cueDue(rec, p, cue, i) {
    await rec.sleepUntil(cue.at_ms);
    await p.reached(cue.after);
    if (i > 0) await rec.onBothClocks(cue.at_ms);
  }

  // walkie plays the call over HTTP: each line a POST, grandma's answers
  // streamed. The browser may open another connection to send a line while
  // an answer is still streaming; grandma's record says how many it used.
  // Answers on different connections may be read in any order: each line
  // is known by its text.
  async function walkie(rec, callID) {
    const p = progress();
    let log = null;
    performance.clearResourceTimings();
    // say says a line and reads grandma's answer; handed is called once
    // the request is the browser's, so that the next line can follow it.
    async function say(m, query, handed) {
      const url = new URL('/say?' + query, location.href).href;
      const handedOver = rec.now(); // a lower bound: the browser has the request
      const answer = fetch(url, {
        method: 'POST',
        cache: 'no-store',
        headers: { 'Content-Type': 'text/plain; charset=utf-8', 'Duplexdemo-Protocol': String(script.protocol), 'Duplexdemo-Call': callID },
        body: m.text,
      });
      handed();
      const resp = await answer;
      // The answer has begun, so the line went by now; the browser says
      // exactly when only once the answer is over.
      rec.sent(m, rec.now(), true);
      if (!resp.ok) throw new Error(`grandma answered the ${m.label} with ${resp.status}: ${(await resp.text()).slice(0, 200)}`);
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
        await cueDue(rec, p, cue, i);
        await before;
        const query = (i === 0 ? script.query + '&' : '') + 'line=' + encodeURIComponent(cue.label);
        await say(rec.want(cue.label, cue.text, reasonFor(i)), query, handed.resolve);
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
      await sleep(50);
    }
    return null;
  }

  // phone plays the call over the browser's WebSocket: lines go the moment
  // they are wanted, whatever grandma is saying. The first line opens the
  // call and goes when it is open; the last is the grandchild's goodbye.
  async function phone(rec, callID) {
    const p = progress();
    const [first, ...rest] = script.cues;
    await cueDue(rec, p, first, 0); // '' (start() checks): nothing is heard before the call
    return new Promise((resolve, reject) => {
      let log = null;
      let bye = null;
      const opening = rec.want(first.label, first.text, reasonFor(0));
      // The call's id names it in the report to the class: a browser
      // cannot set a header on a WebSocket, so it rides in the query.
      const named = script.call_param ? `&${script.call_param}=${callID}` : '';
      const ws = new WebSocket(`ws://${location.host}/call?${script.query}${named}`);
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
            await cueDue(rec, p, cue, i + 1);
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

  // hexBytes is a hash given in hex, as bytes.
  function hexBytes(hex) {
    const b = new Uint8Array(hex.length / 2);
    for (let i = 0; i < b.length; i++) b[i] = parseInt(hex.substr(2 * i, 2), 16);
    return b;
  }

  // webtransport plays the call over the browser's WebTransport (HTTP/3 on
  // QUIC, over UDP): the page asks grandma, over HTTP, where her
  // WebTransport is and the hash of her certificate (made in memory, so no
  // authority vouches for it: the browser pins it by its hash), opens a
  // session and one bidirectional stream, a line of text each, ended by a
  // newline, whenever a side likes. After her farewell and the end of her
  // side of the stream, it fetches her record of the call over HTTP.
  async function webtransport(rec, callID) {
    const p = progress();
    const [first, ...rest] = script.cues;
    await cueDue(rec, p, first, 0);
    const opening = rec.want(first.label, first.text, reasonFor(0));
    const named = `${script.call_param}=${callID}`;
    const ask = await fetch(`/webtransport/session?${named}`, { cache: 'no-store' });
    if (!ask.ok) throw new Error(`grandma's WebTransport: ${ask.status} ${(await ask.text()).slice(0, 200)}`);
    const info = await ask.json();
    const wt = new WebTransport(`${info.url}?${script.query}&${named}`, {
      serverCertificateHashes: info.certificate_hashes.map((h) => ({ algorithm: 'sha-256', value: hexBytes(h) })),
    });
    try {
      await wt.ready;
      const stream = await wt.createBidirectionalStream();
      const writer = stream.writable.getWriter();
      const encoder = new TextEncoder();
      const say = (m) => { rec.sent(m); return writer.write(encoder.encode(m.text + '\n')); };
      // reading hears grandma's lines until her side of the stream ends.
      const reading = (async () => {
        const reader = stream.readable.getReader();
        const decoder = new TextDecoder();
        let buf = '';
        let farewell = false;
        for (;;) {
          const { value, done } = await reader.read();
          if (value) buf += decoder.decode(value, { stream: true });
          let i;
          while ((i = buf.indexOf('\n')) >= 0) {
            const m = rec.heard(buf.slice(0, i));
            buf = buf.slice(i + 1);
            p.heard(m);
            farewell = farewell || m.label === 'farewell';
          }
          if (done) break;
        }
        if (!farewell) throw new Error('grandma ended the stream before her farewell');
      })();
      const early = reading.then(() => { throw new Error('grandma ended the call before your goodbye'); });
      early.catch(() => {});
      await say(opening);
      for (const [i, cue] of rest.entries()) {
        await Promise.race([cueDue(rec, p, cue, i + 1), early]);
        await say(rec.want(cue.label, cue.text, reasonFor(i + 1)));
      }
      await writer.close(); // the end of the grandchild's side, after her goodbye
      await reading;
    } catch (err) {
      const closed = await Promise.race([wt.closed.catch((e) => e), sleep(100).then(() => null)]);
      const why = closed && closed.reason ? closed.reason : closed && closed.message ? closed.message : '';
      throw new Error(why ? `grandma hung up: ${why}` : String(err && err.message || err));
    } finally {
      wt.close();
    }
    const got = await fetch(`/webtransport/record?${named}`, { cache: 'no-store' });
    if (!got.ok) throw new Error(`grandma's record of the call: ${got.status} ${(await got.text()).slice(0, 200)}`);
    const text = await got.text();
    if (!text.startsWith(LOG_PREFIX)) throw new Error('grandma did not hand over her record of the call');
    return JSON.parse(text);
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

  // pair matches each line one side sent with its hearing on the other
  // side, by its text (the n-th saying of a text with its n-th hearing):
  // lines on different connections may arrive in any order.
  function pair(sent, heard) {
    const byText = new Map();
    for (const h of heard.slice().sort((a, b) => a.heardAt - b.heardAt)) {
      if (!byText.has(h.text)) byText.set(h.text, []);
      byText.get(h.text).push(h);
    }
    return sent.map((m) => [m, (byText.get(m.text) || []).shift()]);
  }

  // merge places grandma's clock on the page's, as NTP does: a line the
  // page sent and she heard says her clock reads at least so much, a line
  // she sent and the page heard says at most so much. It returns both
  // sides' lines on the page's clock and the alignment's uncertainty.
  function merge(rec, hers) {
    const sentBy = (msgs, from) => msgs.filter((m) => m.from === from && m.sent).sort((a, b) => a.sentAt - b.sentAt);
    const heardOf = (msgs, from) => msgs.filter((m) => m.from === from && m.heard && !m.sent);
    const up = pair(sentBy(rec.msgs, 'client'), heardOf(hers.msgs, 'client'));
    const down = pair(sentBy(hers.msgs, 'server'), heardOf(rec.msgs, 'server'));
    let lo = -Infinity;
    let hi = Infinity;
    for (const [m, h] of up) if (h) lo = Math.max(lo, m.sentAt - h.heardAt);
    for (const [m, h] of down) if (h) hi = Math.min(hi, h.heardAt - m.sentAt);
    if (!isFinite(lo) || !isFinite(hi)) throw new Error('the clocks cannot be aligned: no line was heard each way');
    if (lo > hi) [lo, hi] = [hi, lo];
    const offset = lo + (hi - lo) / 2;
    const lines = [];
    for (const [m, h] of up) lines.push({ ...m, heard: !!h, heardAt: h ? h.heardAt + offset : undefined });
    for (const m of rec.msgs) if (m.from === 'client' && !m.sent) lines.push({ ...m });
    for (const [m, h] of down) lines.push({ ...m, wantedAt: m.wantedAt + offset, sentAt: m.sentAt + offset, heard: !!h, heardAt: h ? h.heardAt : undefined });
    for (const m of hers.msgs) if (m.from === 'server' && !m.sent) lines.push({ ...m, wantedAt: m.wantedAt + offset });
    lines.sort((a, b) => a.wantedAt - b.wantedAt);
    return { lines, offset, uncertainty: (hi - lo) / 2 };
  }

  // spans derives, from lines on one clock, each side's talking, waiting
  // and listening. A wait still pending lasts until `now`.
  function spans(lines, now) {
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
      const sent = ms.map((m) => m.sentAt);
      out.push({ side: from, state: 'talk', start: Math.min(...sent), end: Math.max(...sent), label: ms[0].label });
      const heard = ms.filter((m) => m.heard).map((m) => m.heardAt);
      if (heard.length) out.push({ side: peer, state: 'listen', start: Math.min(...heard), end: Math.max(...heard), label: ms[0].label });
    }
    for (const m of lines) {
      if (m.wantedAt === undefined) continue;
      const pending = !m.sent;
      const until = Math.min(pending ? now : m.sentAt, now);
      if (until - m.wantedAt >= RESOLUTION) out.push({ side: m.from, state: 'wait', start: m.wantedAt, end: until, label: m.label, reason: m.reason, pending, provisional: !!m.provisional });
    }
    return out;
  }

  // measure returns the width in CSS px of text as the figure draws it with
  // the classes given, measured in a hidden SVG. Digits are measured as 0s
  // (they are as wide in the figure's fonts), so that a number that grows
  // does not make the page measure again and again.
  const measured = new Map();
  let ruler = null;
  function measure(text, groupClass, textClass) {
    const key = `${groupClass}|${textClass}|${text.replace(/[0-9]/g, '0')}`;
    if (measured.has(key)) return measured.get(key);
    if (!ruler) {
      ruler = document.createElementNS(SVG, 'svg');
      ruler.setAttribute('class', 'lanes ruler');
      ruler.setAttribute('aria-hidden', 'true');
      document.body.append(ruler);
    }
    const g = document.createElementNS(SVG, 'g');
    g.setAttribute('class', groupClass);
    const t = document.createElementNS(SVG, 'text');
    if (textClass) t.setAttribute('class', textClass);
    t.textContent = text.replace(/[0-9]/g, '0');
    g.append(t);
    ruler.append(g);
    const w = t.getComputedTextLength();
    g.remove();
    measured.set(key, w);
    return w;
  }

  // overlaps says whether the interval [a0, a1] comes within gap of [b0, b1].
  const overlaps = (a0, a1, b0, b1, gap) => a0 < b1 + gap && b0 < a1 + gap;

  // figures remembers what each figure shows, to draw it again when the
  // window changes size.
  const figures = new Map();

  // draw draws one run's swimlanes: a lane per side with three stripes,
  // an arrow per line from its sending to its hearing. It draws in CSS
  // pixels, as wide as its container (at least MIN_WIDTH), so that its
  // text is as large on a phone as the style says. view.now, for a call
  // still running, is the page's clock now: a wait still pending ends
  // there, and a line marks it. view.name is the figure's accessible name.
  function draw(container, mode, lines, total, view) {
    figures.set(container, [mode, lines, total, view]);
    const W = Math.max(MIN_WIDTH, Math.floor(container.clientWidth));
    const pad = 8, gap = 14, right = 16, laneH = 72, wire = 56, top = 8, axisH = 40;
    const names = { client: ['you', 'the grandchild', '(client)'], server: ['grandma', 'the server', ''] };
    const stripes = ['talks', 'waits', 'listens'];
    const nameW = Math.max(...Object.values(names).flatMap(([n, r1, r2]) => [measure(n, 'lane', 'lane-name'), measure(r1, 'lane', 'lane-role'), measure(r2, 'lane', 'lane-role')]));
    const stripeW = Math.max(...stripes.map((s) => measure(s, 'lane', 'stripe-name')));
    const left = Math.ceil(pad + nameW + gap + stripeW + 6);
    const plot = W - left - right;
    const H = top + laneH + wire + laneH + axisH;
    const x = (t) => left + Math.max(0, Math.min(t, total)) / total * plot;
    const el = (name, attrs, text) => {
      const e = document.createElementNS(SVG, name);
      for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, v);
      if (text !== undefined) e.textContent = text;
      return e;
    };
    const svg = el('svg', {
      class: 'lanes', width: W, height: H, viewBox: `0 0 ${W} ${H}`, role: 'img', 'data-mode': mode, 'aria-label': view.name,
      'data-left': left, 'data-plot': plot, 'data-total-ms': total.toFixed(3),
    });
    if (view.now !== undefined) svg.dataset.nowMs = view.now.toFixed(3);
    const laneY = { client: top, server: top + laneH + wire };
    // Ticks far enough apart for their labels.
    const tickLabel = (t) => (t >= 1000 ? `${t / 1000} s` : `${t} ms`);
    let step = 100;
    for (const s of [100, 200, 250, 500, 1000, 2000, 5000, 10000, 20000, 60000]) {
      step = s;
      let widest = 0;
      for (let t = 0; t <= total; t += s) widest = Math.max(widest, measure(tickLabel(t), 'tick', ''));
      if (s / total * plot >= widest + 16) break;
    }
    for (let t = 0; t <= total; t += step) {
      const g = el('g', { class: 'tick' });
      g.append(el('line', { x1: x(t), y1: 0, x2: x(t), y2: H - axisH + 4 }));
      const label = tickLabel(t);
      const tw = measure(label, 'tick', '');
      // The last label keeps inside the figure.
      const tx = Math.min(x(t), W - 2 - tw / 2);
      g.append(el('text', { x: tx, y: H - axisH + 22, 'text-anchor': 'middle' }, label));
      svg.append(g);
    }
    const ss = spans(lines, view.now === undefined ? total : view.now);
    ss.sort((a, b) => (b.end - b.start) - (a.end - a.start)); // the longest waits get their labels first
    for (const side of ['client', 'server']) {
      const y = laneY[side];
      const g = el('g', { class: 'lane', 'data-side': side });
      g.append(el('rect', { class: 'lane-bg', x: left, y, width: plot, height: laneH }));
      const [name, role1, role2] = names[side];
      g.append(el('text', { class: 'lane-name', x: pad, y: y + 22 }, name));
      g.append(el('text', { class: 'lane-role', x: pad, y: y + 42 }, role1));
      if (role2) g.append(el('text', { class: 'lane-role', x: pad, y: y + 58 }, role2));
      stripes.forEach((n, i) => g.append(el('text', { class: 'stripe-name', x: left - 6, y: y + 19 + i * 21, 'text-anchor': 'end' }, n)));
      const mine = ss.filter((s) => s.side === side);
      // Where each wait's bar is, so that no label covers another's.
      const barOf = (s) => {
        const x0 = x(s.start);
        let x1 = Math.max(x0 + 3, x(s.end));
        if (s.pending) x1 = Math.max(x0, x(s.end)); // never past now
        return [x0, x1];
      };
      const bars = mine.filter((s) => s.state === 'wait').map((s) => [s, barOf(s)]);
      const placed = [];
      for (const s of mine) {
        const row = { talk: 0, wait: 1, listen: 2 }[s.state];
        if (s.state !== 'wait') {
          const w = Math.max(3, x(s.end) - x(s.start));
          g.append(el('rect', { class: s.state, x: x(s.start) - (w > x(s.end) - x(s.start) ? 1.5 : 0), y: y + 6 + row * 21, width: w, height: 18 }));
          continue;
        }
        const [x0, x1] = barOf(s);
        const waited = s.end - s.start;
        const wg = el('g', { class: 'wait', 'data-label': s.label, 'data-reason': s.reason || '', 'data-waited-ms': waited.toFixed(3) });
        if (s.pending) wg.dataset.pending = 'true';
        // A line whose answer has begun went by then; the browser says
        // exactly when only at the end of the answer.
        let text = `${s.label} waited ${s.provisional ? 'at most ' : ''}${Math.round(waited)} ms: ${s.reason}`;
        if (s.pending) text = view.now !== undefined ? `${s.label} waiting ${Math.round(waited)} ms so far: ${s.reason}` : `${s.label} never sent: waited ${Math.round(waited)} ms, to the end: ${s.reason}`;
        const rect = el('rect', { x: x0, y: y + 6 + row * 21, width: x1 - x0, height: 18 });
        rect.append(el('title', {}, text));
        wg.append(rect);
        // The label goes inside the bar if it fits, else beside it, on
        // the side with room; a label that would cover another label or
        // another wait's bar is left to the tooltip.
        const tw = measure(text, 'wait', '');
        const candidates = [];
        if (tw + 12 <= x1 - x0) candidates.push([x0 + 6, 'start', x0 + 6, x0 + 6 + tw]);
        candidates.push([x1 + 6, 'start', x1 + 6, x1 + 6 + tw]);
        candidates.push([x0 - 6, 'end', x0 - 6 - tw, x0 - 6]);
        const fits = ([, , a, b]) => a >= left + 2 && b <= W - 2 &&
          !placed.some(([c, d]) => overlaps(a, b, c, d, 8)) &&
          !bars.some(([o, [c, d]]) => o !== s && overlaps(a, b, c, d, 2));
        const spot = waited >= LABELLED && candidates.find(fits);
        if (spot) {
          placed.push([spot[2], spot[3]]);
          wg.append(el('text', { x: spot[0], y: y + 20 + row * 21, 'text-anchor': spot[1] }, text));
        }
        g.append(wg);
      }
      svg.append(g);
    }
    const keys = [];
    for (const m of lines) {
      if (!m.sent || !m.heard) continue;
      const g = el('g', { class: `msg from-${m.from}`, 'data-label': m.label });
      const y1 = m.from === 'client' ? laneY.client + laneH : laneY.server;
      const y2 = m.from === 'client' ? laneY.server : laneY.client + laneH;
      g.append(el('line', { x1: x(m.sentAt), y1, x2: x(m.heardAt), y2 }));
      if (m.label === 'interruption' || m.label === 'afterthought') {
        const kw = measure(m.label, 'msg', 'key');
        const far = Math.max(x(m.sentAt), x(m.heardAt)) + 8;
        const near = Math.min(x(m.sentAt), x(m.heardAt)) - 8;
        const spot = [[far, 'start', far, far + kw], [near, 'end', near - kw, near]]
          .find(([, , a, b]) => a >= left + 2 && b <= W - 2 && !keys.some(([c, d]) => overlaps(a, b, c, d, 8)));
        if (spot) {
          keys.push([spot[2], spot[3]]);
          g.append(el('text', { class: 'key', x: spot[0], y: (y1 + y2) / 2 + 5, 'text-anchor': spot[1] }, m.label));
        }
      }
      g.append(el('title', {}, `${m.label}, sent ${ms(m.sentAt)}, heard ${ms(m.heardAt)}: ${m.text}`));
      svg.append(g);
    }
    if (view.now !== undefined) svg.append(el('line', { class: 'now', x1: x(view.now), y1: 0, x2: x(view.now), y2: H - axisH + 4 }));
    container.replaceChildren(svg);
  }

  // Draw every figure again, for the window's new width.
  let resizing = 0;
  window.addEventListener('resize', () => {
    if (resizing) return;
    resizing = requestAnimationFrame(() => {
      resizing = 0;
      for (const [container, args] of figures) if (container.isConnected) draw(container, ...args);
    });
  });

  // live draws what the page has seen so far: its own side, as it happens.
  function live(rec, mode) {
    const now = rec.now();
    const lines = rec.msgs.map((m) => ({ ...m }));
    // A line the page heard was sent by grandma at some time it will learn
    // from her record; until then it is drawn where it was heard.
    for (const m of lines) if (m.from === 'server') { m.sent = true; m.sentAt = m.heardAt; m.wantedAt = m.heardAt; }
    const lastCue = script.cues[script.cues.length - 1];
    draw($(`#run-${mode} .figure`), mode, lines, Math.max(lastCue.at_ms + 400, now), { now, name: `${NAME[mode]} call in progress: ${(now / 1000).toFixed(1)} s so far; the numbers follow when it is over` });
  }

  // moment is what the merged lines say of one line: when it was wanted,
  // sent and heard, and, if it never was, why (never, in words, and short,
  // for a table).
  function moment(r, label, end) {
    const m = r.lines.find((l) => l.label === label);
    if (!m) {
      if (label !== 'afterthought') return { never: 'the call ended before you wanted to say it', short: 'never: the call ended first' };
      if (r.herGoodbyeAt !== undefined && r.herGoodbyeAt < script.afterthought_at_ms) {
        return {
          never: `your goodbye reached grandma ${ms(r.herGoodbyeAt)} into the call on her clock, and she remembers the county fair only at ${ms(script.afterthought_at_ms)}`,
          short: 'never: goodbye came first',
        };
      }
      return { never: 'grandma had not remembered it when the call ended', short: 'never: not remembered' };
    }
    const o = { wanted: m.wantedAt, sent: m.sentAt, heard: m.heardAt, waited: m.sent ? m.sentAt - m.wantedAt : undefined, after: m.heard ? m.heardAt - m.wantedAt : undefined, reason: m.reason };
    if (!m.sent) {
      o.never = `it was still waiting when the call ended, ${ms(end - m.wantedAt)} after it was wanted${m.reason ? ': ' + m.reason : ''}`;
      o.waitedAtLeast = end - m.wantedAt;
    } else if (!m.heard) {
      o.never = 'it was sent, but never heard';
    }
    return o;
  }

  // cell is what a table says of a moment's value: its time, or that it
  // never came.
  function cell(o, key) {
    const v = o[key];
    if (v !== undefined && v !== null) return ms(v);
    if (o.wanted === undefined) return key === 'wanted' ? o.short : 'never';
    if (key === 'waited' && o.waitedAtLeast !== undefined) return `over ${ms(o.waitedAtLeast)}, never sent`;
    return key === 'sent' || key === 'waited' ? 'never sent' : 'never heard';
  }

  // waitedFor says how long a line waited, and for what.
  function waitedFor(o) {
    if (o.waited === undefined) return o.never ? `never came: ${o.never}` : 'never came';
    if (o.waited < AT_ONCE) return `went at once (it waited ${ms(o.waited)})`;
    const why = { [script.reasons.channel_busy]: ' for the channel', [script.reasons.connecting]: ' for the connection' }[o.reason];
    return `waited ${ms(o.waited)}${why !== undefined ? why : o.reason ? ` (${o.reason})` : ''}`;
  }

  function table(caption, head, rows) {
    const t = document.createElement('table');
    const c = document.createElement('caption');
    c.textContent = caption;
    t.append(c);
    if (head) {
      const thead = document.createElement('thead');
      const tr = document.createElement('tr');
      for (const h of head) {
        const th = document.createElement('th');
        th.scope = 'col';
        th.textContent = h;
        tr.append(th);
      }
      thead.append(tr);
      t.append(thead);
    }
    const body = document.createElement('tbody');
    for (const row of rows) {
      const tr = document.createElement('tr');
      row.forEach((v, i) => {
        const td = document.createElement(i === 0 ? 'th' : 'td');
        if (i === 0) td.scope = 'row';
        td.textContent = v;
        tr.append(td);
      });
      body.append(tr);
    }
    t.append(body);
    return t;
  }

  // result says in one sentence what the call measured: the figure's
  // accessible name, and what the status line announces.
  function result(mode, r) {
    return `${NAME[mode]} call: the interruption ${waitedFor(r.interruption)}` +
      (r.interruption.after !== undefined ? ` and grandma heard it ${ms(r.interruption.after)} after you wanted it` : '') +
      `; the afterthought ${waitedFor(r.afterthought)}` +
      (r.afterthought.heard !== undefined ? ` and you heard it at ${ms(r.afterthought.heard)}` : '');
  }

  function summarize(mode, r, total) {
    const { lines, uncertainty, connections } = r;
    const i = moment(r, 'interruption', total);
    const a = moment(r, 'afterthought', total);
    r.interruption = i;
    r.afterthought = a;
    const sec = $(`#run-${mode}`);
    const rows = [['wanted at', 'wanted'], ['sent at', 'sent'], ['heard at', 'heard'], ['waited', 'waited'], ['heard after', 'after']];
    const moments = table(`${NAME[mode]} call: your interruption and grandma's afterthought, in ms since you wanted to ask your question`,
      ['', 'interruption', 'afterthought'], rows.map(([name, key]) => [name, cell(i, key), cell(a, key)]));
    moments.dataset.mode = mode;
    moments.dataset.interruptionHeardAfterMs = i.after === undefined ? '' : i.after.toFixed(3);
    moments.dataset.connections = String(connections);
    const facts = table(`${NAME[mode]} call: the connections, and how well the clocks agree`, null,
      [['connections grandma saw', String(connections)], ['grandma\u2019s clock aligned to within', `± ${Math.round(uncertainty)} ms`]]);
    sec.querySelector('.summary').replaceChildren(moments, facts);
    sec.querySelector('.note').textContent = note(mode, r, lines);
  }

  // note says in words what the call measured.
  function note(mode, r, lines) {
    const { connections } = r;
    const i = r.interruption;
    const a = r.afterthought;
    const storyHeard = lines.filter((l) => l.from === 'server' && l.label === 'story' && l.heard).map((l) => l.heardAt);
    const storyOver = storyHeard.length ? Math.max(...storyHeard) : undefined;
    const when = i.sent === undefined || storyOver === undefined ? '' : i.sent < storyOver ? ', while grandma was still telling her story' : ', once her story was over';
    const atOnce = i.waited !== undefined && i.waited < AT_ONCE;
    let s = `Your interruption ${waitedFor(i)}${when}.`;
    if (mode === 'walkie') {
      const used = connections === 1 ? 'one connection' : `${connections} connections`;
      s = `Your browser used ${used} to grandma for this call. ` + s;
      if (connections > 1 && atOnce) {
        s += ' To get a word in while her answer was still streaming, the browser opened another connection (a new connection costs a round trip to open). That is one of the workarounds before WebSocket; on one connection, like a walkie-talkie, your interruption would have waited for the story to end.';
      } else if (connections > 1) {
        s += ' A browser may open another connection to get a word in while an answer streams, one of the workarounds before WebSocket; this time that did not spare your interruption the wait.';
      } else if (!atOnce) {
        s += ' On one connection, like a walkie-talkie, each line waits for the answer before it.';
      }
    } else if (mode === 'webtransport') {
      s = `One QUIC connection over UDP, one stream, both ways at once. ${s}`;
    } else {
      s = `One connection, both ways at once. ${s}`;
    }
    if (a.never) {
      s += ` Grandma's afterthought never reached you: ${a.never}.`;
    } else if (a.waited >= LABELLED) {
      s += ` Grandma's afterthought waited ${ms(a.waited)}${a.reason ? `: ${a.reason}` : ''}${mode === 'walkie' ? '; HTTP lets her speak only in answer to a request' : ''}.`;
    } else {
      s += ` Grandma's afterthought went at once${mode !== 'walkie' ? ': nobody had to ask her first' : ''}.`;
    }
    return s;
  }

  function compare() {
    const w = runs.walkie;
    const p = runs.phone;
    if (!w || !p) return;
    const sec = $('#compare');
    const rows = [
      ['interruption waited', (r) => (r.interruption.wanted === undefined ? r.interruption.short : cell(r.interruption, 'waited'))],
      ['interruption heard after', (r) => cell(r.interruption, 'after')],
      ['afterthought waited', (r) => (r.afterthought.wanted === undefined ? r.afterthought.short : cell(r.afterthought, 'waited'))],
      ['afterthought heard after', (r) => cell(r.afterthought, 'after')],
      ['connections grandma saw', (r) => String(r.connections)],
      ['clock aligned to within', (r) => `± ${Math.round(r.uncertainty)} ms`],
    ];
    sec.querySelector('.table').replaceChildren(table('The two calls side by side, in ms', ['measure', 'walkie (HTTP)', 'phone (WebSocket)'],
      rows.map(([name, get]) => [name, get(w), get(p)])));
    sec.hidden = false;
  }

  // sideRecord is the page's own record of a call, as grandma's is of hers,
  // for the report to the class (PROTOCOL.md, section 17.3): the lines it
  // wanted and sent, and grandma's lines as it heard them, in integer ns on
  // its clock, in order. The browser cannot count its connections (grandma
  // does), and the page emulates no link.
  function sideRecord(rec, end) {
    const ns = (t) => Math.round(t * 1e6);
    const events = [];
    // msg numbers each line: the page's own lines, want and send alike, and
    // each line it heard, in the order the page first knew of them.
    rec.msgs.forEach((m, msg) => {
      const line = { msg, label: m.label, text: m.text };
      if (m.from === 'server') {
        events.push({ at_ns: ns(m.heardAt), kind: 'heard', ...line });
        return;
      }
      const wanted = ns(m.wantedAt);
      events.push({ at_ns: wanted, kind: 'want', ...line, ...(m.reason ? { reason: m.reason } : {}) });
      // Recorder.sent keeps a send no sooner than its want, so waited_ns is
      // never negative; rounding keeps that order.
      if (m.sent) events.push({ at_ns: ns(m.sentAt), kind: 'send', ...line, waited_ns: ns(m.sentAt) - wanted });
    });
    // A stable sort: a line sent the instant it was wanted keeps its want first.
    events.sort((a, b) => a.at_ns - b.at_ns);
    const last = events.length ? events[events.length - 1].at_ns : 0;
    return { protocol: script.protocol, duration_ns: Math.max(ns(end), last), connections: 0, latency_ns: 0, events };
  }

  // report sends the page's side of a call that completed to the class
  // experiment, under the student's name, and tells the student whether it
  // is on the teacher's screen. It never fails: the call's own result
  // stands either way. r.reported says how it went, {status, id}; status
  // 0 if the server was not reached.
  async function report(mode, r, rec, callID, end) {
    if (!student || typeof script.report !== 'string' || !script.report) return;
    const note = $(`#run-${mode} .reported`);
    const say = (text) => { if (runs[mode] === r) note.textContent = text; };
    say('Sending your call to the teacher\u2019s screen\u2026');
    let status = 0;
    let id = null;
    let why = '';
    try {
      const resp = await fetch(script.report, {
        method: 'POST',
        cache: 'no-store',
        headers: { 'Content-Type': 'application/json', 'Duplexdemo-Protocol': String(script.protocol) },
        body: JSON.stringify({ protocol: script.protocol, call: callID, student, record: sideRecord(rec, end) }),
        signal: typeof AbortSignal.timeout === 'function' ? AbortSignal.timeout(REPORT_TIMEOUT) : undefined,
      });
      status = resp.status;
      const body = await resp.text();
      if (status === 201) {
        const n = JSON.parse(body).id;
        if (Number.isInteger(n)) id = n;
      } else {
        why = body.split('\n')[0].slice(0, 200);
      }
    } catch (err) {
      why = String(err && err.message || err);
    }
    r.reported = { status, id };
    if (status === 201) {
      say(`Your call is on the teacher\u2019s screen${id !== null ? ` (call ${id})` : ''}.`);
    } else if (status === 409) {
      say('Your call is already on the teacher\u2019s screen.');
    } else if (status === 0) {
      say('The teacher\u2019s screen could not be reached, so this call is not on it. Your result above still stands.');
    } else {
      say(`The teacher\u2019s screen did not take this call${why ? ` (${why.replace(/[.\s]+$/, '')})` : ''}. Your result above still stands.`);
    }
  }

  // plain says what went wrong in words for a student.
  function plain(err) {
    const msg = String(err && err.message || err);
    if (/Failed to fetch|NetworkError|WebSocket to grandma failed/i.test(msg)) {
      return 'grandma does not answer. Is duplexdemo serve still running on the teacher\u2019s machine? Ask the teacher, then try again.';
    }
    if (/ 1001 |grandma has to go/.test(msg)) return 'grandma had to go: the teacher stopped the server. Ask the teacher to start it again, then try again.';
    return msg;
  }

  // The buttons stay focusable while a call runs, so that a keyboard's
  // focus stays where it was; they say they are unavailable, and a press
  // then does nothing.
  let playing = false;
  const buttons = () => document.querySelectorAll('button[data-mode]');

  async function play(mode) {
    if (playing) return;
    playing = true;
    buttons().forEach((b) => b.setAttribute('aria-disabled', 'true'));
    const sec = $(`#run-${mode}`);
    sec.hidden = false;
    sec.dataset.state = 'playing';
    delete runs[mode]; // until this call is over, it has no numbers
    $('#compare').hidden = true;
    sec.querySelector('.summary').replaceChildren();
    sec.querySelector('.note').textContent = '';
    sec.querySelector('.reported').textContent = '';
    const callID = randomHex(16);
    status(`Calling grandma ${HOW[mode]}…`);
    // The live picture is drawn again on every change, and every
    // LIVE_EVERY ms so that a pending wait grows, but drawing takes at most
    // a quarter of the page's time: a slow device needs the rest to hear
    // grandma and speak on time.
    let over = false;
    let frame = 0;
    let later = 0;
    let drawn = -Infinity;
    let cost = 0;
    const redraw = () => {
      frame = 0;
      if (over) return;
      const began = performance.now();
      live(rec, mode);
      drawn = performance.now();
      cost = drawn - began;
    };
    const schedule = () => {
      if (frame || later || over) return;
      const wait = drawn + 3 * cost - performance.now();
      if (wait > 0) later = setTimeout(() => { later = 0; schedule(); }, wait);
      else frame = requestAnimationFrame(redraw);
    };
    const rec = new Recorder(schedule);
    const ticker = setInterval(schedule, LIVE_EVERY); // a pending wait grows with the clock
    try {
      const log = await ({ walkie, phone, webtransport }[mode])(rec, callID);
      const end = rec.now(); // the call is over on the page's clock
      over = true; // a redraw still queued must not cover the merged picture
      const hers = herRecord(log);
      const merged = merge(rec, hers);
      const total = Math.max(rec.now(), ...merged.lines.map((m) => m.heardAt || m.sentAt || 0)) + 50;
      const herBye = hers.msgs.find((m) => m.from === 'client' && m.label === 'goodbye');
      const r = { lines: merged.lines, uncertainty: merged.uncertainty, connections: hers.connections, herGoodbyeAt: herBye ? herBye.heardAt : undefined };
      summarize(mode, r, total);
      draw(sec.querySelector('.figure'), mode, merged.lines, total, { name: result(mode, r) });
      r.call = callID;
      r.reported = null; // until the server answers the report
      runs[mode] = r;
      compare();
      sec.dataset.state = 'done';
      status(`${result(mode, r).replace(/^./, (c) => c.toUpperCase())}. ${next()}`);
      // Not awaited: the buttons are the student's again at once, and the
      // status line keeps the call's result; the report says its own word.
      report(mode, r, rec, callID, end);
    } catch (err) {
      over = true;
      sec.dataset.state = 'failed';
      status(`The call failed: ${plain(err)}`, true);
    } finally {
      over = true;
      clearInterval(ticker);
      clearTimeout(later);
      if (frame) cancelAnimationFrame(frame);
      playing = false;
      buttons().forEach((b) => b.removeAttribute('aria-disabled'));
    }
  }

  // checkSchedule makes sure the page can play the schedule it was served.
  function checkSchedule({ cues, reasons, pace_ms: pace, afterthought_at_ms: afterthought }) {
    if (!reasons || typeof reasons.connecting !== 'string' || typeof reasons.channel_busy !== 'string') throw new Error('the script gives no reasons for waiting');
    if (typeof pace !== 'number' || !(pace > 0) || typeof afterthought !== 'number') throw new Error('the script does not say when grandma speaks');
    if (!Array.isArray(cues) || cues.length === 0) throw new Error('the script has no lines for you');
    for (const c of cues) {
      if (typeof c.text !== 'string' || typeof c.at_ms !== 'number' || !MILESTONES.includes(c.after)) {
        throw new Error(`the script's ${c.label} line cannot be played`);
      }
    }
    if (cues[0].after !== '') throw new Error(`the script's first line waits for the story, which cannot begin before it`);
  }

  // nameStudent gives the student the name this browser keeps, or, on its
  // first visit, the fresh one the script brought, and keeps that. Where
  // the browser keeps nothing (storage off), the name lasts this visit.
  function nameStudent() {
    let kept = null;
    try {
      kept = localStorage.getItem(STUDENT_KEY);
    } catch (err) { /* no storage: a name for this visit */ }
    if (kept && STUDENT_SHAPE.test(kept)) return kept;
    const fresh = typeof script.student === 'string' && STUDENT_SHAPE.test(script.student) ? script.student : null;
    if (fresh) {
      try {
        localStorage.setItem(STUDENT_KEY, fresh);
      } catch (err) { /* no storage: a name for this visit */ }
    }
    return fresh;
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
    // A server that keeps a class says where to report to; only then has
    // the student a name to find on the teacher's screen.
    student = typeof script.report === 'string' && script.report ? nameStudent() : null;
    if (student) {
      $('#student-name').textContent = student;
      $('#student').hidden = false;
    }
    document.querySelectorAll('#cli-only .origin').forEach((e) => { e.textContent = location.origin; });
    // WebTransport is offered where the browser has it: a recent Chromium
    // or Firefox, on a secure page (https, or this machine's own address).
    const hasWT = 'WebTransport' in window;
    if (!hasWT) {
      const n = $('#webtransport-note');
      n.textContent = window.isSecureContext
        ? 'Your browser has no WebTransport, so that call cannot be played here: try a recent Chromium or Firefox.'
        : 'WebTransport needs a secure page (https, or this machine\u2019s own address, such as http://localhost), so that call cannot be played from this address. The other two can.';
      n.hidden = false;
    }
    buttons().forEach((b) => {
      if (b.dataset.mode === 'webtransport' && !hasWT) return;
      b.disabled = false;
      b.addEventListener('click', () => play(b.dataset.mode));
    });
    status('Ready: press a button to call grandma.');
  }

  start();
})();
