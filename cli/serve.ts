/** `volcast serve`: the read API and the dashboard (docs/api.md). `volcast dev up` and the main job start it too. */
import type { Command } from 'commander';
import { startApi } from '../lib/api/server';
import { apiSettings } from '../lib/api/settings';
import { ConfigError, loadConfigOrExit } from '../lib/platform/config';

export function registerServe(program: Command): void {
  program
    .command('serve')
    .description('the read API (HTTP/JSON, OpenAPI at /openapi.json) and the dashboard at /; loopback unless VOLCAST_API_TOKEN is set')
    .option('--host <host>', 'interface to bind (default: config api.host, VOLCAST_API_HOST)')
    .option('--port <port>', 'port (default: config api.port, VOLCAST_API_PORT)')
    .action(async (opts: { host?: string; port?: string }) => {
      const cfg = loadConfigOrExit();
      let settings;
      try {
        settings = apiSettings(cfg, { ...process.env, ...(opts.host ? { VOLCAST_API_HOST: opts.host } : {}), ...(opts.port ? { VOLCAST_API_PORT: opts.port } : {}) });
      } catch (err) {
        if (err instanceof ConfigError) {
          process.stderr.write(`volcast: ${err.message}\n`);
          process.exit(2);
        }
        throw err;
      }
      const api = await startApi({ cfg, settings, log: true });
      console.log(`volcast api: serving ${api.url}/ (dashboard), ${api.url}/openapi.json; ${settings.token ? 'bearer token required' : 'no token (loopback)'}; MinIO ${cfg.minio.endPoint}:${cfg.minio.port}/${cfg.minio.bucket}`);
      const stop = async () => {
        await api.close();
        process.exit(0);
      };
      process.once('SIGTERM', () => void stop());
      process.once('SIGINT', () => void stop());
    });
}
