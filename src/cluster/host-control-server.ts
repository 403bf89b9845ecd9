import { timingSafeEqual } from 'node:crypto';
import { Hono } from 'hono';
import { z } from 'zod';
import type { HostControl, MachineTarget } from '../agent/host-control.ts';
import { listenApi } from '../api/server.ts';
import { AloftError, toAloftError } from '../lib/errors.ts';
import { silentLogger, type Logger } from '../lib/log.ts';

/** What one exec may ask: the same bounds the API checks, checked again at the host. */
const execBodySchema = z.object({
  args: z.array(z.string()).min(1),
  timeoutMs: z.number().int().min(1).max(3_600_000),
  env: z.record(z.string(), z.string()).optional(),
});
const signalBodySchema = z.object({ signal: z.string().regex(/^SIG[A-Z0-9]+$/) });
const logsQuerySchema = z.object({
  tail: z.coerce.number().int().min(1).max(10_000).optional(),
  follow: z.enum(['true', 'false']).optional(),
});

/** The RPC's paths, shared with the client (host-control-client.ts). */
export function hostControlPath(target: MachineTarget, action: 'signal' | 'exec' | 'ps' | 'logs'): string {
  return `/v1/hosts/${encodeURIComponent(target.hostId)}/machines/${encodeURIComponent(target.machineId)}/${action}`;
}

/**
 * The agent's HostControl RPC: what the API asks of a Machine's host over HTTP (signal,
 * exec, ps, logs as NDJSON), served by the host's own LocalHostControl (which refuses a
 * Machine of another host). Only the operator token may call it: exec runs as root in
 * any Machine, so no app or org token ever reaches it.
 */
export function hostControlApp(control: HostControl, token: string, log: Logger = silentLogger): Hono {
  const app = new Hono();
  const expected = Buffer.from(`Bearer ${token}`);
  app.use('*', async (c, next) => {
    const given = Buffer.from(c.req.header('authorization') ?? '');
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) {
      throw new AloftError('UNAUTHORIZED', "Cannot call the host control as 'Authorization' must be the operator's bearer token: got a missing or wrong one");
    }
    await next();
  });
  const target = (c: { req: { param(name: string): string } }): MachineTarget => ({ hostId: c.req.param('host'), machineId: c.req.param('id') });

  app.post('/v1/hosts/:host/machines/:id/signal', async (c) => {
    const body = parse(signalBodySchema, await c.req.json().catch(() => undefined), 'signal machine');
    await control.signal(target(c), body.signal);
    return c.json({ ok: true });
  });
  app.post('/v1/hosts/:host/machines/:id/exec', async (c) => {
    const body = parse(execBodySchema, await c.req.json().catch(() => undefined), 'exec in machine');
    return c.json(await control.exec(target(c), body.env === undefined ? { args: body.args, timeoutMs: body.timeoutMs } : { args: body.args, timeoutMs: body.timeoutMs, env: body.env }));
  });
  app.get('/v1/hosts/:host/machines/:id/ps', async (c) => c.json(await control.ps(target(c))));
  app.get('/v1/hosts/:host/machines/:id/logs', (c) => {
    const query = parse(logsQuerySchema, c.req.query(), 'read machine logs');
    const done = new AbortController();
    c.req.raw.signal.addEventListener('abort', () => done.abort(), { once: true });
    const lines = control.logs(target(c), { ...(query.tail === undefined ? {} : { tail: query.tail }), follow: query.follow === 'true', signal: done.signal })[Symbol.asyncIterator]();
    const encoder = new TextEncoder();
    const body = new ReadableStream<Uint8Array>({
      async pull(controller) {
        try {
          const next = await lines.next();
          if (next.done) controller.close();
          else controller.enqueue(encoder.encode(`${JSON.stringify(next.value)}\n`));
        } catch (err) {
          // Headers are gone: the error travels as the last line, which the client raises.
          const error = toAloftError(err);
          controller.enqueue(encoder.encode(`${JSON.stringify({ error: error.message, code: error.code })}\n`));
          controller.close();
        }
      },
      cancel() {
        done.abort();
        void lines.return?.();
      },
    });
    return new Response(body, { headers: { 'content-type': 'application/x-ndjson', 'cache-control': 'no-store' } });
  });

  app.notFound((c) => c.json({ error: `Cannot ${c.req.method} ${c.req.path}: no such route`, code: 'NOT_FOUND' }, 404));
  app.onError((err, c) => {
    const error = toAloftError(err);
    if (error.kind === 'system') log.error({ err, path: c.req.path }, 'host control request failed');
    return c.json({ error: error.message, code: error.code, ...(error.details ? { details: error.details } : {}) }, error.status as 500);
  });
  return app;
}

/** Serves the RPC on host:port (0: any free port); ALREADY_RUNNING when the port is taken. */
export async function listenHostControl(control: HostControl, options: { token: string; host: string; port: number; log?: Logger }): Promise<{ port: number; close(): Promise<void> }> {
  return listenApi(hostControlApp(control, options.token, options.log), { host: options.host, port: options.port });
}

function parse<T>(schema: z.ZodType<T>, value: unknown, action: string): T {
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  const issue = result.error.issues[0];
  const field = issue?.path.join('.') || 'body';
  throw new AloftError('INVALID_ARGUMENT', `Cannot ${action} as '${field}' must be valid (${issue?.message ?? 'invalid'}): got ${JSON.stringify(value)?.slice(0, 200) ?? 'nothing'}`, { details: { field } });
}
