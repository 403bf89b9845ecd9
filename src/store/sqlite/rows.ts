import type { App, Machine, MachineEvent, Volume } from '../../model/index.ts';
import type { Change } from '../store.ts';
import type { HostRecord } from '../host-store.ts';
import type { AppIp, UserPeer } from '../peer-store.ts';

/** A row of `apps`, as SQLite returns it. */
export interface AppRow {
  name: string;
  id: string;
  org_slug: string;
  network: number;
  status: App['status'];
  created_at: number;
}

/** A row of `machines`; config, image_ref and addresses are JSON text. */
export interface MachineRow {
  id: string;
  name: string;
  app_name: string;
  region: string;
  host_id: string;
  state: Machine['state'];
  instance_id: string;
  config: string;
  image_ref: string;
  addresses: string | null;
  /** 1 while cordoned (migration 0002-machine-versions). */
  cordoned: number;
  /** JSON array of check statuses, or null (migration 0006-machine-checks). */
  checks: string | null;
  version: number;
  created_at: number;
  updated_at: number;
}

/** A row of `changes`; value is the JSON record for puts, null for deletes. */
export interface ChangeRow {
  revision: number;
  kind: Change['kind'];
  op: Change['op'];
  key: string;
  value: string | null;
}

/** The named parameters for inserting an app. */
export function appParams(app: App): AppRow {
  return {
    name: app.name,
    id: app.id,
    org_slug: app.orgSlug,
    network: app.network,
    status: app.status,
    created_at: app.createdAt,
  };
}

export function appFromRow(row: AppRow): App {
  return {
    id: row.id,
    name: row.name,
    orgSlug: row.org_slug,
    network: row.network,
    status: row.status,
    createdAt: row.created_at,
  };
}

/** The named parameters for inserting or replacing a machine. */
export function machineParams(machine: Machine): MachineRow {
  return {
    id: machine.id,
    name: machine.name,
    app_name: machine.appName,
    region: machine.region,
    host_id: machine.hostId,
    state: machine.state,
    instance_id: machine.instanceId,
    config: JSON.stringify(machine.config),
    image_ref: JSON.stringify(machine.imageRef),
    addresses: machine.addresses === null ? null : JSON.stringify(machine.addresses),
    cordoned: machine.cordoned === true ? 1 : 0,
    checks: machine.checks === undefined ? null : JSON.stringify(machine.checks),
    version: machine.version,
    created_at: machine.createdAt,
    updated_at: machine.updatedAt,
  };
}

export function machineFromRow(row: MachineRow): Machine {
  return {
    id: row.id,
    name: row.name,
    appName: row.app_name,
    region: row.region,
    hostId: row.host_id,
    state: row.state,
    instanceId: row.instance_id,
    config: JSON.parse(row.config) as Machine['config'],
    imageRef: JSON.parse(row.image_ref) as Machine['imageRef'],
    addresses: row.addresses === null ? null : (JSON.parse(row.addresses) as Machine['addresses']),
    // Only a cordoned Machine carries the flag, so records stay as they were written.
    ...(row.cordoned === 1 ? { cordoned: true } : {}),
    ...(row.checks === null ? {} : { checks: JSON.parse(row.checks) as NonNullable<Machine['checks']> }),
    version: row.version,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  };
}

export function eventFromJson(json: string): MachineEvent {
  return JSON.parse(json) as MachineEvent;
}

/** Rebuilds a Change from the log; the record in `value` is what was written then. */
export function changeFromRow(row: ChangeRow): Change {
  const { revision, key } = row;
  if (row.op === 'delete') return { revision, kind: row.kind, op: 'delete', key };
  const value: unknown = JSON.parse(row.value ?? 'null');
  if (row.kind === 'volume') return { revision, kind: 'volume', op: 'put', key, volume: value as Volume };
  if (row.kind === 'host') return { revision, kind: 'host', op: 'put', key, host: value as HostRecord };
  if (row.kind === 'peer') return { revision, kind: 'peer', op: 'put', key, peer: value as UserPeer };
  if (row.kind === 'ip') return { revision, kind: 'ip', op: 'put', key, ip: value as AppIp };
  return row.kind === 'app'
    ? { revision, kind: 'app', op: 'put', key, app: value as App }
    : { revision, kind: 'machine', op: 'put', key, machine: value as Machine };
}
