import assert from 'node:assert/strict';
import { test } from 'node:test';
import { appFromHost, requestTarget } from './host.ts';

test('a host names the app one label under the domain, any case, with or without a port', () => {
  assert.equal(appFromHost('hello.localhost', 'localhost'), 'hello');
  assert.equal(appFromHost('Hello.LocalHost:8080', 'localhost'), 'hello');
  assert.equal(appFromHost('my-app.example.com.', 'example.com'), 'my-app');
  assert.equal(appFromHost('my-app.example.com:443', 'Example.COM'), 'my-app');
});

test('hosts outside the domain, nested or empty labels and IP literals name no app', () => {
  for (const host of ['localhost', 'example.com', 'a.b.localhost', '.localhost', '-x.localhost', '[::1]:8080', '127.0.0.1', '', undefined]) {
    assert.equal(appFromHost(host, 'localhost'), undefined, String(host));
  }
  assert.equal(appFromHost('hello.notlocalhost', 'localhost'), undefined);
});

test('an absolute-form request target wins over the Host header', () => {
  assert.deepEqual(requestTarget('/a?b=1', 'x.localhost'), { host: 'x.localhost', path: '/a?b=1' });
  assert.deepEqual(requestTarget('http://y.localhost:81/p?q', 'x.localhost'), { host: 'y.localhost:81', path: '/p?q' });
});
