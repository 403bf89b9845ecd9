/**
 * The proxy's counters, in memory. Shaped as labelled counters so a Prometheus
 * exporter (prom-client, later) can read them as they are.
 */
export class ProxyMetrics {
  /** Finished requests by app, then status; app '' when no app was resolved. (No key string made per request.) */
  readonly #requests = new Map<string, Map<number, { app: string; status: number; count: number }>>();
  /** Connect attempts that failed and were retried, by app. */
  readonly #retries = new Map<string, number>();

  /** Counts one finished request. Status 0 means the client went away before an answer. */
  countRequest(app: string, status: number): void {
    let byStatus = this.#requests.get(app);
    if (byStatus === undefined) this.#requests.set(app, (byStatus = new Map()));
    const row = byStatus.get(status);
    if (row !== undefined) row.count += 1;
    else byStatus.set(status, { app, status, count: 1 });
  }

  /** Counts one retried backend attempt. */
  countRetry(app: string): void {
    this.#retries.set(app, (this.#retries.get(app) ?? 0) + 1);
  }

  /** Requests counted so far for `app`, optionally only those answered `status`. */
  requests(app: string, status?: number): number {
    let total = 0;
    for (const row of this.#requests.get(app)?.values() ?? []) {
      if (status === undefined || row.status === status) total += row.count;
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
      requests: [...this.#requests.values()].flatMap((byStatus) => [...byStatus.values()].map((row) => ({ ...row }))),
      retries: [...this.#retries].map(([app, count]) => ({ app, count })),
    };
  }
}
