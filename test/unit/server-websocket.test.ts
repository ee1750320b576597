// Unit tests of server/websocket.ts's pure parts: the accept value, server frames, the client
// frame parser (masking, lengths, fragments, pieces), close payloads, and version comparison
// (binary frames from API 1.28 on). Client frames are built here by hand, not with the server's
// encoder, so that one does not check itself.
import { expect } from 'chai';
import { versionAtLeast } from '../../server/api-version.js';
import { acceptKey, closePayload, encodeFrame, FrameParser, OP, parseClosePayload, WebSocketProtocolError } from '../../server/websocket.js';

const KEY = Buffer.from([0x37, 0xfa, 0x21, 0x3d]);

/** A client frame, masked with KEY unless told otherwise. */
function frame(opcode: number, payload: Buffer | string, o: { fin?: boolean; masked?: boolean; rsv?: number } = {}): Buffer {
  const data = Buffer.from(payload);
  const n = data.length;
  const head = [((o.fin ?? true) ? 0x80 : 0) | (o.rsv ?? 0) | opcode];
  const m = (o.masked ?? true) ? 0x80 : 0;
  if (n < 126) head.push(m | n);
  else if (n < 65536) head.push(m | 126, n >> 8, n & 255);
  else head.push(m | 127, 0, 0, 0, 0, (n >>> 24) & 255, (n >> 16) & 255, (n >> 8) & 255, n & 255);
  if (!m) return Buffer.concat([Buffer.from(head), data]);
  return Buffer.concat([Buffer.from(head), KEY, Buffer.from(data.map((b, i) => b ^ KEY[i % 4]!))]);
}

function collect() {
  const data: Buffer[] = [];
  const control: [number, string][] = [];
  const parser = new FrameParser({ data: (p) => data.push(p), control: (op, p) => control.push([op, p.toString()]) });
  return { parser, data: () => Buffer.concat(data).toString(), pieces: data, control };
}

const code = (fn: () => void): number => {
  try {
    fn();
  } catch (e) {
    if (e instanceof WebSocketProtocolError) return e.code;
    throw e;
  }
  return 0;
};

describe('websocket: handshake and server frames', () => {
  it('computes the RFC 6455 example accept value', () => {
    expect(acceptKey('dGhlIHNhbXBsZSBub25jZQ==')).to.equal('s3pPLMBiTxaQ9kYGzzhZRbK+xOo=');
  });

  it('encodes 7-, 16- and 64-bit lengths, FIN set and no mask', () => {
    const small = encodeFrame(OP.binary, Buffer.from('hi'));
    expect([...small]).to.deep.equal([0x82, 2, 0x68, 0x69]);
    const mid = encodeFrame(OP.text, Buffer.alloc(300));
    expect([...mid.subarray(0, 4)]).to.deep.equal([0x81, 126, 1, 44]);
    expect(mid.length).to.equal(304);
    const big = encodeFrame(OP.binary, Buffer.alloc(70000));
    expect(big[1]).to.equal(127);
    expect(big.readBigUInt64BE(2)).to.equal(70000n);
    expect(big.length).to.equal(70010);
  });

  it('writes and reads close payloads', () => {
    expect(closePayload(undefined).length).to.equal(0);
    expect([...closePayload(1000, 'ok')]).to.deep.equal([0x03, 0xe8, 0x6f, 0x6b]);
    expect(closePayload(1001, 'x'.repeat(200)).length).to.equal(125);
    expect(parseClosePayload(Buffer.alloc(0))).to.deep.equal({ reason: '' });
    expect(parseClosePayload(closePayload(4000, 'app'))).to.deep.equal({ code: 4000, reason: 'app' });
    expect(code(() => parseClosePayload(Buffer.from([3])))).to.equal(1002);
    for (const bad of [999, 1004, 1005, 1006, 1015, 2000, 5000]) expect(code(() => parseClosePayload(closePayload(bad))), String(bad)).to.equal(1002);
    expect(code(() => parseClosePayload(Buffer.from([0x03, 0xe8, 0xff, 0xfe])))).to.equal(1007);
  });

  it('compares API versions (binary frames from 1.28)', () => {
    expect(versionAtLeast('1.40', '1.28')).to.equal(true);
    expect(versionAtLeast('1.28', '1.28')).to.equal(true);
    expect(versionAtLeast('1.27', '1.28')).to.equal(false);
    expect(versionAtLeast('1.9', '1.28')).to.equal(false);
    expect(versionAtLeast('2', '1.28')).to.equal(true);
  });
});

describe('websocket: client frame parser', () => {
  it('unmasks data frames of every length encoding', () => {
    for (const n of [0, 5, 125, 126, 65535, 65536, 100_000]) {
      const c = collect();
      const payload = Buffer.alloc(n, 0x61);
      c.parser.push(frame(OP.binary, payload));
      expect(Buffer.concat(c.pieces).equals(payload), String(n)).to.equal(true);
    }
  });

  it('parses frames fed one byte at a time, and several in one chunk', () => {
    const bytes = Buffer.concat([frame(OP.text, 'hello '), frame(OP.ping, 'p'), frame(OP.binary, 'world')]);
    const one = collect();
    for (const b of bytes) one.parser.push(Buffer.from([b]));
    expect(one.data()).to.equal('hello world');
    expect(one.control).to.deep.equal([[OP.ping, 'p']]);
    const all = collect();
    all.parser.push(bytes);
    expect(all.data()).to.equal('hello world');
  });

  it('passes a large frame on in pieces as they arrive, before it is complete', () => {
    const c = collect();
    const f = frame(OP.binary, Buffer.alloc(200_000, 0x62));
    c.parser.push(f.subarray(0, 1000));
    expect(c.pieces.length).to.equal(1);
    expect(c.pieces[0]!.length).to.equal(1000 - 14);
    c.parser.push(f.subarray(1000));
    expect(Buffer.concat(c.pieces).length).to.equal(200_000);
  });

  it('joins fragments, with control frames between them', () => {
    const c = collect();
    c.parser.push(Buffer.concat([frame(OP.text, 'a', { fin: false }), frame(OP.ping, ''), frame(OP.continuation, 'b', { fin: false }), frame(OP.continuation, 'c')]));
    expect(c.data()).to.equal('abc');
    c.parser.push(frame(OP.binary, 'd'));
    expect(c.data()).to.equal('abcd');
  });

  it('refuses what RFC 6455 forbids with the close code to answer', () => {
    const err = (...frames: Buffer[]) => code(() => collect().parser.push(Buffer.concat(frames)));
    expect(err(frame(OP.binary, 'x', { masked: false })), 'unmasked').to.equal(1002);
    expect(err(frame(OP.binary, 'x', { rsv: 0x40 })), 'rsv1').to.equal(1002);
    expect(err(frame(0x3, 'x')), 'reserved data opcode').to.equal(1002);
    expect(err(frame(0xb, 'x')), 'reserved control opcode').to.equal(1002);
    expect(err(frame(OP.ping, 'x', { fin: false })), 'fragmented ping').to.equal(1002);
    expect(err(frame(OP.ping, Buffer.alloc(126))), 'long ping').to.equal(1002);
    expect(err(frame(OP.continuation, 'x')), 'continuation first').to.equal(1002);
    expect(err(frame(OP.text, 'a', { fin: false }), frame(OP.text, 'b')), 'new message inside one').to.equal(1002);
    const huge = Buffer.from([0x82, 0xff, 0xff, 0, 0, 0, 0, 0, 0, 0, 1, 2, 3, 4]);
    expect(err(huge), '2^63 length').to.equal(1009);
  });
});
