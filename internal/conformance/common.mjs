// What the walkie and phone clients share, all of it from docs/PROTOCOL.md
// (the section numbers below are that document's): the lines, the script
// and its schedule, the clock, the checks of grandma's record, and the
// report of the call to the class.
//
// The clients print one line per event on stdout, tab-separated:
//   said     T  LABEL  TEXT    a line the grandchild sent (T: ms on its clock)
//   heard    T  LABEL  TEXT    a line of grandma's it heard
//   record   JSON              grandma's record, as it arrived
//   ok       SUMMARY           the call completed and the record checked out
//   reported STATUS NAME BODY  its report to the class (section 17): the
//                              answer's status, the student's name, and the
//                              answer's body (its first line)
// and, on failure, one line on stderr and exit status 1. A report the
// server refuses is printed, not a failure: the call itself went well.

import { randomBytes } from 'node:crypto';
import http from 'node:http';

// The protocol version this client speaks (section 3).
export const VERSION = 1;
export const VERSION_HEADER = 'Duplexdemo-Protocol';
export const CALL_HEADER = 'Duplexdemo-Call';
// Grandma's record starts with this; no line does (sections 4, 8.1).
export const RECORD_PREFIX = '{"protocol":';
export const MAX_RECORD = 65536;
// The class experiment (section 17): where a call is reported, and the
// phone's query parameter that names the call (section 7.1).
export const REPORT_PATH = '/class/calls';
export const CALL_PARAM = 'call';
// How the grandchild names its own waits in its record (section 5.3).
const REASONS = { connecting: 'connecting', channel_busy: 'channel busy' };

// The lines (section 4).
export const LINES = {
  question: 'Grandma, what was it like growing up in the countryside?',
  interruption: 'Wait, was that before or after the war?',
  answer: 'Before the war, dear, and all through it too.',
  afterthought: 'Oh! I forgot to tell you about the county fair.',
  goodbye: 'Goodbye, Grandma! I love you.',
  farewell: 'Goodbye, sweetheart. Call me again soon.',
};
export const SENTENCES = [
  'We lived on a little farm at the end of a dirt road, three miles from town.',
  'Money was scarce in the Depression, and then the war came along.',
  'Before school I milked the cows, and in winter the pail froze to my fingers.',
  'Your great-grandfather was away at the war for almost four years.',
  'Mother ran the farm by herself, and we children did the work of grown men.',
  'When he finally came home, half the county met his train at the station.',
  'The next spring the power lines reached our road, and we had electric light.',
  'Dad bought a radio, and the neighbours came over to hear the news with us.',
  'On Saturday nights there was a dance in the grange hall, with a fiddle band.',
  'That is where I met your grandpa; he stepped on my feet all evening.',
];
const GRANDMAS = new Set(['story', 'answer', 'afterthought', 'farewell']);
const GRANDCHILDS = new Set(['question', 'interruption', 'goodbye']);

export class Failure extends Error {}

export function fail(msg) {
  throw new Failure(msg);
}

// parseDuration reads a duration as section 5.1 defines it, in ms.
export function parseDuration(s) {
  const units = { ns: 1e-6, us: 1e-3, 'µs': 1e-3, ms: 1, s: 1000, m: 60000, h: 3600000 };
  if (s === '0') return 0;
  const re = /([0-9]*(?:\.[0-9]*)?)(ns|us|µs|ms|s|m|h)/y;
  let ms = 0;
  let at = 0;
  while (at < s.length) {
    re.lastIndex = at;
    const m = re.exec(s);
    if (!m || m[1] === '' || m[1] === '.') fail(`not a duration: ${JSON.stringify(s)}`);
    ms += Number(m[1]) * units[m[2]];
    at = re.lastIndex;
  }
  if (s.length === 0) fail('an empty duration');
  return ms;
}

// scriptFromQuery builds the script a query asks for (section 5.1): the
// story's sentences and the grandchild's schedule (section 5.2), with the
// defaults section 5.1 gives for the times left out.
export function scriptFromQuery(query) {
  const q = new URLSearchParams(query);
  if (q.get('protocol') !== String(VERSION)) fail(`the script's protocol is ${q.get('protocol')}, want ${VERSION}`);
  let sentences = Number(q.get('sentences'));
  if (sentences === 0) sentences = 6;
  if (!Number.isInteger(sentences) || sentences < 2 || sentences > 10) fail(`sentences ${q.get('sentences')}: want 2 to 10`);
  if (!q.get('pace')) fail('pace: missing');
  const pace = parseDuration(q.get('pace'));
  const time = (name) => (q.get(name) ? parseDuration(q.get(name)) : 0);
  const storyEnd = (sentences - 1) * pace;
  let interruptAt = time('interrupt-at');
  if (interruptAt === 0) {
    interruptAt = 2.4 * pace;
    if (interruptAt >= storyEnd) interruptAt = storyEnd / 2;
  }
  let afterthoughtAt = time('afterthought-at');
  if (afterthoughtAt === 0) afterthoughtAt = storyEnd + 750;
  let goodbyeAt = time('goodbye-at');
  if (goodbyeAt === 0) goodbyeAt = afterthoughtAt + 600;
  return {
    query,
    story: SENTENCES.slice(0, sentences),
    ...LINES,
    cues: [
      { label: 'question', text: LINES.question, at_ms: 0, after: '' },
      { label: 'interruption', text: LINES.interruption, at_ms: interruptAt, after: 'story_begun' },
      { label: 'goodbye', text: LINES.goodbye, at_ms: goodbyeAt, after: 'story_ended' },
    ],
  };
}

// loadScript returns the script to play: the one a --script QUERY names, or
// else the server's default from /script.json (section 5.3), checked; and
// the student's name for the report to the class (section 17.1), from
// /script.json either way.
export async function loadScript(base, args) {
  const served = await scriptJSON(base);
  const student = typeof served.student === 'string' ? served.student : null;
  const i = args.indexOf('--script');
  if (i >= 0) return { script: scriptFromQuery(args[i + 1] || ''), student };
  return { script: served, student };
}

// scriptJSON fetches and checks /script.json (section 5.3).
async function scriptJSON(base) {
  // Not with fetch: its connection pool, once it has seen this answer's
  // Connection: close, would open a second connection for the walkie's
  // second line.
  const resp = await get(new URL('/script.json', base));
  checkVersionHeader(resp, '/script.json');
  if (resp.status !== 200) fail(`/script.json: ${resp.status} ${resp.body.slice(0, 200)}`);
  let s;
  try {
    s = JSON.parse(resp.body);
  } catch (err) {
    fail(`/script.json is not JSON: ${err.message}`);
  }
  if (s.protocol !== VERSION) fail(`/script.json is in protocol ${s.protocol}; this client speaks ${VERSION}`);
  if (!Array.isArray(s.story) || !Array.isArray(s.cues) || typeof s.query !== 'string') fail('/script.json has no story, cues or query');
  for (const c of s.cues) {
    if (!GRANDCHILDS.has(c.label) || typeof c.text !== 'string' || typeof c.at_ms !== 'number' || !['', 'story_begun', 'story_ended'].includes(c.after)) {
      fail(`/script.json: a cue this client cannot play: ${JSON.stringify(c)}`);
    }
  }
  return s;
}

// get fetches url with node:http: its status, headers (with get(name), as
// fetch's) and body.
function get(url) {
  return new Promise((resolve, reject) => {
    const req = http.get(url, { headers: { 'Cache-Control': 'no-store' } }, (res) => {
      res.setEncoding('utf8');
      let body = '';
      res.on('data', (d) => { body += d; });
      res.on('end', () => resolve({ status: res.statusCode, headers: { get: (name) => res.headers[name.toLowerCase()] ?? null }, body }));
      res.on('error', reject);
    });
    req.setTimeout(30000, () => req.destroy(new Error(`GET ${url}: no answer in 30 s`)));
    req.on('error', reject);
  });
}

// checkVersionHeader checks that a response is grandma's, in our version
// (section 3).
export function checkVersionHeader(resp, what) {
  const v = resp.headers.get(VERSION_HEADER);
  if (v === null) fail(`${what}: the answer (${resp.status}) has no ${VERSION_HEADER} header: is this duplexdemo serve?`);
  if (v !== String(VERSION)) fail(`${what}: the server speaks protocol ${v}; this client speaks ${VERSION}`);
}

// newCallID returns a random call id: 32 hex digits (section 6.1).
export function newCallID() {
  return randomBytes(16).toString('hex');
}

// Call is the grandchild's side of one call: its clock (t = 0 when it wants
// the question, section 5.2), what it said and heard, and how far the story
// has got.
export class Call {
  constructor(script) {
    this.script = script;
    this.t0 = performance.now();
    this.said = [];
    this.heard = [];
    this.record = null;
    // Every line this side wanted or heard, in the order it first knew of
    // it, with its times: its own record of the call (section 17.3).
    this.lines = [];
    let begun;
    let ended;
    this.begun = new Promise((r) => { begun = r; });
    this.ended = new Promise((r) => { ended = r; });
    this.storyHeard = 0;
    this.onStory = () => {
      this.storyHeard++;
      if (this.storyHeard === 1) begun();
      if (this.storyHeard === script.story.length) ended();
    };
  }

  now() {
    return performance.now() - this.t0;
  }

  // due resolves once the cue is wanted: at its time, and once the story
  // has reached its milestone (section 5.2).
  async due(cue) {
    const left = cue.at_ms - this.now();
    if (left > 0) await new Promise((r) => setTimeout(r, left));
    if (cue.after === 'story_begun') await this.begun;
    if (cue.after === 'story_ended') await this.ended;
  }

  // labelOf names one of grandma's lines, or fails.
  labelOf(text) {
    const s = this.script;
    if (text === s.answer) return 'answer';
    if (text === s.afterthought) return 'afterthought';
    if (text === s.farewell) return 'farewell';
    if (s.story.includes(text)) return 'story';
    return fail(`grandma said something that is none of her lines: ${JSON.stringify(text.slice(0, 80))}`);
  }

  // want notes that the grandchild wants to say a cue's line now, and
  // returns the line, to pass to said_ when it goes. The first line waits,
  // if at all, for the connection; the others for the channel.
  want(cue) {
    const line = { label: cue.label, text: cue.text, wantedAt: this.now(), reason: this.lines.length === 0 ? REASONS.connecting : REASONS.channel_busy };
    this.lines.push(line);
    return line;
  }

  // said_ notes that a wanted line goes now, and prints it.
  said_(line) {
    line.sentAt = this.now();
    this.said.push(line.text);
    out('said', line.sentAt.toFixed(1), line.label, line.text);
  }

  // hear takes one of grandma's lines.
  hear(text) {
    const label = this.labelOf(text);
    if (label === 'story') {
      const want = this.script.story[this.storyHeard];
      if (text !== want) fail(`grandma's story out of order: heard ${JSON.stringify(text)}, expected ${JSON.stringify(want)}`);
      this.onStory();
    }
    const heardAt = this.now();
    this.heard.push(text);
    this.lines.push({ label, text, heardAt });
    out('heard', heardAt.toFixed(1), label, text);
    return label;
  }

  // ownRecord is the grandchild's record of the call (section 17.3), as
  // grandma's is of hers: its want and send events, and a heard event for
  // each of her lines, in integer ns on its own clock, in order.
  ownRecord() {
    const ns = (ms) => Math.round(ms * 1e6);
    const events = [];
    this.lines.forEach((l, msg) => {
      if (l.heardAt !== undefined) {
        events.push({ at_ns: ns(l.heardAt), kind: 'heard', msg, label: l.label, text: l.text });
        return;
      }
      events.push({ at_ns: ns(l.wantedAt), kind: 'want', msg, label: l.label, text: l.text, reason: l.reason });
      if (l.sentAt !== undefined) {
        events.push({ at_ns: ns(l.sentAt), kind: 'send', msg, label: l.label, text: l.text, waited_ns: ns(l.sentAt) - ns(l.wantedAt) });
      }
    });
    events.sort((a, b) => a.at_ns - b.at_ns); // stable: a want stays before its send
    const end = Math.max(ns(this.now()), ...events.map((e) => e.at_ns));
    return { protocol: VERSION, duration_ns: end, connections: 0, latency_ns: 0, events };
  }

  // takeRecord keeps grandma's record as it arrived.
  takeRecord(text) {
    if (this.record !== null) fail('grandma handed over two records');
    if (text.length > MAX_RECORD) fail(`grandma's record is ${text.length} bytes, over ${MAX_RECORD}`);
    this.record = text;
    out('record', text);
  }

  // finish checks grandma's record (section 12.3) against what this side
  // said and heard, and says so.
  finish(mode) {
    if (this.record === null) fail('the call ended without grandma\'s record');
    let r;
    try {
      r = JSON.parse(this.record);
    } catch (err) {
      fail(`grandma's record is not JSON: ${err.message}`);
    }
    checkRecord(r, this.script);
    const herHeard = r.events.filter((e) => e.kind === 'heard').map((e) => e.text);
    const herSent = r.events.filter((e) => e.kind === 'send').map((e) => e.text);
    if (JSON.stringify(herHeard) !== JSON.stringify(this.said)) {
      fail(`grandma heard ${JSON.stringify(herHeard)}, but the grandchild said ${JSON.stringify(this.said)}`);
    }
    if (JSON.stringify(herSent) !== JSON.stringify(this.heard)) {
      fail(`grandma sent ${JSON.stringify(herSent)}, but the grandchild heard ${JSON.stringify(this.heard)}`);
    }
    if (this.heard.at(-1) !== this.script.farewell) fail('the call did not end with grandma\'s farewell');
    const afterthought = this.heard.includes(this.script.afterthought) ? 'with' : 'without';
    out('ok', `${mode}: said ${this.said.length} lines, heard ${this.heard.length} (${afterthought} the afterthought) in ${this.now().toFixed(0)} ms; her record: ${r.events.length} events, ${r.connections} connection(s), ${(r.duration_ns / 1e6).toFixed(1)} ms`);
  }
}

// checkRecord checks what sections 12.2 and 12.3 say of every record.
export function checkRecord(r, script) {
  const bad = (why) => fail(`grandma's record: ${why}`);
  const fields = ['protocol', 'duration_ns', 'connections', 'latency_ns', 'events'];
  for (const k of Object.keys(r)) if (!fields.includes(k)) bad(`unknown field ${k}`);
  if (r.protocol !== VERSION) bad(`protocol ${r.protocol}`);
  if (!Number.isInteger(r.duration_ns) || r.duration_ns < 0) bad(`duration_ns ${r.duration_ns}`);
  if (!Number.isInteger(r.connections) || r.connections < 0 || r.connections > 16) bad(`connections ${r.connections}`);
  if (!Number.isInteger(r.latency_ns) || r.latency_ns < 0) bad(`latency_ns ${r.latency_ns}`);
  if (!Array.isArray(r.events) || r.events.length > 512) bad('events missing or too many');
  const labels = new Map([
    [script.question, 'question'], [script.interruption, 'interruption'], [script.goodbye, 'goodbye'],
    [script.answer, 'answer'], [script.afterthought, 'afterthought'], [script.farewell, 'farewell'],
    ...script.story.map((s) => [s, 'story']),
  ]);
  const eventFields = ['at_ns', 'kind', 'msg', 'label', 'text', 'reason', 'waited_ns'];
  const wanted = new Map();
  const heardMsgs = new Set();
  let last = 0;
  for (const [i, e] of r.events.entries()) {
    const badE = (why) => bad(`event ${i} (${JSON.stringify(e)}): ${why}`);
    for (const k of Object.keys(e)) if (!eventFields.includes(k)) badE(`unknown field ${k}`);
    if (!Number.isInteger(e.at_ns) || e.at_ns < last || e.at_ns > r.duration_ns) badE('out of order or after the call');
    last = e.at_ns;
    const waited = e.waited_ns ?? 0;
    if (waited < 0 || waited > e.at_ns) badE('waited longer than the call so far');
    if (e.kind === 'connect' || e.kind === 'close') {
      if (e.msg !== -1) badE('a connection event names a message');
      continue;
    }
    if (labels.get(e.text) !== e.label) badE('not a line of the script with its label');
    switch (e.kind) {
      case 'want':
        if (!GRANDMAS.has(e.label) || wanted.has(e.msg)) badE('not hers to want, or wanted twice');
        wanted.set(e.msg, { text: e.text, sent: false });
        break;
      case 'waiting':
      case 'send': {
        const m = wanted.get(e.msg);
        if (!m || m.text !== e.text) badE('a line she never wanted');
        if (e.kind === 'send') {
          if (m.sent) badE('sent twice');
          m.sent = true;
        }
        break;
      }
      case 'heard':
        if (!GRANDCHILDS.has(e.label) || heardMsgs.has(e.msg) || wanted.has(e.msg)) badE('not hers to hear, or heard twice');
        heardMsgs.add(e.msg);
        break;
      default:
        badE('unknown kind');
    }
  }
}

// report tells the class of the call that just completed (section 17.2),
// on a connection of its own, and prints the answer.
async function report(base, id, student, record) {
  const body = JSON.stringify({ protocol: VERSION, call: id, student, record });
  const resp = await post(new URL(REPORT_PATH, base), body, {
    'Content-Type': 'application/json',
    [VERSION_HEADER]: String(VERSION),
  });
  out('reported', String(resp.status), student, resp.body.split('\n')[0]);
}

// post sends body to url with node:http, on a new connection that it
// closes after: its status and body.
function post(url, body, headers) {
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method: 'POST', agent: false, headers: { ...headers, 'Content-Length': Buffer.byteLength(body) } }, (res) => {
      res.setEncoding('utf8');
      let text = '';
      res.on('data', (d) => { text += d; });
      res.on('end', () => resolve({ status: res.statusCode, body: text }));
      res.on('error', reject);
    });
    req.setTimeout(30000, () => req.destroy(new Error(`POST ${url}: no answer in 30 s`)));
    req.on('error', reject);
    req.end(body);
  });
}

export function out(...fields) {
  process.stdout.write(fields.join('\t') + '\n');
}

// main runs a client's call with an overall bound, and reports how it ended.
export async function main(mode, play) {
  const [base, ...args] = process.argv.slice(2);
  if (!base || !/^http:\/\/[^/]+\/?$/.test(base)) {
    process.stderr.write(`usage: node ${mode}.mjs http://HOST:PORT [--script QUERY]\n`);
    process.exit(2);
  }
  const bound = setTimeout(() => {
    process.stderr.write(`${mode}: the call took longer than 120 s\n`);
    process.exit(1);
  }, 120000);
  try {
    const { script, student } = await loadScript(base, args);
    const { call, id } = await play(base.replace(/\/$/, ''), script);
    if (student !== null) await report(base, id, student, call.ownRecord());
    clearTimeout(bound);
    process.exit(0);
  } catch (err) {
    process.stderr.write(`${mode}: ${err instanceof Failure ? err.message : err.stack || err}\n`);
    process.exit(1);
  }
}
