import type { Machine } from '../../model/index.ts';
import type { ReadKv } from './transaction.ts';

/**
 * How records become etcd values and back: JSON, with Buffers as `{"$b64": "…"}` (the
 * secret store's ciphertexts) so they come back as Buffers.
 */

export function encode(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) => {
    // JSON.stringify has already called Buffer#toJSON by the time a replacer sees it.
    if (isBufferJson(v)) return { $b64: Buffer.from(v.data).toString('base64') };
    return v;
  });
}

export function decode<T>(value: Buffer | string): T {
  return JSON.parse(value.toString(), (_key, v: unknown) => {
    if (typeof v === 'object' && v !== null && '$b64' in v && typeof (v as { $b64: unknown }).$b64 === 'string' && Object.keys(v).length === 1) {
      return Buffer.from((v as { $b64: string }).$b64, 'base64');
    }
    return v;
  }) as T;
}

/** Decodes a read key/value, or undefined for an absent one. */
export function decodeKv<T>(kv: ReadKv | undefined): T | undefined {
  return kv === undefined ? undefined : decode<T>(kv.value);
}

function isBufferJson(v: unknown): v is { type: 'Buffer'; data: number[] } {
  return typeof v === 'object' && v !== null && (v as { type?: unknown }).type === 'Buffer' && Array.isArray((v as { data?: unknown }).data);
}

/**
 * A machine as every Store returns it: `cordoned` only while true, so records read as
 * they were written (the SQLite store's column reads back the same way).
 */
export function normalizeMachine(machine: Machine): Machine {
  const { cordoned, ...rest } = machine;
  return cordoned === true ? { ...rest, cordoned: true } : rest;
}
