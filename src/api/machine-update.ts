import { z } from 'zod';
import { AloftError, formatValue } from '../lib/errors.ts';
import { instanceId } from '../lib/ids.ts';
import { machineConfigSchema, machineEvent, type Machine, type MachineState } from '../model/index.ts';
import type { MachineVersion, Store } from '../store/store.ts';
import type { ImageResolver } from './machine-ops.ts';
import { refuseUnless } from './transitions.ts';
import { parseInput } from './validate.ts';

/** Fly's `UpdateMachineRequest`: a full config; name and region may be sent but not changed. */
export const updateMachineRequestSchema = z.looseObject({
  config: machineConfigSchema,
  name: z.string().optional(),
  region: z.string().optional(),
  skip_launch: z.boolean().optional(),
  skip_service_registration: z.boolean().optional(),
  current_version: z.string().optional(),
  lease_ttl: z.number().int().min(0).optional(),
});

/** Updates are taken only at rest: mid-transition the agent is acting on the old version. */
const UPDATABLE: readonly MachineState[] = ['created', 'started', 'stopped', 'suspended', 'failed'];
/** States whose process must be replaced by the new version's. */
const RUNNING: readonly MachineState[] = ['started', 'suspended'];

/**
 * Replaces a Machine's config (Fly's update). The new config gets a new `instance_id`;
 * the store keeps the old version as replaced. A running (or suspended) Machine, and a
 * resting one unless `skip_launch`, goes to `updating`: the agent stops whatever runs,
 * prepares the new version and starts it, then records `started`.
 */
export async function updateMachine(deps: { store: Store; images: ImageResolver }, machine: Machine, body: unknown): Promise<Machine> {
  const request = parseInput(updateMachineRequestSchema, body, 'update machine');
  for (const [field, now] of [['name', machine.name], ['region', machine.region]] as const) {
    const asked = request[field];
    if (asked !== undefined && asked !== now) {
      throw new AloftError('INVALID_ARGUMENT', `Cannot update machine ${machine.id} as '${field}' must stay ${formatValue(now)}: got ${formatValue(asked)}`, {
        details: { field },
      });
    }
  }
  if (request.current_version !== undefined && request.current_version !== machine.instanceId) {
    throw new AloftError(
      'STORE_CONFLICT',
      `Cannot update machine ${machine.id} as 'current_version' must be its live version ${formatValue(machine.instanceId)}: got ${formatValue(request.current_version)}`,
      { details: { field: 'current_version' } },
    );
  }
  refuseUnless('update', machine, UPDATABLE);
  const image = await deps.images.resolve(request.config.image);
  const restart = RUNNING.includes(machine.state) || request.skip_launch !== true;
  const next = instanceId(Date.now());
  return deps.store.updateMachine(machine.id, {
    action: 'update',
    patch: {
      config: request.config,
      instanceId: next,
      imageRef: { registry: image.registry, repository: image.repository, tag: image.tag, digest: image.digest },
      ...(restart ? { state: 'updating' as const } : {}),
    },
    expectVersion: machine.version,
    events: [machineEvent('update', 'requested', 'user', { instance_id: next, replaces: machine.instanceId, restart })],
  });
}

/** A version in Fly's `MachineVersion` shape, plus when it was made and replaced. */
export function renderVersion(version: MachineVersion): Record<string, unknown> {
  return {
    version: version.instanceId,
    user_config: version.config,
    created_at: new Date(version.createdAt).toISOString(),
    ...(version.replacedAt === undefined ? {} : { replaced_at: new Date(version.replacedAt).toISOString() }),
  };
}
