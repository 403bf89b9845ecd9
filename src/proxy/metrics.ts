/**
 * The proxy's counters, in memory. Shaped as labelled counters so a Prometheus
 * exporter (prom-client, later) can read them as they are.
 */
export class ProxyMetrics {
  /** Finished requests by app and status; app '' when no app was resolved. */
  readonly #requests = new Map<string, { app: string; status: number; count: number }>();
  /** Connect attempts that failed and were retried, by app. */
  readonly #retries = new Map<string, number>();

  /** Counts one finished request. Status 0 means the client went away before an answer. */
  countRequest(app: string, status: number): void {
    const key = `${app}\u0000${status}`;
    const row = this.#requests.get(key);
    if (row !== undefined) row.count += 1;
    else this.#requests.set(key, { app, status, count: 1 });
  }

  /** Counts one retried backend attempt. */
  countRetry(app: string): void {
    this.#retries.set(app, (this.#retries.get(app) ?? 0) + 1);
  }

  /** Requests counted so far for `app`, optionally only those answered `status`. */
  requests(app: string, status?: number): number {
    let total = 0;
    for (const row of this.#requests.values()) {
      if (row.app === app && (status === undefined || row.status === status)) total += row.count;
    }
    return total;
  }

  /** Retries counted so far for `app`. */
  retries(app: string): number {
    return this.#retries.get(app) ?? 0;
  }

  /** Every counter, for exporters and the dashboard. */
  snapshot(): { requests: { app: string; status: number; count: number }[]; retries: { app: string; count: number }[] } {
    return {
      requests: [...this.#requests.values()].map((row) => ({ ...row })),
      retries: [...this.#retries].map(([app, count]) => ({ app, count })),
    };
  }
}
