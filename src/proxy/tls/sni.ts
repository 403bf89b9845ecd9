import { createSecureContext, type SecureContext } from 'node:tls';
import { silentLogger, type Logger } from '../../lib/log.ts';
import type { CertPair, CertStore } from './cert-store.ts';

export interface SniOptions {
  store: CertStore;
  /**
   * Whether the edge may make (and store) a self-signed certificate for a name no
   * stored certificate covers. The proxy allows it for `<app>.<domain>` of known apps
   * only, so a client cannot fill the store by inventing names.
   */
  allowSelfSigned: (name: string) => boolean;
  /** TLS contexts kept in memory, least recently used dropped first. Default 1000. */
  cacheSize?: number;
  /** Makes the fallback certificate (tests may count calls). Default selfSignedCert (self-signed.ts). */
  selfSigned?: (name: string) => Promise<CertPair>;
  log?: Logger;
}

/** Why a handshake found no certificate. */
export class NoCertificateError extends Error {
  readonly code = 'ALOFT_NO_CERTIFICATE';
}

/**
 * Chooses the certificate for each TLS handshake by its SNI name: the store's pair
 * for the exact name, else its wildcard `*.<parent>`, else (where allowed) a
 * self-signed one made on first use and kept in the store. Secure contexts are
 * cached (bounded, LRU) and concurrent handshakes for a new name share one lookup.
 */
export class SniResolver {
  readonly #options: SniOptions;
  readonly #log: Logger;
  readonly #limit: number;
  readonly #cache = new Map<string, SecureContext>();
  readonly #pending = new Map<string, Promise<SecureContext>>();

  constructor(options: SniOptions) {
    this.#options = options;
    this.#log = options.log ?? silentLogger;
    this.#limit = options.cacheSize ?? 1000;
  }

  /** For `tls.createServer({ SNICallback })`. */
  readonly callback = (servername: string, cb: (err: Error | null, ctx?: SecureContext) => void): void => {
    this.context(servername).then(
      (ctx) => cb(null, ctx),
      (err: unknown) => cb(err instanceof Error ? err : new Error(String(err))),
    );
  };

  /** The secure context for `servername` (lowercased), loading or making it if needed. */
  context(servername: string): Promise<SecureContext> {
    const name = servername.toLowerCase();
    const cached = this.#cache.get(name);
    if (cached !== undefined) {
      // Refresh its place: most recently used last.
      this.#cache.delete(name);
      this.#cache.set(name, cached);
      return Promise.resolve(cached);
    }
    let pending = this.#pending.get(name);
    if (pending === undefined) {
      pending = this.#load(name).finally(() => this.#pending.delete(name));
      this.#pending.set(name, pending);
    }
    return pending;
  }

  /** Drops a cached context (after a certificate was replaced in the store). */
  forget(servername: string): void {
    this.#cache.delete(servername.toLowerCase());
  }

  async #load(name: string): Promise<SecureContext> {
    const { store } = this.#options;
    // `.invalid` names are the store's own records (the ACME account key), never a server's.
    if (name.endsWith('.invalid')) throw new NoCertificateError(`no certificate for TLS server name ${JSON.stringify(name)}`);
    const dot = name.indexOf('.');
    let pair = await store.get(name);
    if (pair === undefined && dot > 0) pair = await store.get(`*${name.slice(dot)}`);
    if (pair === undefined) {
      if (!this.#options.allowSelfSigned(name)) {
        throw new NoCertificateError(`no certificate for TLS server name ${JSON.stringify(name)}`);
      }
      // Loaded on first use: the x509 library is heavy and many edges never need it.
      const make = this.#options.selfSigned ?? (await import('./self-signed.ts')).selfSignedCert;
      pair = await make(name);
      await store.put(name, pair);
      this.#log.info({ name }, 'proxy: made a self-signed certificate');
    }
    const ctx = createSecureContext({ cert: pair.cert, key: pair.key });
    this.#cache.set(name, ctx);
    if (this.#cache.size > this.#limit) {
      const oldest = this.#cache.keys().next().value;
      if (oldest !== undefined) this.#cache.delete(oldest);
    }
    return ctx;
  }
}
