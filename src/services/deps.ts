// What every service needs, passed in rather than imported, so tests build their own.
import type { BlobStore } from '../blobs/store.js';
import type { Config } from '../config.js';
import type { Db } from '../db/connect.js';
import type { Logger } from '../log.js';
import type { Metrics } from '../metrics.js';

export interface Services {
  config: Config;
  db: Db;
  blobs: BlobStore;
  log: Logger;
  metrics: Metrics;
  /** identifies this process in import rows, so a restart knows which imports it left running */
  instanceId: string;
}
