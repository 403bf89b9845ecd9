// Run as a child process by server-close.test.ts: serves one keep-alive exchange and
// one request cut off by close(), closes everything, and must then exit on its own.
import { Agent } from 'node:http';
import { send } from './client.ts';
import { fakeApp, fakeMachine, startBackend } from './fixtures.ts';
import { startProxyWorld } from './world.ts';

let hung: () => void = () => {};
const arrived = new Promise<void>((resolve) => (hung = resolve));
const backend = await startBackend((req, res) => {
  if (req.url === '/hang') {
    res.writeHead(200);
    res.write('never ends');
    hung();
  } else res.end('ok');
});
const world = await startProxyWorld(
  (store) => {
    store.putApp(fakeApp('a'));
    store.putMachine(fakeMachine('a', backend.port, 'started'));
  },
  { closeGraceMs: 50 },
);
const agent = new Agent({ keepAlive: true });
const res = await send(world.port, { host: 'a.localhost', agent });
const stuck = send(world.port, { host: 'a.localhost', path: '/hang' }).catch(() => 'cut');
await arrived;
await world.close();
await backend.close();
agent.destroy();
process.stdout.write(`${res.text} ${await stuck}\n`);
