// Row types as stored. Timestamps are ISO-8601 UTC strings so that both dialects sort them alike;
// bigint columns come back from PostgreSQL as strings and are converted where read.
import type { ImportReport } from '../core/report.js';

export interface RepositoryRow {
  id: number;
  name: string;
  latest_version: number;
  created_at: string;
  updated_at: string;
}

export interface VersionRow {
  repository_id: number;
  number: number;
  kind: 'create' | 'import' | 'tag' | 'untag' | 'push' | 'delete';
  /** the import or push report that made this version, if any */
  import_id: string | null;
  /** the name of the token that made the change (null for versions made before actors were kept) */
  actor: string | null;
  created_at: string;
}

export interface ContentRow {
  repository_id: number;
  digest: string;
  kind: 'manifest' | 'blob';
  media_type: string | null;
  version_added: number;
  version_removed: number | null;
  size?: number;
  /** the manifest this one refers to (OCI 1.1 `subject`), for the referrers listing */
  subject?: string | null;
  artifact_type?: string | null;
  /** JSON text of the manifest's annotations */
  annotations?: string | null;
}

export interface TagRow {
  repository_id: number;
  name: string;
  digest: string;
  version_added: number;
  version_removed: number | null;
}

/** An import report as stored: its lists and error as JSON text, numbers as the driver gives them back. */
export interface ImportRow extends Omit<ImportReport, 'new_version' | 'manifests' | 'blobs' | 'bytes_received' | 'error' | 'actor'> {
  new_version: boolean | number | null;
  manifests: string;
  blobs: string;
  bytes_received: number | string;
  error: string | null;
  instance_id: string | null;
  actor?: string | null;
}

/** A live Berth process (see migrations/20261201000000_instances.ts). */
export interface InstanceRow {
  id: string;
  hostname: string;
  pid: number;
  started_at: string;
  heartbeat_at: string;
}

/** A blob held for a repository outside its versions, until `expires_at`. */
export interface HeldBlobRow {
  repository_id: number;
  digest: string;
  /** how it came to be held: 'upload' (pushed), 'mount', 'import' (left whole by a failed import) */
  source: 'upload' | 'mount' | 'import';
  held_at: string;
  expires_at: string;
}

/** A resumable blob upload (see migrations/20261203000000_push.ts). */
export interface UploadSessionRow {
  id: string;
  repository_id: number;
  size: number;
  actor: string | null;
  created_at: string;
  updated_at: string;
}

/** A token an admin made (see migrations/20261204000000_tokens.ts); the secret is kept only as its hash. */
export interface TokenRow {
  id: number;
  name: string;
  /** SHA-256 of the secret, lower-case hex */
  secret_hash: string;
  /** JSON text of the scopes */
  scopes: string;
  /** the name of the token that made this one */
  created_by: string;
  created_at: string;
  expires_at: string | null;
  last_used_at: string | null;
  revoked_at: string | null;
}
