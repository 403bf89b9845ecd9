/**
 * Gets the PVH-bootable ELF (vmlinux) out of a Debian bzImage (vmlinuz). QEMU's microvm
 * boots an ELF with a PVH note directly, without firmware; Debian ships only the bzImage,
 * whose payload is that ELF compressed with LZ4 (legacy frame, magic 02 21 4c 18).
 */
import { spawn } from 'node:child_process';
import { open, readFile, rename, rm } from 'node:fs/promises';
import { AloftError } from '../lib/errors.ts';

const LZ4_LEGACY_MAGIC = Buffer.from([0x02, 0x21, 0x4c, 0x18]);

/**
 * Finds the LZ4 payload. The setup header says exactly where it is (payload_offset and
 * payload_length at 0x248, counted from the protected-mode code after the setup
 * sectors); the last 4 bytes of it are the kernel build's appended size, not LZ4 data,
 * and lz4 fails on them. When the header disagrees we fall back to the first magic.
 */
export function findLz4Payload(image: Buffer): Buffer {
  if (image.length > 0x250 && image.readUInt32LE(0x202) === 0x53726448 /* "HdrS" */) {
    const setupSects = image[0x1f1] === 0 ? 4 : (image[0x1f1] ?? 4);
    const offset = (setupSects + 1) * 512 + image.readUInt32LE(0x248);
    const length = image.readUInt32LE(0x24c);
    if (offset + length <= image.length && image.subarray(offset, offset + 4).equals(LZ4_LEGACY_MAGIC)) {
      return image.subarray(offset, offset + length - 4);
    }
  }
  const at = image.indexOf(LZ4_LEGACY_MAGIC);
  if (at < 0) {
    throw new AloftError('GUEST_BUILD_FAILED', "Cannot extract guest kernel as 'vmlinuz' must hold an LZ4 payload (magic 02 21 4c 18): got none");
  }
  return image.subarray(at);
}

/** Decompresses `vmlinuzPath`'s payload with the `lz4` tool into `outPath` (atomically) and checks it is an ELF. */
export async function extractPvhVmlinux(vmlinuzPath: string, outPath: string): Promise<void> {
  const payload = findLz4Payload(await readFile(vmlinuzPath));
  const temp = `${outPath}.tmp-${process.pid}`;
  const out = await open(temp, 'w');
  try {
    await new Promise<void>((resolve, reject) => {
      const child = spawn('lz4', ['-d', '-c'], { stdio: ['pipe', out.fd, 'pipe'] });
      const { stdin, stderr: errStream } = child;
      if (stdin === null || errStream === null) throw new Error('spawn gave no pipes');
      let stderr = '';
      errStream.on('data', (d: Buffer) => (stderr += d.toString()));
      child.on('error', (err) => reject(new AloftError('GUEST_BUILD_FAILED', `Cannot extract guest kernel as 'lz4' must be installed (apt install lz4): ${err.message}`, { cause: err })));
      child.on('close', (code) => {
        if (code === 0) resolve();
        else reject(new AloftError('GUEST_BUILD_FAILED', `Cannot extract guest kernel as 'lz4 -d' must succeed: got exit ${code}: ${stderr.trim()}`));
      });
      stdin.on('error', () => undefined); // lz4 exiting early surfaces through 'close'
      stdin.end(payload);
    });
  } finally {
    await out.close();
  }
  const head = Buffer.alloc(4);
  const check = await open(temp, 'r');
  try {
    await check.read(head, 0, 4, 0);
  } finally {
    await check.close();
  }
  if (!head.equals(Buffer.from([0x7f, 0x45, 0x4c, 0x46]))) {
    await rm(temp, { force: true });
    throw new AloftError('GUEST_BUILD_FAILED', `Cannot extract guest kernel as the payload must decompress to an ELF: got ${head.toString('hex')}`);
  }
  await rename(temp, outPath);
}
