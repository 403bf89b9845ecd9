import * as acme from 'acme-client';
import { silentLogger, type Logger } from '../../lib/log.ts';
import { checkCertName, type CertPair, type CertStore } from './cert-store.ts';
import type { Http01Challenges } from './http01.ts';

export interface AcmeOptions {
  /** The CA's directory, e.g. Let's Encrypt's `https://acme-v02.api.letsencrypt.org/directory`. */
  directoryUrl: string;
  /** Contact for the account (optional at most CAs). */
  email?: string;
  /** Where issued pairs go (the TLS port's SNI lookup reads it); the account key is kept here too. */
  store: CertStore;
  /** Served on the plain HTTP port by http01Step. */
  challenges: Http01Challenges;
  log?: Logger;
}

/** The account key is stored like a certificate pair under this reserved name. */
const ACCOUNT = 'acme-account.invalid';

/**
 * Gets certificates from an ACME CA (RFC 8555) with HTTP-01 challenges answered by
 * the edge's own plain HTTP port. One account per store, created on first use and
 * kept. Issuing is explicit (an operator adds a certificate for a host, as with
 * `fly certs add`), not on a handshake: a handshake cannot wait for a CA.
 */
export class AcmeIssuer {
  readonly #options: AcmeOptions;
  readonly #log: Logger;
  #client: Promise<acme.Client> | undefined;

  constructor(options: AcmeOptions) {
    this.#options = options;
    this.#log = options.log ?? silentLogger;
  }

  /** Orders, validates and stores a certificate for `name`; resolves with the pair. */
  async issue(name: string): Promise<CertPair> {
    checkCertName(name);
    const client = await this.#account();
    const [key, csr] = await acme.crypto.createCsr({ commonName: name, altNames: [name] });
    const { challenges } = this.#options;
    const cert = await client.auto({
      csr,
      ...(this.#options.email === undefined ? {} : { email: this.#options.email }),
      termsOfServiceAgreed: true,
      challengePriority: ['http-01'],
      // The CA checks reachability itself; acme-client's own pre-check would dial port 80.
      skipChallengeVerification: true,
      challengeCreateFn: async (_authz, challenge, keyAuthorization) => {
        challenges.set(challenge.token, keyAuthorization);
      },
      challengeRemoveFn: async (_authz, challenge) => {
        challenges.delete(challenge.token);
      },
    });
    const pair = { cert, key: key.toString() };
    await this.#options.store.put(name, pair);
    this.#log.info({ name }, 'proxy: ACME certificate issued');
    return pair;
  }

  #account(): Promise<acme.Client> {
    this.#client ??= (async () => {
      const { store } = this.#options;
      let account = await store.get(ACCOUNT);
      if (account === undefined) {
        account = { cert: '', key: (await acme.crypto.createPrivateKey()).toString() };
        await store.put(ACCOUNT, account);
      }
      return new acme.Client({ directoryUrl: this.#options.directoryUrl, accountKey: account.key });
    })().catch((err: unknown) => {
      this.#client = undefined;
      throw err;
    });
    return this.#client;
  }
}
