import { createServer, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createMetricsRegistry, type Logger, type Registry } from '@arcadia/observability';
import type { Service } from './run-service.js';

/** What a process without a GraphQL server (a worker) answers on its port. */
export interface ProbeServerOptions {
  /** The process's name, in every answer. */
  name: string;
  /** Served on `/metrics`. */
  metrics: Registry;
  /** Throws when a store or queue the process needs does not answer; drives `/ready`. */
  readiness?: (() => Promise<void>) | undefined;
  logger: Logger;
}

/** A listening-capable HTTP server for `/health`, `/ready` and `/metrics`. */
export interface ProbeServer {
  readonly httpServer: Server;
  /** Resolves to the base URL, e.g. `http://127.0.0.1:4103`. */
  listen(port: number, host?: string): Promise<string>;
  close(): Promise<void>;
}

/**
 * The probes and metrics endpoint of a worker: the same paths and answers as
 * a subgraph's (`/health` alive, `/ready` stores answer, `/metrics`
 * Prometheus), so orchestrators and scrapers treat every process alike. Plain
 * node:http: a worker needs no framework for three GET routes.
 */
export function createProbeServer(options: ProbeServerOptions): ProbeServer {
  const { name, metrics, logger } = options;
  const httpServer = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    const json = (status: number, body: object) => {
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(JSON.stringify(body));
    };
    if (req.method !== 'GET' && req.method !== 'HEAD')
      return json(405, { error: 'method not allowed' });
    if (path === '/health') return json(200, { status: 'ok', service: name });
    if (path === '/ready') {
      (options.readiness?.() ?? Promise.resolve()).then(
        () => json(200, { status: 'ready', service: name }),
        (error: unknown) => {
          logger.warn({ err: error }, 'not ready');
          json(503, { status: 'unavailable', service: name });
        },
      );
      return;
    }
    if (path === '/metrics') return serveMetrics(metrics, logger, res);
    json(404, { error: 'not found' });
  });
  return listenable(httpServer);
}

/** Answers `res` with the Prometheus text of `metrics` (500 when collecting fails). */
function serveMetrics(metrics: Registry, logger: Logger, res: ServerResponse): void {
  metrics.metrics().then(
    (text) => {
      res.writeHead(200, { 'content-type': metrics.contentType });
      res.end(text);
    },
    (error: unknown) => {
      logger.error({ err: error }, 'metrics collection failed');
      res.writeHead(500, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ error: 'metrics unavailable' }));
    },
  );
}

/** What {@link createMetricsServer} serves. */
export interface MetricsServerOptions {
  /** Served on `/metrics`. */
  metrics: Registry;
  logger: Logger;
}

/**
 * `/metrics` alone, for a process whose public port serves clients (the
 * router, subgraphs): metrics name operations, subgraphs and error rates,
 * which are for the operator's scraper, so they get a port of their own,
 * on 127.0.0.1 unless configured otherwise, instead of a public path.
 */
export function createMetricsServer(options: MetricsServerOptions): ProbeServer {
  const { metrics, logger } = options;
  const httpServer = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if ((req.method === 'GET' || req.method === 'HEAD') && path === '/metrics') {
      return serveMetrics(metrics, logger, res);
    }
    res.writeHead(404, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ error: 'not found' }));
  });
  return listenable(httpServer);
}

/** `httpServer` with the {@link ProbeServer} listen and close. */
function listenable(httpServer: Server): ProbeServer {
  return {
    httpServer,
    async listen(port, host = '127.0.0.1') {
      await new Promise<void>((resolve, reject) => {
        httpServer.once('error', reject);
        httpServer.listen(port, host, () => {
          httpServer.off('error', reject);
          resolve();
        });
      });
      const { port: bound } = httpServer.address() as AddressInfo;
      return `http://${host}:${bound}`;
    },
    async close() {
      if (!httpServer.listening) return;
      httpServer.closeIdleConnections();
      await new Promise<void>((resolve) => httpServer.close(() => resolve()));
    },
  };
}

/** A worker as {@link runService} runs it; see {@link workerService}. */
export interface WorkerServiceOptions {
  name: string;
  logger: Logger;
  /** Served on `/metrics`; the process metrics alone by default. */
  metrics?: Registry;
  /** Throws when a store or queue the worker needs does not answer; drives `/ready`. */
  readiness?: () => Promise<void>;
  /** Stops taking jobs, lets running ones finish, then closes stores and connections. */
  close: () => Promise<void>;
}

/**
 * A worker as a {@link Service}: it listens with a probe server, and on close
 * drains its jobs first and stops answering probes last, so an orchestrator
 * sees it alive until its work is done.
 */
export function workerService(options: WorkerServiceOptions): Service {
  const probes = createProbeServer({
    name: options.name,
    metrics: options.metrics ?? createMetricsRegistry(options.name),
    readiness: options.readiness,
    logger: options.logger,
  });
  return {
    listen: (port, host) => probes.listen(port, host),
    async close() {
      try {
        await options.close();
      } finally {
        await probes.close();
      }
    },
  };
}
