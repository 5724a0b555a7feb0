// BERTH_CLI_TIMING=1: when each step of a run ended, in milliseconds since the process started
// (performance.now()), as one line on stderr at exit — how the CLI's start-up cost is measured
// (README, the CLI bench): `loaded` (Node.js started and the CLI's code loaded), `main`, `listed`
// (the image's files listed, the preflight sent), `read` (planned), `preflight` (answered),
// `uploaded` (the server's report arrived), `exit`.
const enabled = process.env.BERTH_CLI_TIMING === '1';
const marks: Record<string, number> = {};

export function mark(step: string): void {
  if (enabled) marks[step] = Math.round(performance.now() * 10) / 10;
}

if (enabled) {
  process.once('exit', () => {
    mark('exit');
    process.stderr.write(`berth timing: ${JSON.stringify(marks)}\n`);
  });
}
mark('loaded');
