import { rttBetween, type RegionRttTable } from '../proxy/balance/region-rtt.ts';
import type { DnsMachine, DnsView } from './dns-view.ts';
import { parseInternalName, type InternalName } from './internal-names.ts';
import { CLASS_IN, RCODE, RR_TYPE, type Question, type ResourceRecord } from './message.ts';

/** What to do with a question: answer it here, or send it upstream. */
export type Resolution = { kind: 'answer'; rcode: number; answers: ResourceRecord[] } | { kind: 'forward' };

export interface ResolverOptions {
  /** The region of this DNS server's host: where askers the view cannot place are. */
  region: string;
  /** Region RTTs for `top<N>.nearest.of.<app>.internal` (the proxy's table). */
  rtt?: RegionRttTable;
  /** TTL of every `.internal` answer, in seconds. Default 5: Machines come and go. */
  ttl?: number;
  /**
   * TXT strings for `_peer.internal`: the org's WireGuard peers. A seam for user peers
   * (`aloft wireguard create`); none until that part lands.
   */
  peers?: (org: string) => readonly string[];
  /** The app's private (Flycast) addresses, for AAAA `<app>.flycast` (src/flycast). */
  flycast?: (app: string) => readonly string[];
}

const ANY_CLASS = 255;
const TXT_CHUNK = 255;

/**
 * Answers questions under `.internal` from the view, for one asker: names resolve only
 * within the org that owns the query's 6PN source network. An unknown source, another
 * org's app, an unknown app or a name with no started Machine is NXDOMAIN, so an org
 * cannot even learn which app names another org uses. A name that exists but has no
 * data of the asked type is NOERROR with no answers (so an A query for an app does not
 * make a stub resolver give up on its AAAA). Names are matched case-insensitively; the
 * answers carry the question's own spelling.
 */
export class InternalResolver {
  readonly #view: DnsView;
  readonly #options: ResolverOptions;
  readonly #ttl: number;

  constructor(view: DnsView, options: ResolverOptions) {
    this.#view = view;
    this.#options = options;
    this.#ttl = options.ttl ?? 5;
  }

  resolve(question: Question, source: string): Resolution {
    const lower = question.name.toLowerCase();
    if (this.#options.flycast !== undefined && lower.endsWith('.flycast')) return this.#flycast(question, lower, source, this.#options.flycast);
    const parsed = parseInternalName(lower);
    if (parsed.kind === 'external') return { kind: 'forward' };
    if (question.class !== CLASS_IN && question.class !== ANY_CLASS) return nx(RCODE.REFUSED);
    const asker = this.#view.asker(source);
    if (asker === undefined || parsed.kind === 'unknown') return nx();
    if (parsed.kind === 'apps') {
      return this.#txt(question, this.#view.appsOf(asker.org).map((a) => a.name).join(','));
    }
    if (parsed.kind === 'peers') {
      const peers = this.#options.peers?.(asker.org) ?? [];
      return peers.length === 0 ? { kind: 'answer', rcode: RCODE.NOERROR, answers: [] } : this.#txt(question, peers.join(','));
    }
    if (parsed.kind === 'instances') {
      const instances = this.#view
        .appsOf(asker.org)
        .flatMap((a) => this.#view.started(a.name))
        .map((m) => `instance=${m.id},app=${m.appName},ip=${m.ipv6 ?? ''},region=${m.region}`);
      return this.#txt(question, instances.join(';'));
    }
    const app = this.#view.app(parsed.app);
    if (app === undefined || app.orgSlug !== asker.org) return nx();
    const machines = this.#machines(parsed, this.#view.started(parsed.app), asker.region ?? this.#options.region);
    if (machines.length === 0) return nx();
    if (parsed.kind === 'vms') return this.#txt(question, machines.map((m) => `${m.id} ${m.region}`).join(','));
    if (parsed.kind === 'regions') return this.#txt(question, [...new Set(machines.map((m) => m.region))].sort().join(','));
    if (question.type !== RR_TYPE.AAAA && question.type !== RR_TYPE.ANY) return { kind: 'answer', rcode: RCODE.NOERROR, answers: [] };
    const answers = machines.map((m): ResourceRecord => ({ name: question.name, type: RR_TYPE.AAAA, class: CLASS_IN, ttl: this.#ttl, data: { kind: 'aaaa', address: m.ipv6 ?? '' } }));
    return { kind: 'answer', rcode: RCODE.NOERROR, answers };
  }

  /** `<app>.flycast`: the app's Flycast addresses, for its own org only (else NXDOMAIN, as `.internal`). */
  #flycast(question: Question, name: string, source: string, addresses: (app: string) => readonly string[]): Resolution {
    if (question.class !== CLASS_IN && question.class !== ANY_CLASS) return nx(RCODE.REFUSED);
    const labels = name.split('.');
    const asker = this.#view.asker(source);
    const app = labels.length === 2 && labels[0] !== undefined ? this.#view.app(labels[0]) : undefined;
    if (asker === undefined || app === undefined || app.orgSlug !== asker.org) return nx();
    const held = addresses(app.name);
    if (held.length === 0) return nx();
    if (question.type !== RR_TYPE.AAAA && question.type !== RR_TYPE.ANY) return { kind: 'answer', rcode: RCODE.NOERROR, answers: [] };
    return { kind: 'answer', rcode: RCODE.NOERROR, answers: held.map((address): ResourceRecord => ({ name: question.name, type: RR_TYPE.AAAA, class: CLASS_IN, ttl: this.#ttl, data: { kind: 'aaaa', address } })) };
  }

  /** The started Machines a name stands for (`started` is sorted by id). */
  #machines(name: Exclude<InternalName, { kind: 'external' | 'unknown' | 'apps' | 'peers' | 'instances' }>, started: DnsMachine[], from: string): DnsMachine[] {
    switch (name.kind) {
      case 'app':
      case 'vms':
      case 'regions':
        return started;
      case 'region':
        return started.filter((m) => m.region.toLowerCase() === name.region);
      case 'vm':
        return started.filter((m) => m.id.toLowerCase() === name.machineId);
      case 'process':
        return started.filter((m) => m.group.toLowerCase() === name.group);
      case 'nearest': {
        const rtt = this.#options.rtt ?? {};
        // Stable: equal RTTs keep id order, so repeated answers agree.
        return started
          .map((m) => ({ m, ms: rttBetween(rtt, from, m.region) }))
          .sort((a, b) => (a.ms === b.ms ? 0 : a.ms < b.ms ? -1 : 1))
          .slice(0, name.count)
          .map((x) => x.m);
      }
    }
  }

  /** One TXT record holding `text`, split into 255-byte character-strings (clients join them). */
  #txt(question: Question, text: string): Resolution {
    if (question.type !== RR_TYPE.TXT && question.type !== RR_TYPE.ANY) return { kind: 'answer', rcode: RCODE.NOERROR, answers: [] };
    const bytes = Buffer.from(text, 'utf8');
    const strings: Buffer[] = [];
    for (let i = 0; i < bytes.length; i += TXT_CHUNK) strings.push(bytes.subarray(i, i + TXT_CHUNK));
    if (strings.length === 0) strings.push(Buffer.alloc(0));
    return { kind: 'answer', rcode: RCODE.NOERROR, answers: [{ name: question.name, type: RR_TYPE.TXT, class: CLASS_IN, ttl: this.#ttl, data: { kind: 'txt', strings } }] };
  }
}

function nx(rcode: number = RCODE.NXDOMAIN): Resolution {
  return { kind: 'answer', rcode, answers: [] };
}
