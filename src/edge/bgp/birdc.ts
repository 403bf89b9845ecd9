import { isAbsolute } from 'node:path';
import { commandFailed, execCommand, type CommandRunner } from '../../lib/command.ts';
import { AloftError, invalidField } from '../../lib/errors.ts';

/** One row of `show protocols`. */
export interface BirdProtocol {
  name: string;
  proto: string;
  table: string;
  /** `up`, `down`, `start`… */
  state: string;
  since: string;
  /** For BGP: `Established`, `Active`, `Connect`, … with the last error after it. */
  info: string;
}

const PROTOCOL = /^[A-Za-z][A-Za-z0-9_]{0,31}$/;
const TIMEOUT_MS = 10_000;

/**
 * birdc over one bird's own control socket (`birdc -s SOCK …`). The socket is a file,
 * so this works from any network namespace. birdc exits non-zero on a refused command,
 * which becomes BIRD_FAILED with bird's own words.
 */
export class BirdClient {
  readonly socketPath: string;
  readonly #run: CommandRunner;

  constructor(socketPath: string, run: CommandRunner = execCommand) {
    if (typeof socketPath !== 'string' || !isAbsolute(socketPath)) throw invalidField('talk to bird', 'socketPath', 'an absolute path', socketPath);
    this.socketPath = socketPath;
    this.#run = run;
  }

  /** Runs one command; its output without birdc's banner line. */
  async command(...words: string[]): Promise<string> {
    const args = ['-s', this.socketPath, ...words];
    const result = await this.#run('birdc', args, { timeoutMs: TIMEOUT_MS, errorCode: 'BIRD_FAILED' });
    if (result.code !== 0) throw commandFailed('birdc', args, { ...result, stderr: `${result.stdout}\n${result.stderr}` }, 'BIRD_FAILED');
    return result.stdout.replace(/^BIRD [^\n]* ready\.\n/, '');
  }

  /** True when bird answers on its socket. */
  async ping(): Promise<boolean> {
    try {
      await this.command('show', 'status');
      return true;
    } catch {
      return false;
    }
  }

  /** `disable NAME`: a BGP session closes with a Cease, so the peer withdraws its routes at once. */
  async disable(protocol: string): Promise<void> {
    await this.#toggle('disable', protocol);
  }

  /** `enable NAME`: the session starts again (and announces once established). */
  async enable(protocol: string): Promise<void> {
    await this.#toggle('enable', protocol);
  }

  /** `show protocols`, parsed by the header's columns (Since can hold a space). */
  async protocols(): Promise<BirdProtocol[]> {
    return parseProtocols(await this.command('show', 'protocols'));
  }

  async #toggle(verb: 'disable' | 'enable', protocol: string): Promise<void> {
    if (typeof protocol !== 'string' || !PROTOCOL.test(protocol)) throw invalidField(`${verb} a bird protocol`, 'protocol', 'a bird protocol name', protocol);
    const out = await this.command(verb, protocol);
    // "NAME: disabled", "NAME: already disabled", or the same for enable.
    if (!out.includes(`${protocol}:`)) {
      throw new AloftError('BIRD_FAILED', `Cannot ${verb} bird protocol '${protocol}' as bird must confirm it: got ${JSON.stringify(out.trim())}`);
    }
  }
}

/** Parses `show protocols` output (banner already removed or not). */
export function parseProtocols(text: string): BirdProtocol[] {
  const lines = text.split('\n').filter((line) => line.trim() !== '' && !/^BIRD .* ready\.$/.test(line));
  const header = lines.findIndex((line) => line.startsWith('Name'));
  if (header < 0) return [];
  const head = lines[header]!;
  const sinceAt = head.indexOf('Since');
  const infoAt = head.indexOf('Info');
  const rows: BirdProtocol[] = [];
  for (const line of lines.slice(header + 1)) {
    const [name = '', proto = '', table = '', state = ''] = line.slice(0, sinceAt).trim().split(/\s+/);
    rows.push({ name, proto, table, state, since: line.slice(sinceAt, infoAt).trim(), info: line.slice(infoAt).trim() });
  }
  return rows;
}
