// The import report as the API answers it: one type for the server that writes it and for the CLI
// that reads it over HTTP.
import type { ErrorBody } from '../errors.js';

/** The persisted import report, as DESIGN.md fixes it (plus `new_version`). */
export interface ImportReport {
  id: string;
  repository: string;
  status: 'running' | 'completed' | 'failed';
  format: string | null;
  tag: string | null;
  version: number | null;
  /** false when the import changed nothing, so no version was made; null until finished */
  new_version: boolean | null;
  manifests: Array<{ digest: string; media_type: string; source: 'upload' | 'repository' }>;
  blobs: Array<{ digest: string; size: number; source: 'upload' | 'mount' | 'repository' }>;
  bytes_received: number;
  created_at: string;
  finished_at: string | null;
  duration_ms: number | null;
  error: ErrorBody | null;
  /** the name of the token that sent it (null for reports made before actors were kept) */
  actor: string | null;
}
