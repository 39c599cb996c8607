// A raw TCP client for duplexdemo serve, written from the protocol's notes
// alone (the raw TCP call: its upgrade, its lines, the goodbye and the
// record after the farewell), with nothing but Node's net module:
//
//   node tcp.mjs http://127.0.0.1:8080 [--script QUERY]
//
// One TCP connection; one HTTP/1.1 request asks grandma to switch it to
// lines (Upgrade: duplexdemo-lines), and nothing more is written until her
// 101 has been read to its blank line. Then each line is its text and a
// newline, written the moment it is wanted, while her lines are read as
// they come. After the goodbye the client half-closes and reads her
// farewell, her record (the line after it) and the end of her stream. The
// call is named in the query, so that it can be reported to the class.

import net from 'node:net';

import { CALL_PARAM, Call, MAX_RECORD, RECORD_PREFIX, VERSION, VERSION_HEADER, fail, main, newCallID } from './common.mjs';

const PROTOCOL = 'duplexdemo-lines';
// Bounds of the client's own waits, generous: a classroom server may be busy.
const ANSWER_WAIT_MS = 25000; // for the 101
const HEAD_MAX = 8192; // her answer's head
const LINE_MAX = 4096; // one of her lines
const SILENCE_MS = 30000; // between two of her lines

main('tcp', async (base, script) => {
  const call = new Call(script);
  const id = newCallID();
  const [first, ...rest] = script.cues;
  await call.due(first);
  const opening = call.want(first); // it goes once grandma has switched to lines
  const url = new URL(base);
  const sock = net.connect({ host: url.hostname, port: Number(url.port || 80), allowHalfOpen: true });
  sock.setNoDelay(true);
  try {
    await new Promise((resolve, reject) => {
      let buf = Buffer.alloc(0);
      let switched = false; // her 101 has been read
      let saidGoodbye = false;
      let farewell = false;
      let done = false;
      const end = (err) => {
        if (done) return;
        done = true;
        clearTimeout(answerTimer);
        sock.setTimeout(0);
        if (err) {
          reject(err);
          sock.destroy();
        } else {
          resolve();
          sock.end();
        }
      };
      const guard = (fn) => (...args) => {
        try {
          fn(...args);
        } catch (err) {
          end(err);
        }
      };
      const say = (line) => {
        call.said_(line);
        sock.write(line.text + '\n');
        if (line.label === 'goodbye') {
          saidGoodbye = true;
          sock.end(); // a half-close: her farewell and record still come
        }
      };
      const answerTimer = setTimeout(() => end(new Error(`grandma did not answer the upgrade within ${ANSWER_WAIT_MS} ms`)), ANSWER_WAIT_MS);

      // answer reads her answer to the upgrade, once its head is whole.
      const answer = () => {
        const at = buf.indexOf('\r\n\r\n');
        if (at < 0) {
          if (buf.length > HEAD_MAX) fail(`grandma's answer to the upgrade has a head over ${HEAD_MAX} bytes`);
          return;
        }
        const [status, ...fields] = buf.subarray(0, at).toString('latin1').split('\r\n');
        const headers = new Map(fields.map((f) => {
          const i = f.indexOf(':');
          return [f.slice(0, i).trim().toLowerCase(), f.slice(i + 1).trim()];
        }));
        const version = headers.get(VERSION_HEADER.toLowerCase());
        if (version === undefined) fail(`${url.host} is not duplexdemo serve: it answered ${status}`);
        if (version !== String(VERSION)) fail(`the server speaks protocol ${version}; this client speaks ${VERSION}`);
        if (!/^HTTP\/1\.1 101 /.test(status)) {
          const why = buf.subarray(at + 4).toString('utf8').split('\n')[0];
          fail(`grandma answered ${status.slice('HTTP/1.1 '.length)}: ${why}`);
        }
        if ((headers.get('upgrade') || '').toLowerCase() !== PROTOCOL) fail(`grandma switched to ${headers.get('upgrade')}, not ${PROTOCOL}`);
        switched = true;
        clearTimeout(answerTimer);
        buf = buf.subarray(at + 4);
        sock.setTimeout(SILENCE_MS);
        say(opening);
        (async () => {
          for (const cue of rest) {
            await call.due(cue);
            if (done) return;
            say(call.want(cue));
          }
        })().catch(end);
      };

      // lines hears each whole line that has come.
      const lines = () => {
        for (;;) {
          const nl = buf.indexOf(0x0a);
          const max = farewell ? MAX_RECORD : LINE_MAX;
          if (nl < 0) {
            if (buf.length > max) fail(`grandma sent a line over ${max} bytes`);
            return;
          }
          if (nl > max) fail(`grandma sent a line over ${max} bytes`);
          const text = buf.subarray(0, nl).toString('utf8');
          buf = buf.subarray(nl + 1);
          if (call.record !== null) fail('grandma said something after her record');
          if (farewell) {
            if (!text.startsWith(RECORD_PREFIX)) fail(`grandma said ${JSON.stringify(text.slice(0, 80))} after her farewell; only her record may follow it`);
            call.takeRecord(text);
            continue;
          }
          farewell = call.hear(text) === 'farewell';
        }
      };

      sock.on('data', guard((chunk) => {
        buf = Buffer.concat([buf, chunk]);
        if (!switched) answer();
        if (switched) lines();
      }));
      sock.on('end', guard(() => {
        if (!switched) fail('grandma closed the connection before answering the upgrade');
        if (buf.length > 0) fail('grandma hung up in the middle of a line');
        if (!farewell) fail(`grandma hung up ${saidGoodbye ? 'after' : 'before'} the goodbye, without her farewell`);
        end();
      }));
      sock.on('timeout', () => end(new Error(`grandma said nothing for ${SILENCE_MS} ms`)));
      sock.on('error', (err) => end(new Error(`the connection to grandma failed: ${err.message}`)));
      sock.on('connect', guard(() => {
        const query = `${script.query}&${CALL_PARAM}=${id}`;
        sock.write(`GET /tcp?${query} HTTP/1.1\r\nHost: ${url.host}\r\nConnection: Upgrade\r\nUpgrade: ${PROTOCOL}\r\n${VERSION_HEADER}: ${VERSION}\r\n\r\n`);
      }));
    });
  } finally {
    sock.destroy();
  }
  call.finish('tcp');
  return { call, id };
});
