// The `berth` command line: a table of commands read with Node's own util.parseArgs, and the help
// text made from the same table. (It replaced commander, whose loading — seven modules, and
// child_process for subcommands run as executables, which berth has none of — cost every run about
// 20 ms of start-up; see README "The berth CLI" bench.)
import { parseArgs } from 'node:util';
import { CliError, EXIT } from './errors.js';

export interface OptionSpec {
  /** `--name` */
  name: string;
  /** what the value is called in help (`<host>`); a flag without one takes no value */
  value?: string;
  help: string;
  choices?: readonly string[];
  default?: string;
}

export interface CommandSpec<Run = unknown> {
  name: string;
  aliases?: readonly string[];
  help: string;
  /** required positional arguments, in order */
  args: ReadonlyArray<{ name: string; help: string }>;
  options: readonly OptionSpec[];
  run: Run;
}

export type Parsed<Run> =
  | { kind: 'run'; command: CommandSpec<Run>; args: string[]; options: Record<string, string | boolean | undefined> }
  /** help or the version on stdout; the help on stderr and exit 2 when no command was given */
  | { kind: 'print'; text: string; exitCode?: number };

/** A usage error: exit 2, one line that says how to get help. */
function usage(message: string): CliError {
  return new CliError(EXIT.USAGE, `${message} (run berth --help for usage)`);
}

function wrap(text: string, width: number, indent: number): string {
  const words = text.split(' ');
  const lines: string[] = [];
  let line = '';
  for (const w of words) {
    if (line !== '' && line.length + 1 + w.length > width - indent) {
      lines.push(line);
      line = w;
    } else line = line === '' ? w : `${line} ${w}`;
  }
  lines.push(line);
  return lines.join(`\n${' '.repeat(indent)}`);
}

function rows(items: Array<[string, string]>): string {
  const width = Math.max(...items.map(([left]) => left.length));
  return items.map(([left, right]) => `  ${left.padEnd(width)}  ${wrap(right, Math.max(80, width + 54), width + 4)}`).join('\n');
}

const optionTerm = (o: OptionSpec) => `--${o.name}${o.value ? ` ${o.value}` : ''}`;
const optionHelp = (o: OptionSpec) =>
  `${o.help}${o.choices ? ` (one of: ${o.choices.join(', ')})` : ''}${o.default !== undefined ? ` (default: ${o.default})` : ''}`;
const commandName = (c: CommandSpec) => [c.name, ...(c.aliases ?? [])].join('|');
const commandUsage = (c: CommandSpec) => `${commandName(c)}${c.options.length > 0 ? ' [options]' : ''}${c.args.map((a) => ` <${a.name}>`).join('')}`;

export function programHelp(description: string, commands: readonly CommandSpec[]): string {
  return [
    'Usage: berth [options] [command]',
    '',
    description,
    '',
    'Options:',
    rows([
      ['-V, --version', 'output the version number'],
      ['-h, --help', 'display help for command'],
    ]),
    '',
    'Commands:',
    rows([...commands.map((c): [string, string] => [commandUsage(c), c.help]), ['help [command]', 'display help for command']]),
    '',
  ].join('\n');
}

export function commandHelp(c: CommandSpec): string {
  return [
    `Usage: berth ${commandUsage(c)}`,
    '',
    wrap(c.help, 80, 0),
    ...(c.args.length > 0 ? ['', 'Arguments:', rows(c.args.map((a) => [a.name, a.help]))] : []),
    '',
    'Options:',
    rows([...c.options.map((o): [string, string] => [optionTerm(o), optionHelp(o)]), ['-h, --help', 'display help for command']]),
    '',
  ].join('\n');
}

/** Reads `argv` (without node and the script) into a command to run, or a text to print (help, version). */
export function parseCommandLine<Run>(argv: string[], commands: ReadonlyArray<CommandSpec<Run>>, description: string, version: () => string): Parsed<Run> {
  const find = (name: string) => commands.find((c) => c.name === name || c.aliases?.includes(name));
  const [first, ...rest] = argv;
  if (first === undefined) return { kind: 'print', text: programHelp(description, commands), exitCode: EXIT.USAGE };
  if (first === '-V' || first === '--version') return { kind: 'print', text: `${version()}\n` };
  if (first === '-h' || first === '--help') return { kind: 'print', text: programHelp(description, commands) };
  if (first === 'help') {
    if (rest[0] === undefined) return { kind: 'print', text: programHelp(description, commands) };
    const c = find(rest[0]);
    if (!c) throw usage(`unknown command '${rest[0]}'`);
    return { kind: 'print', text: commandHelp(c) };
  }
  if (first.startsWith('-')) throw usage(`unknown option '${first}'`);
  const command = find(first);
  if (!command) throw usage(`unknown command '${first}'`);

  const spec: Record<string, { type: 'string' | 'boolean'; short?: string }> = { help: { type: 'boolean', short: 'h' } };
  for (const o of command.options) spec[o.name] = { type: o.value ? 'string' : 'boolean' };
  let values: Record<string, string | boolean | undefined>;
  let positionals: string[];
  try {
    ({ values, positionals } = parseArgs({ args: rest, options: spec, allowPositionals: true, strict: true }) as { values: Record<string, string | boolean | undefined>; positionals: string[] });
  } catch (err) {
    const e = err as { code?: string; message: string };
    const option = /'(-[^' ]*)/.exec(e.message)?.[1];
    if (e.code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION') throw usage(`unknown option '${option ?? e.message}'`);
    if (e.code === 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE') {
      const o = command.options.find((x) => `--${x.name}` === option);
      throw usage(o?.value ? `option '${optionTerm(o)}' argument missing` : `option '${option}' takes no value`);
    }
    throw usage(e.message);
  }
  if (values.help) return { kind: 'print', text: commandHelp(command) };
  for (const o of command.options) {
    const value = values[o.name];
    if (o.choices && typeof value === 'string' && !o.choices.includes(value)) {
      throw usage(`option '${optionTerm(o)}' argument '${value}' is invalid; one of: ${o.choices.join(', ')}`);
    }
    if (value === undefined && o.default !== undefined) values[o.name] = o.default;
  }
  if (positionals.length < command.args.length) throw usage(`missing required argument '${command.args[positionals.length]!.name}'`);
  if (positionals.length > command.args.length) {
    throw usage(`too many arguments for '${command.name}': expected ${command.args.length}, got ${positionals.length}`);
  }
  return { kind: 'run', command, args: positionals, options: values };
}
