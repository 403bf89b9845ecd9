import { Hono } from 'hono';
import { z } from 'zod';
import { AloftError } from '../../lib/errors.ts';
import type { HostControl } from '../../agent/host-control.ts';
import type { MachineLogLine } from '../../agent/logs/index.ts';
import type { MachineOps } from '../machine-ops.ts';
import { documentRoute } from '../openapi/registry.ts';
import { errorResponseSchema } from '../schemas/index.ts';
import { parseInput } from '../validate.ts';

/** `GET …/logs`'s query: how many of the kept lines, and whether to follow new ones. */
export const logsQuerySchema = z.object({
  tail: z.coerce.number().int().min(1).max(10_000).optional().meta({ description: 'The last N lines kept by the host (default: all it keeps, 1000)' }),
  follow: z.enum(['true', 'false', '1', '0']).optional().meta({ description: 'Stream new lines as NDJSON (application/x-ndjson) until the client goes away' }),
});

export const machineLogLineSchema = z
  .object({
    timestamp: z.string().meta({ description: 'When the host read the line (ISO 8601, ms, UTC)' }),
    machine_id: z.string(),
    message: z.string(),
    truncated: z.literal(true).optional().meta({ description: 'The line was longer than 16 KiB; its end was dropped' }),
  })
  .meta({ title: 'MachineLogLine' });

const error = (description: string): { description: string; schema: z.ZodType } => ({ description, schema: errorResponseSchema });

documentRoute({
  method: 'get',
  path: '/apps/{app_name}/machines/{machine_id}/logs',
  operationId: 'Machines_logs',
  summary: "The machine's output (process stdout/stderr, a microVM's serial console), line by line. aloft's addition: Fly serves logs elsewhere.",
  tags: ['Machines'],
  query: logsQuerySchema,
  responses: {
    200: { description: 'The last lines, oldest first; with follow=true one JSON line each as they come (application/x-ndjson)', schema: z.array(machineLogLineSchema) },
    400: error('Bad tail or follow'),
    404: error('No such app or machine'),
    503: error('The machine’s host cannot be reached'),
  },
});

/** `/v1/apps/:app/machines/:id/logs`: the lines the Machine's host kept, or a stream of new ones. */
export function machineLogRoutes(ops: MachineOps, hostControl: HostControl | undefined): Hono {
  const routes = new Hono();

  routes.get('/:app/machines/:id/logs', async (c) => {
    const machine = await ops.requireMachine(c.req.param('app'), c.req.param('id'));
    const query = parseInput(logsQuerySchema, c.req.query(), 'read machine logs');
    if (!hostControl) throw new AloftError('HOST_UNAVAILABLE', 'Cannot read machine logs as this API has no way to reach their hosts');
    const target = { hostId: machine.hostId, machineId: machine.id };
    const tail = query.tail === undefined ? {} : { tail: query.tail };
    if (query.follow !== 'true' && query.follow !== '1') {
      const lines: MachineLogLine[] = [];
      for await (const line of hostControl.logs(target, tail)) lines.push(line);
      return c.json(lines);
    }
    // A destroyed Machine has no more lines to come: its stream ends after what is kept.
    const follow = machine.state !== 'destroyed';
    return new Response(ndjson(hostControl, target, { ...tail, follow }, c.req.raw.signal), {
      headers: { 'content-type': 'application/x-ndjson', 'cache-control': 'no-store' },
    });
  });

  return routes;
}

/**
 * The follow stream: one JSON line per log line until the client goes away (the server
 * cancels the body, or the request's signal aborts), which aborts the host's follow so
 * nothing is left subscribed.
 */
function ndjson(hostControl: HostControl, target: { hostId: string; machineId: string }, read: { tail?: number; follow: boolean }, request: AbortSignal): ReadableStream<Uint8Array> {
  const done = new AbortController();
  const abort = (): void => done.abort();
  request.addEventListener('abort', abort, { once: true });
  const lines = hostControl.logs(target, { ...read, signal: done.signal })[Symbol.asyncIterator]();
  const encoder = new TextEncoder();
  const finish = (): void => {
    request.removeEventListener('abort', abort);
    done.abort();
  };
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      const next = await lines.next().catch((err: unknown) => {
        finish();
        controller.error(err);
        return undefined;
      });
      if (next === undefined) return;
      if (next.done) {
        finish();
        tryClose(controller);
        return;
      }
      controller.enqueue(encoder.encode(`${JSON.stringify(next.value)}\n`));
    },
    async cancel() {
      finish();
      await lines.return?.();
    },
  });
}

function tryClose(controller: ReadableStreamDefaultController<Uint8Array>): void {
  try {
    controller.close();
  } catch {
    // Already cancelled by the client: nothing to close.
  }
}
