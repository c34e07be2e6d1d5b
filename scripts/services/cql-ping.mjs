#!/usr/bin/env node
// Readiness probe for Cassandra used by scripts/services/services.sh.
// Speaks just enough of the CQL native protocol v4 (STARTUP, then one QUERY)
// to run `SELECT release_version FROM system.local`, with no npm dependency,
// so it works before `npm install` too. Prints the release version and exits 0,
// or prints the reason and exits 1.
//   node scripts/services/cql-ping.mjs [host] [port] [timeoutMs]
import net from 'node:net';

const host = process.argv[2] ?? '127.0.0.1';
const port = Number(process.argv[3] ?? 9042);
const timeoutMs = Number(process.argv[4] ?? 3000);

const OP = {
  ERROR: 0x00,
  STARTUP: 0x01,
  READY: 0x02,
  AUTHENTICATE: 0x03,
  QUERY: 0x07,
  RESULT: 0x08,
};

function frame(stream, opcode, body) {
  const header = Buffer.alloc(9);
  header.writeUInt8(0x04, 0); // protocol v4, request
  header.writeUInt8(0, 1); // flags
  header.writeInt16BE(stream, 2);
  header.writeUInt8(opcode, 4);
  header.writeInt32BE(body.length, 5);
  return Buffer.concat([header, body]);
}

function string(s) {
  const b = Buffer.from(s, 'utf8');
  const len = Buffer.alloc(2);
  len.writeUInt16BE(b.length);
  return Buffer.concat([len, b]);
}

function longString(s) {
  const b = Buffer.from(s, 'utf8');
  const len = Buffer.alloc(4);
  len.writeInt32BE(b.length);
  return Buffer.concat([len, b]);
}

function startupBody() {
  const count = Buffer.alloc(2);
  count.writeUInt16BE(1);
  return Buffer.concat([count, string('CQL_VERSION'), string('3.0.0')]);
}

function queryBody(cql) {
  const tail = Buffer.alloc(3);
  tail.writeUInt16BE(0x0001, 0); // consistency ONE
  tail.writeUInt8(0, 2); // no query flags
  return Buffer.concat([longString(cql), tail]);
}

class Reader {
  constructor(buf) {
    this.buf = buf;
    this.pos = 0;
  }
  int() {
    const v = this.buf.readInt32BE(this.pos);
    this.pos += 4;
    return v;
  }
  short() {
    const v = this.buf.readUInt16BE(this.pos);
    this.pos += 2;
    return v;
  }
  string() {
    const n = this.short();
    const s = this.buf.toString('utf8', this.pos, this.pos + n);
    this.pos += n;
    return s;
  }
  bytes() {
    const n = this.int();
    if (n < 0) return null;
    const b = this.buf.subarray(this.pos, this.pos + n);
    this.pos += n;
    return b;
  }
}

// Parses a RESULT/Rows body whose columns are all simple types; returns the first cell.
function firstCell(body) {
  const r = new Reader(body);
  const kind = r.int();
  if (kind !== 0x0002) throw new Error(`unexpected result kind ${kind}`);
  const flags = r.int();
  const columns = r.int();
  if (flags & 0x0002) r.bytes(); // paging state
  const globalSpec = (flags & 0x0001) !== 0;
  if (globalSpec) {
    r.string();
    r.string();
  }
  for (let i = 0; i < columns; i++) {
    if (!globalSpec) {
      r.string();
      r.string();
    }
    r.string(); // column name
    const type = r.short();
    if (type === 0x0000) r.string(); // custom type class name
  }
  const rows = r.int();
  if (rows < 1) throw new Error('system.local returned no row');
  const cell = r.bytes();
  return cell === null ? null : cell.toString('utf8');
}

function errorMessage(body) {
  const r = new Reader(body);
  const code = r.int();
  return `server error 0x${code.toString(16)}: ${r.string()}`;
}

const socket = net.connect({ host, port });
const fail = (msg) => {
  console.error(`cql-ping ${host}:${port}: ${msg}`);
  socket.destroy();
  process.exit(1);
};
const timer = setTimeout(() => fail(`no answer within ${timeoutMs} ms`), timeoutMs);
socket.on('error', (err) => fail(err.message));
socket.on('close', () => fail('connection closed'));

let pending = Buffer.alloc(0);
socket.on('connect', () => socket.write(frame(0, OP.STARTUP, startupBody())));
socket.on('data', (chunk) => {
  pending = Buffer.concat([pending, chunk]);
  while (pending.length >= 9) {
    const length = pending.readInt32BE(5);
    if (pending.length < 9 + length) return;
    const opcode = pending.readUInt8(4);
    const body = pending.subarray(9, 9 + length);
    pending = pending.subarray(9 + length);
    if (opcode === OP.ERROR) return fail(errorMessage(body));
    if (opcode === OP.AUTHENTICATE) {
      // Authentication is on: the node answers CQL, which is all this probe checks.
      clearTimeout(timer);
      console.log('unknown (authentication required)');
      socket.removeAllListeners('close');
      socket.destroy();
      return process.exit(0);
    }
    if (opcode === OP.READY) {
      socket.write(frame(1, OP.QUERY, queryBody('SELECT release_version FROM system.local')));
    } else if (opcode === OP.RESULT) {
      let version;
      try {
        version = firstCell(body);
      } catch (err) {
        return fail(err.message);
      }
      clearTimeout(timer);
      console.log(version);
      socket.removeAllListeners('close');
      socket.destroy();
      return process.exit(0);
    } else {
      return fail(`unexpected opcode 0x${opcode.toString(16)}`);
    }
  }
});
