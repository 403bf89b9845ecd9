import type { App, Machine, MachineCheckStatus, MachineEvent } from '../model/index.ts';

/** A Machine in Fly's `Machine` response shape (fly-machines-openapi.yaml). */
export function renderMachine(machine: Machine, events: MachineEvent[] = []): Record<string, unknown> {
  return {
    id: machine.id,
    name: machine.name,
    state: machine.state,
    region: machine.region,
    instance_id: machine.instanceId,
    private_ip: machine.addresses?.ipv6 ?? '',
    config: machine.config,
    image_ref: { ...machine.imageRef, labels: {} },
    created_at: new Date(machine.createdAt).toISOString(),
    updated_at: new Date(machine.updatedAt).toISOString(),
    events: events.map(renderEvent),
    checks: (machine.checks ?? []).map(renderCheck),
    host_status: 'ok',
  };
}

/** A check's status in Fly's `CheckStatus` shape. */
export function renderCheck(check: MachineCheckStatus): Record<string, unknown> {
  return { name: check.name, status: check.status, output: check.output, updated_at: new Date(check.updatedAt).toISOString() };
}

export function renderEvent(event: MachineEvent): Record<string, unknown> {
  return {
    id: event.id,
    type: event.type,
    status: event.status,
    source: event.source,
    timestamp: event.timestamp,
    ...(event.request ? { request: event.request } : {}),
  };
}

/** An App in Fly's `App` shape. */
export function renderApp(app: App, machineCount?: number): Record<string, unknown> {
  return {
    id: app.id,
    name: app.name,
    status: app.status,
    organization: { name: app.orgSlug, slug: app.orgSlug },
    // Fly's ListApp has `network` as an object; the number is the org's 6PN network.
    network: { id: app.network },
    ...(machineCount === undefined ? {} : { machine_count: machineCount }),
  };
}
