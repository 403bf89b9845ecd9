import { execFile } from 'node:child_process';
import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { AloftError } from '../../lib/errors.ts';
import { finishRestore, incomingUri, saveState } from './migrate.ts';
import { QmpClient } from './qmp.ts';
import type { Vmm, VmHandle, VmSpec } from './vmm.ts';

const execFileAsync = promisify(execFile);

/** What a snapshot dir holds; written last, so its presence means the snapshot is whole. */
export interface SnapshotManifest {
  /** The compressed device and memory state. */
  stateFile: string;
  /** For each writable disk of the spec: its path, and the copy taken with the memory. */
  disks: { path: string; copy: string }[];
  /** Bytes of guest RAM sent, how long the save took. */
  ramBytes: number;
  saveMs: number;
  createdAt: string;
}

const MANIFEST = 'snapshot.json';

/**
 * Suspends a VM to `dir`: stops its CPUs, copies its writable disks (reflinked where
 * the file system can), saves devices and memory compressed, writes the manifest, and
 * quits QEMU. A restore must find the disks as they were when memory was saved, or the
 * guest's page cache and its disk disagree; the copies guarantee that.
 */
export async function suspendVm(vmm: Vmm, handle: VmHandle, spec: VmSpec, dir: string): Promise<SnapshotManifest> {
  await rm(dir, { recursive: true, force: true });
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const qmp = await QmpClient.connect(handle.controlSocket);
  let manifest: SnapshotManifest;
  try {
    // Stopping flushes QEMU's block layer, so the disk files are final from here on.
    await qmp.execute('stop');
    const disks = spec.disks.filter((d) => d.readOnly !== true).map((d, i) => ({ path: d.path, copy: join(dir, `disk${i}.img`) }));
    for (const disk of disks) await copyFile(disk.path, disk.copy);
    const stateFile = join(dir, 'state.zst');
    const saved = await saveState(qmp, stateFile);
    manifest = { stateFile, disks, ramBytes: saved.bytes, saveMs: saved.ms, createdAt: new Date().toISOString() };
  } catch (err) {
    qmp.close();
    // The VM is stopped but whole: let it run on rather than lose it.
    await vmm.resume(handle).catch(() => undefined);
    await rm(dir, { recursive: true, force: true });
    throw err;
  }
  qmp.close();
  await writeFile(join(dir, `${MANIFEST}.tmp`), `${JSON.stringify(manifest)}\n`);
  await rename(join(dir, `${MANIFEST}.tmp`), join(dir, MANIFEST));
  await vmm.quit(handle, 10_000);
  return manifest;
}

/** The manifest of a whole snapshot in `dir`, or null when there is none. */
export async function readSnapshot(dir: string): Promise<SnapshotManifest | null> {
  const text = await readFile(join(dir, MANIFEST), 'utf8').catch(() => null);
  return text === null ? null : (JSON.parse(text) as SnapshotManifest);
}

/**
 * Resumes a VM suspended to `dir`: puts the saved disks back in place (a rename, not a
 * copy), boots the very same spec with `-incoming` and the CPUs stopped, waits for the
 * state to load, and `cont`s. `spec` must be the one it was suspended with (same
 * devices, memory, CPUs). The snapshot is consumed.
 */
export async function resumeVm(vmm: Vmm, spec: VmSpec, stateDir: string, dir: string): Promise<VmHandle> {
  const manifest = await readSnapshot(dir);
  if (manifest === null) throw new AloftError('VMM_FAILED', `Cannot resume VM as '${dir}' must hold a whole snapshot (${MANIFEST}): got none`);
  const writable = spec.disks.filter((d) => d.readOnly !== true).map((d) => d.path);
  if (JSON.stringify(writable) !== JSON.stringify(manifest.disks.map((d) => d.path))) {
    throw new AloftError('VMM_FAILED', `Cannot resume VM as its writable disks must be those it was suspended with: got ${JSON.stringify(writable)}, saved ${JSON.stringify(manifest.disks.map((d) => d.path))}`);
  }
  for (const disk of manifest.disks) await rename(disk.copy, disk.path);
  const handle = await vmm.boot({ ...spec, paused: true, incoming: incomingUri(manifest.stateFile) }, stateDir);
  const qmp = await QmpClient.connect(handle.controlSocket);
  try {
    await finishRestore(qmp);
  } catch (err) {
    await vmm.kill(handle).catch(() => undefined);
    throw err;
  } finally {
    qmp.close();
  }
  await rm(dir, { recursive: true, force: true });
  return handle;
}

async function copyFile(from: string, to: string): Promise<void> {
  try {
    await execFileAsync('cp', ['--reflink=auto', '--sparse=always', from, to]);
  } catch (err) {
    throw new AloftError('VMM_FAILED', `Cannot copy disk ${from} into the snapshot: ${(err as { stderr?: string }).stderr ?? (err as Error).message}`, { cause: err });
  }
}
