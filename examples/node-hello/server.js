// The node-hello app: one HTTP server that says which Node, host and Machine answered.
import { createServer } from 'node:http';
import { hostname } from 'node:os';
import { greet } from 'greeting';

const port = Number(process.env.PORT ?? 8080);

const server = createServer((req, res) => {
  const body = {
    message: greet(process.env.FLY_APP_NAME ?? 'node-hello'),
    node: process.version,
    hostname: hostname(),
    machine: process.env.FLY_MACHINE_ID ?? null,
    region: process.env.FLY_REGION ?? null,
    uid: process.getuid?.() ?? null,
    env: process.env.NODE_ENV ?? null,
    path: req.url,
  };
  res.writeHead(200, { 'content-type': 'application/json' });
  res.end(`${JSON.stringify(body)}\n`);
});

// Node as PID 1 gets no default signal handling: without these a stop would wait for SIGKILL.
for (const signal of ['SIGTERM', 'SIGINT']) {
  process.on(signal, () => server.close(() => process.exit(0)));
}

server.listen(port, '::', () => console.log(`node-hello listening on ${port}`));
