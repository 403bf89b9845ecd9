import { readFile } from 'node:fs/promises';
import { defaultDataDir, tokenPath } from '../platform/index.ts';

/** An error the API answered, or a failure to reach it; the CLI prints its message. */
export class ApiError extends Error {
  constructor(
    message: string,
    readonly status: number,
    readonly code: string,
  ) {
    super(message);
  }
}

export interface ApiClientOptions {
  baseUrl: string;
  token: string;
}

/**
 * The CLI's way to the platform: the Machines API over HTTP, never the store. Base URL
 * from ALOFT_API_URL (default http://127.0.0.1:4280); token from ALOFT_API_TOKEN or the
 * file the embedded platform writes in its data dir.
 */
export async function clientFromEnv(env: NodeJS.ProcessEnv = process.env): Promise<ApiClient> {
  const baseUrl = env['ALOFT_API_URL'] ?? 'http://127.0.0.1:4280';
  let token = env['ALOFT_API_TOKEN'];
  if (!token) {
    const path = tokenPath(defaultDataDir(env));
    token = (await readFile(path, 'utf8').catch(() => '')).trim();
    if (!token) throw new ApiError(`Cannot reach aloft as no API token was found: set ALOFT_API_TOKEN or start the platform with 'aloft up' (token file ${path})`, 0, 'UNAUTHORIZED');
  }
  return new ApiClient({ baseUrl, token });
}

export class ApiClient {
  constructor(readonly options: ApiClientOptions) {}

  async request<T>(method: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<T> {
    let response: Response;
    try {
      response = await fetch(`${this.options.baseUrl}/v1${path}`, {
        method,
        headers: { ...headers, authorization: `Bearer ${this.options.token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      });
    } catch (err) {
      throw new ApiError(`Cannot reach the aloft API at ${this.options.baseUrl} (${(err as Error).cause instanceof Error ? ((err as Error).cause as Error).message : (err as Error).message}); is 'aloft up' running?`, 0, 'UNREACHABLE');
    }
    const text = await response.text();
    const parsed = text === '' ? undefined : (JSON.parse(text) as unknown);
    if (!response.ok) {
      const error = parsed as { error?: string; code?: string } | undefined;
      throw new ApiError(error?.error ?? `${method} ${path} answered ${response.status}`, response.status, error?.code ?? 'UNKNOWN');
    }
    return parsed as T;
  }

  get<T>(path: string): Promise<T> {
    return this.request<T>('GET', path);
  }
  post<T>(path: string, body?: unknown): Promise<T> {
    return this.request<T>('POST', path, body ?? {});
  }
  delete<T>(path: string): Promise<T> {
    return this.request<T>('DELETE', path);
  }
}

/** The Machine fields the CLI shows. */
export interface MachineView {
  id: string;
  name: string;
  state: string;
  region: string;
  instance_id: string;
  private_ip: string;
  image_ref: { repository: string; tag: string; digest: string };
  config: { image: string; services?: { internal_port: number }[] };
  created_at: string;
  updated_at: string;
  events: { type: string; status: string; source: string; timestamp: number; request?: Record<string, unknown> }[];
  /** The latest status of each health check (Fly's CheckStatus); absent from older servers. */
  checks?: { name: string; status: string; output: string; updated_at: string }[];
}

export interface AppView {
  id: string;
  name: string;
  status: string;
  organization: { slug: string };
  machine_count?: number;
}
