// How the `berth` command fails: one line on stderr, and an exit code that says which kind of failure
// it was, so a pipeline can tell "try again" from "fix the image" from "fix the credentials".

export const EXIT = {
  OK: 0,
  /** the server refused the request: BLOB_UNKNOWN, DIGEST_INVALID, NAME_UNKNOWN, … */
  REFUSED: 1,
  /** bad command line */
  USAGE: 2,
  /** the local image: a file or folder missing, an archive Berth cannot read */
  INPUT: 3,
  /** no credentials, or the server said 401 / 403 */
  AUTH: 4,
  /** the server could not be reached, or the connection broke: running the same command again resumes */
  NETWORK: 5,
} as const;

export class CliError extends Error {
  constructor(
    readonly exitCode: number,
    message: string,
    /** the server's error code, when it gave one */
    readonly code: string | null = null,
    /** the failed import's report, when there is one */
    readonly report: unknown = undefined,
  ) {
    super(message);
    this.name = 'CliError';
  }
}
