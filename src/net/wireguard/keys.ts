import { createPrivateKey, createPublicKey, generateKeyPairSync, randomBytes } from 'node:crypto';
import { chmod, link, mkdir, open, readFile, rm } from 'node:fs/promises';
import { dirname } from 'node:path';
import { AloftError, invalidField } from '../../lib/errors.ts';

/** A WireGuard key pair as `wg genkey | tee priv | wg pubkey` prints it: base64 of 32 raw bytes. */
export interface WireguardKeyPair {
  privateKey: string;
  publicKey: string;
}

// The DER wrappers around a raw x25519 key (RFC 8410): node:crypto takes and gives keys
// in DER, WireGuard speaks the raw 32 bytes, so a key is the DER prefix plus the key.
const PKCS8_PREFIX = Buffer.from('302e020100300506032b656e04220420', 'hex');
const SPKI_PREFIX = Buffer.from('302a300506032b656e032100', 'hex');
const BASE64_KEY = /^[A-Za-z0-9+/]{42}[AEIMQUYcgkosw048]=$/;

/** A fresh x25519 key pair (what `wg genkey` and `wg pubkey` make). */
export function generateKeyPair(): WireguardKeyPair {
  const { privateKey, publicKey } = generateKeyPairSync('x25519');
  const priv = privateKey.export({ format: 'der', type: 'pkcs8' }).subarray(PKCS8_PREFIX.length);
  const pub = publicKey.export({ format: 'der', type: 'spki' }).subarray(SPKI_PREFIX.length);
  return { privateKey: priv.toString('base64'), publicKey: pub.toString('base64') };
}

/** The public key of a base64 private key (what `wg pubkey` prints). */
export function publicKeyOf(privateKey: string): string {
  const raw = keyBytes('derive public key', 'privateKey', privateKey);
  const key = createPrivateKey({ key: Buffer.concat([PKCS8_PREFIX, raw]), format: 'der', type: 'pkcs8' });
  return createPublicKey(key).export({ format: 'der', type: 'spki' }).subarray(SPKI_PREFIX.length).toString('base64');
}

/** The raw 32 bytes of a base64 key; INVALID_ARGUMENT for anything else. */
export function keyBytes(action: string, field: string, key: string): Buffer {
  if (typeof key !== 'string' || !BASE64_KEY.test(key)) {
    throw invalidField(action, field, 'a WireGuard key (base64 of 32 bytes, 44 characters)', key);
  }
  return Buffer.from(key, 'base64');
}

/** A base64 key as the UAPI wants it: 64 lowercase hex digits. */
export function keyToHex(action: string, field: string, key: string): string {
  return keyBytes(action, field, key).toString('hex');
}

/** A UAPI hex key back to base64. */
export function hexToKey(hex: string): string {
  if (!/^[0-9a-f]{64}$/.test(hex)) throw new AloftError('WIREGUARD_FAILED', `Cannot read WireGuard key as the UAPI must answer 64 hex digits: got ${JSON.stringify(hex)}`);
  return Buffer.from(hex, 'hex').toString('base64');
}

/**
 * The host's key pair from `path` (a file holding the base64 private key, mode 0600),
 * made on first use. The file is written to a temp name and linked in, so a crash never
 * leaves half a key; a file that is not a key is an error, never silently replaced,
 * since replacing it would cut this host off from every peer that knows its old key.
 */
export async function loadOrCreateHostKey(path: string): Promise<WireguardKeyPair> {
  let text: string | undefined;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  if (text !== undefined) {
    const privateKey = text.trim();
    if (!BASE64_KEY.test(privateKey)) {
      throw new AloftError('WIREGUARD_FAILED', `Cannot load WireGuard host key as '${path}' must hold one base64 private key: got ${privateKey.length} characters of something else`);
    }
    // Tighten a key file someone loosened: it is the host's identity in the mesh.
    await chmod(path, 0o600);
    return { privateKey, publicKey: publicKeyOf(privateKey) };
  }
  const pair = generateKeyPair();
  await mkdir(dirname(path), { recursive: true, mode: 0o700 });
  const temp = `${path}.${randomBytes(6).toString('hex')}.tmp`;
  try {
    // Created 0600 from the start: the key never exists with looser permissions.
    const file = await open(temp, 'wx', 0o600);
    try {
      await file.writeFile(`${pair.privateKey}\n`);
      await file.sync();
    } finally {
      await file.close();
    }
    // link, unlike rename, refuses to replace: of two agents racing, the first key wins.
    await link(temp, path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return loadOrCreateHostKey(path);
    throw err;
  } finally {
    await rm(temp, { force: true });
  }
  return pair;
}
