// Prometheus metrics (prom-client), one registry per app so that tests build their own.
import { Counter, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

export interface Metrics {
  registry: Registry;
  httpRequests: Counter<'method' | 'status'>;
  httpDuration: Histogram<'method'>;
  imports: Counter<'status' | 'format' | 'code'>;
  importBytes: Counter;
  importDuration: Histogram<'status'>;
}

export function createMetrics(): Metrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'berth_' });
  return {
    registry,
    httpRequests: new Counter({ name: 'berth_http_requests_total', help: 'HTTP requests by method and status', labelNames: ['method', 'status'], registers: [registry] }),
    httpDuration: new Histogram({
      name: 'berth_http_request_duration_seconds',
      help: 'HTTP request duration',
      labelNames: ['method'],
      buckets: [0.005, 0.02, 0.1, 0.5, 2, 10, 60, 300],
      registers: [registry],
    }),
    imports: new Counter({ name: 'berth_imports_total', help: 'finished imports by status, format and error code', labelNames: ['status', 'format', 'code'], registers: [registry] }),
    importBytes: new Counter({ name: 'berth_import_bytes_total', help: 'bytes received by imports', registers: [registry] }),
    importDuration: new Histogram({
      name: 'berth_import_duration_seconds',
      help: 'import duration from first byte to commit',
      labelNames: ['status'],
      buckets: [0.01, 0.05, 0.25, 1, 5, 30, 120, 600],
      registers: [registry],
    }),
  };
}
