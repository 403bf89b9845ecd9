import type { IncomingHttpHeaders } from 'node:http';
import type { RouteEntry } from '../route-entry.ts';

/** How a request's fly-*-region / fly-*-instance-id headers steer the choice of Machine. */
export interface Steering {
  /** fly-force-region: only Machines of this region, else an error. */
  forceRegion?: string;
  /** fly-force-instance-id: only this Machine, else an error. */
  forceInstance?: string;
  /** fly-prefer-region: this region when it has a Machine that can take the request. */
  preferRegion?: string;
  /** fly-prefer-instance-id: this Machine when it can take the request. */
  preferInstance?: string;
}

/** A bad steering header: which one, and what it held. */
export interface SteeringError {
  header: string;
  rule: string;
  value: string;
}

const REGION = /^[a-z0-9-]{1,32}$/;
const INSTANCE = /^[A-Za-z0-9_-]{1,64}$/;

const HEADERS = [
  ['fly-force-region', 'forceRegion', REGION, 'a region name such as "ams"'],
  ['fly-force-instance-id', 'forceInstance', INSTANCE, 'a Machine ID such as "3d8d413b29d089"'],
  ['fly-prefer-region', 'preferRegion', REGION, 'a region name such as "ams"'],
  ['fly-prefer-instance-id', 'preferInstance', INSTANCE, 'a Machine ID such as "3d8d413b29d089"'],
] as const;

/**
 * Reads the steering headers. Region names are matched in lowercase (Fly's codes are
 * lowercase; clients send "AMS" too). A header sent twice with different values, or
 * a value that is no region or Machine ID, is an error: guessing would route the
 * request somewhere the client did not ask for.
 */
export function readSteering(headers: IncomingHttpHeaders): Steering | SteeringError | undefined {
  let steering: Steering | undefined;
  for (const [header, field, pattern, rule] of HEADERS) {
    const raw = headers[header];
    if (raw === undefined) continue;
    const joined = Array.isArray(raw) ? raw.join(',') : raw;
    const values = [...new Set(joined.split(',').map((v) => v.trim()))];
    let value = values.length === 1 ? values[0]! : joined;
    if (pattern === REGION) value = value.toLowerCase();
    if (!pattern.test(value)) return { header, rule, value: joined };
    steering ??= {};
    steering[field] = value;
  }
  return steering;
}

/** True when `value` is a SteeringError. */
export function isSteeringError(value: Steering | SteeringError | undefined): value is SteeringError {
  return value !== undefined && 'header' in value;
}

/** The candidates a forcing header allows (all of them when nothing is forced). */
export function forcedCandidates(candidates: readonly RouteEntry[], steering: Steering | undefined): readonly RouteEntry[] {
  if (steering === undefined) return candidates;
  const { forceRegion, forceInstance } = steering;
  if (forceRegion === undefined && forceInstance === undefined) return candidates;
  return candidates.filter(
    (c) => (forceRegion === undefined || c.region === forceRegion) && (forceInstance === undefined || c.machineId === forceInstance),
  );
}
