import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough, type Readable } from 'node:stream';
import { text } from 'node:stream/consumers';
import { after, test } from 'node:test';
import { ReplayBody } from './body.ts';

const dir = mkdtempSync(join(tmpdir(), 'aloft-body-test-'));
after(() => rmSync(dir, { recursive: true, force: true }));

async function readAll(stream: Readable): Promise<string> {
  return text(stream);
}

test('a small body streams live, then replays from memory as many times as asked', async () => {
  const client = new PassThrough();
  const body = new ReplayBody(client, { memoryBytes: 1024, capBytes: 4096, spoolDir: dir });
  const live = body.current();
  assert.equal(body.current(), live, 'an unread live copy is offered again (connect retries)');
  client.end('hello world');
  assert.equal(await readAll(live), 'hello world');
  assert.equal(await body.rewind(), 'ready');
  assert.equal(body.spoolPath, undefined);
  assert.equal(await readAll(body.current()), 'hello world');
  assert.equal(await readAll(body.current()), 'hello world');
  await body.dispose();
});

test('past the memory threshold the rest goes to a temp file, deleted by dispose', async () => {
  const client = new PassThrough();
  const body = new ReplayBody(client, { memoryBytes: 10, capBytes: 1000, spoolDir: dir });
  body.current().resume();
  client.write('0123456789');
  client.write('abcdefghij');
  client.end('KLMNOP');
  assert.equal(await body.rewind(), 'ready');
  const path = body.spoolPath!;
  assert.ok(existsSync(path));
  assert.equal(await readAll(body.current()), '0123456789abcdefghijKLMNOP');
  await body.dispose();
  assert.equal(existsSync(path), false);
});

test('a body over the cap is not kept (declared or discovered) and cannot be rewound', async () => {
  const declared = new ReplayBody(new PassThrough(), { memoryBytes: 10, capBytes: 100, spoolDir: dir }, 101);
  assert.equal(await declared.rewind(), 'too-large');
  const client = new PassThrough();
  const body = new ReplayBody(client, { memoryBytes: 10, capBytes: 100, spoolDir: dir });
  const live = body.current();
  const got = readAll(live);
  client.write(Buffer.alloc(60, 'a'));
  client.end(Buffer.alloc(60, 'b'));
  assert.equal((await got).length, 120, 'the first Machine still gets all of it');
  assert.equal(await body.rewind(), 'too-large');
  assert.equal(body.spoolPath, undefined);
  await body.dispose();
});

test('rewind waits for the rest of the body, and reports a client that left', async () => {
  const client = new PassThrough();
  const body = new ReplayBody(client, { memoryBytes: 1024, capBytes: 4096, spoolDir: dir });
  client.write('part one, ');
  const rewound = body.rewind();
  client.end('part two');
  assert.equal(await rewound, 'ready');
  assert.equal(await readAll(body.current()), 'part one, part two');
  const leaving = new PassThrough();
  const gone = new ReplayBody(leaving, { memoryBytes: 1024, capBytes: 4096, spoolDir: dir });
  leaving.write('half');
  const result = gone.rewind();
  leaving.destroy();
  assert.equal(await result, 'gone');
});
