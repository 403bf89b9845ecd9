import { chmod, mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { invalidField } from '../../lib/errors.ts';

/** A certificate chain and its private key, both PEM. */
export interface CertPair {
  cert: string;
  key: string;
}

/**
 * Where the edge keeps TLS certificates, by host name (`web.example.com`, or
 * `*.example.com` for a wildcard). The seam between the TLS listener and whatever
 * issues certificates (an operator's files, the self-signed fallback, ACME later).
 */
export interface CertStore {
  /** The pair for exactly `name`, or undefined. */
  get(name: string): Promise<CertPair | undefined>;
  /** Keeps the pair for `name`, replacing any. */
  put(name: string, pair: CertPair): Promise<void>;
}

/** Host names only: keeps a name from turning into a path outside the store. */
const NAME = /^(\*\.)?[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*$/;

/** Throws unless `name` is a lowercase DNS name (a leading `*.` allowed). */
export function checkCertName(name: string): void {
  if (name.length > 253 || !NAME.test(name)) {
    throw invalidField('store certificate', 'name', 'a lowercase DNS name such as "web.example.com"', name);
  }
}

/** Certificates held in memory (tests, and a cache in front of slower stores). */
export class MemoryCertStore implements CertStore {
  readonly #pairs = new Map<string, CertPair>();

  get(name: string): Promise<CertPair | undefined> {
    return Promise.resolve(this.#pairs.get(name));
  }

  async put(name: string, pair: CertPair): Promise<void> {
    checkCertName(name);
    this.#pairs.set(name, pair);
  }
}

/**
 * Certificates on disk: `<dir>/<name>.crt` and `<name>.key` (mode 0600, as keys
 * are secrets). Each file is written to a temp name and renamed, key first, so a
 * reader never sees half a file and a crash leaves no certificate without its key.
 * An operator may drop their own pairs in the directory.
 */
export class DirCertStore implements CertStore {
  readonly #dir: string;

  constructor(dir: string) {
    this.#dir = dir;
  }

  async get(name: string): Promise<CertPair | undefined> {
    try {
      checkCertName(name);
    } catch {
      return undefined;
    }
    try {
      const [cert, key] = await Promise.all([
        readFile(join(this.#dir, `${name}.crt`), 'utf8'),
        readFile(join(this.#dir, `${name}.key`), 'utf8'),
      ]);
      return { cert, key };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw err;
    }
  }

  async put(name: string, pair: CertPair): Promise<void> {
    checkCertName(name);
    await mkdir(this.#dir, { recursive: true, mode: 0o700 });
    await this.#write(`${name}.key`, pair.key, 0o600);
    await this.#write(`${name}.crt`, pair.cert, 0o644);
  }

  async #write(file: string, text: string, mode: number): Promise<void> {
    const path = join(this.#dir, file);
    const temp = `${path}.${process.pid}.${Date.now()}.tmp`;
    await writeFile(temp, text, { mode });
    // writeFile's mode is masked by the umask; the key must be 0600 whatever it is.
    await chmod(temp, mode);
    await rename(temp, path);
  }
}
