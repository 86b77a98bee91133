/**
 * Where the read API listens and who may read it: temporal.config.ts `api`, then the environment
 * (VOLCAST_API_HOST, VOLCAST_API_PORT; VOLCAST_API_TOKEN, never in config). Loopback binds need no
 * token; any other bind refuses to start without one, so the API is never exposed unauthenticated
 * by accident.
 */
import { apiSchema } from '../platform/configSchema';
import { ConfigError } from '../platform/errors';
import type { VolcastConfig } from '../platform/config';

export interface ApiSettings {
  host: string;
  port: number;
  dashboardDays: number;
  maxPageSize: number;
  /** Bearer token clients must send (Authorization: Bearer …), or null: no authentication. */
  token: string | null;
  loopback: boolean;
}

type Env = Record<string, string | undefined>;

export function isLoopback(host: string): boolean {
  const h = host.replace(/^\[|\]$/g, '').toLowerCase();
  return h === 'localhost' || h === '::1' || /^127(\.\d{1,3}){3}$/.test(h);
}

export function apiSettings(cfg: VolcastConfig, env: Env = process.env): ApiSettings {
  const raw: Record<string, unknown> = { ...cfg.api };
  if (env.VOLCAST_API_HOST) raw.host = env.VOLCAST_API_HOST;
  if (env.VOLCAST_API_PORT) raw.port = /^\d+$/.test(env.VOLCAST_API_PORT) ? Number(env.VOLCAST_API_PORT) : env.VOLCAST_API_PORT;
  const parsed = apiSchema.safeParse(raw);
  if (!parsed.success) {
    throw new ConfigError(parsed.error.issues.map((i) => ({ path: `api.${i.path.join('.')} (or VOLCAST_API_${String(i.path[0] ?? '').toUpperCase()})`, message: i.message })));
  }
  const token = env.VOLCAST_API_TOKEN?.trim() || null;
  if (token !== null && token.length < 16) {
    throw new ConfigError([{ path: 'VOLCAST_API_TOKEN', message: 'too short: use at least 16 random characters (e.g. openssl rand -hex 24)' }]);
  }
  const loopback = isLoopback(parsed.data.host);
  if (!loopback && token === null) {
    throw new ConfigError([
      {
        path: 'api.host (or VOLCAST_API_HOST)',
        message: `${parsed.data.host} is not a loopback address: set VOLCAST_API_TOKEN so that clients must send "Authorization: Bearer <token>", or bind 127.0.0.1`,
      },
    ]);
  }
  return { ...parsed.data, token, loopback };
}

/** The base URL clients use (an unspecified bind address is reached on loopback). */
export function apiUrl(s: Pick<ApiSettings, 'host' | 'port'>): string {
  const host = s.host === '0.0.0.0' || s.host === '::' ? '127.0.0.1' : s.host.includes(':') ? `[${s.host}]` : s.host;
  return `http://${host}:${s.port}`;
}
