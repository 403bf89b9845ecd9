import { z } from 'zod';
import { machineConfigSchema, PERSISTENT_STATES, TERMINAL_STATES, TRANSIENT_STATES } from '../../model/index.ts';

export const machineStateSchema = z.enum([...PERSISTENT_STATES, ...TRANSIENT_STATES, ...TERMINAL_STATES]);

/** One entry of a Machine's history: Fly's `MachineEvent`. */
export const machineEventResponseSchema = z
  .object({
    id: z.string(),
    type: z.string(),
    status: z.string(),
    source: z.string(),
    timestamp: z.number().int().meta({ description: 'Milliseconds since the epoch.' }),
    request: z.record(z.string(), z.unknown()).optional(),
  })
  .meta({ title: 'MachineEvent' });

/** A Machine as the API renders it (src/api/render.ts `renderMachine`): Fly's `Machine`. */
export const machineResponseSchema = z
  .object({
    id: z.string(),
    name: z.string(),
    state: machineStateSchema,
    region: z.string(),
    instance_id: z.string(),
    private_ip: z.string(),
    config: machineConfigSchema,
    image_ref: z.object({
      registry: z.string(),
      repository: z.string(),
      tag: z.string(),
      digest: z.string(),
      labels: z.record(z.string(), z.string()),
    }),
    created_at: z.string().meta({ description: 'RFC 3339 time.' }),
    updated_at: z.string().meta({ description: 'RFC 3339 time.' }),
    events: z.array(machineEventResponseSchema),
    checks: z
      .array(
        z.object({
          name: z.string(),
          status: z.enum(['passing', 'warning', 'critical']),
          output: z.string(),
          updated_at: z.string().meta({ description: 'RFC 3339 time of the last status change.' }),
        }),
      )
      .meta({ description: "The latest status of each health check the Machine's host runs (Fly's CheckStatus)." }),
    host_status: z.enum(['ok', 'unknown', 'unreachable']),
    nonce: z.string().optional().meta({ description: "The lease's nonce, only on create with `lease_ttl`." }),
  })
  .meta({ title: 'Machine' });

/** `GET /v1/apps/{app}/machines`. */
export const listMachinesResponseSchema = z.array(machineResponseSchema);

/** `POST …/start`: Fly answers with the state the Machine was in. */
export const startResponseSchema = z.object({ ok: z.literal(true), previous_state: machineStateSchema }).meta({ title: 'StartResponse' });

/** `GET …/wait`: the state reached. */
export const waitResponseSchema = z.object({ ok: z.literal(true), state: machineStateSchema }).meta({ title: 'WaitResponse' });
