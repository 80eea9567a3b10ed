/** The `pipeline` command line. */
import { Command, CommanderError, InvalidArgumentError, Option } from 'commander';
import { isPipelineError } from '../errors.js';
import { dagCommand } from './commands/dag.js';
import { gcCommand } from './commands/gc.js';
import { runCommand } from './commands/run.js';
import { showCommand } from './commands/show.js';
import { statusCommand } from './commands/status.js';
import { verifyCommand } from './commands/verify.js';
import { EXIT, exitCodeOf } from './exit-codes.js';

function positiveInt(v: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError('expected a positive integer');
  return n;
}
const collect = (v: string, prev: string[]): string[] => [...prev, v];

const cacheOption = () => new Option('--cache <dir>', 'cache directory (default: $PIPELINE_CACHE or <project>/cache)');
const lockOption = () => new Option('--lock <file>', 'lock file (default: $PIPELINE_LOCK or <project>/dvc-like.lock)');
const setOption = () => new Option('-s, --set <key=value>', 'override a pipeline param, or <stage id>.<param> (repeatable)').argParser(collect).default([]);

export function buildProgram(done: (code: number) => void): Command {
  const program = new Command('pipeline')
    .description('Run, inspect and maintain lth-pipeline experiment DAGs')
    .showHelpAfterError()
    .exitOverride();
  const wrap =
    <A extends unknown[]>(fn: (...args: A) => Promise<number>) =>
    async (...args: A): Promise<void> => {
      done(await fn(...args));
    };

  program
    .command('run <pipeline>')
    .description('run the stages whose results are not in the cache')
    .addOption(setOption())
    .option('-j, --jobs <n>', 'stages run at once', positiveInt, 1)
    .option('-f, --force <stage>', 'execute this stage id (or name, or glob) even if cached (repeatable)', collect, [])
    .option('-k, --keep-going', 'after a failure, go on with the stages that do not depend on it', false)
    .option('-n, --dry-run', 'show what would run and why, run nothing', false)
    .option('--inline', 'run every stage inside this process (debugging)', false)
    .option('-v, --verbose', 'print the stages\' output', false)
    .addOption(cacheOption())
    .addOption(lockOption())
    .action(wrap((file: string, o) => runCommand(file, o)));

  program
    .command('status <pipeline>')
    .description('list the stages that are stale, and why')
    .addOption(setOption())
    .option('--json', 'machine-readable output', false)
    .addOption(cacheOption())
    .addOption(lockOption())
    .action(wrap((file: string, o) => statusCommand(file, o)));

  program
    .command('dag <pipeline>')
    .description('print the stage graph (text tree, or --mermaid)')
    .addOption(setOption())
    .option('--mermaid', 'Mermaid flowchart', false)
    .action(wrap((file: string, o) => dagCommand(file, o)));

  program
    .command('show <pipeline>')
    .description('table of stage instances: state, key, duration, metrics')
    .addOption(setOption())
    .option('--json', 'machine-readable output', false)
    .addOption(cacheOption())
    .addOption(lockOption())
    .action(wrap((file: string, o) => showCommand(file, o)));

  program
    .command('gc')
    .description('remove cached results that neither the lock file nor recent runs reference')
    .option('-n, --dry-run', 'list what would be removed', false)
    .option('--keep-last <n>', 'run records kept per stage instance besides the lock file\'s', (v) => Number(v), 5)
    .addOption(cacheOption())
    .addOption(lockOption())
    .action(wrap((o) => gcCommand(o)));

  program
    .command('verify')
    .description('re-hash every cached object; quarantine corrupt ones')
    .addOption(cacheOption())
    .addOption(lockOption())
    .action(wrap((o) => verifyCommand(o)));

  return program;
}

export async function main(argv: string[]): Promise<number> {
  let code: number = EXIT.ok;
  const program = buildProgram((c) => (code = c));
  try {
    if (argv.length <= 2) {
      program.outputHelp();
      return EXIT.usage;
    }
    await program.parseAsync(argv);
    return code;
  } catch (e) {
    if (e instanceof CommanderError) return e.exitCode === 0 ? EXIT.ok : EXIT.usage;
    if (isPipelineError(e)) {
      process.stderr.write(`error: ${e.format()}\n`);
      if (process.env.PIPELINE_DEBUG && e.cause) process.stderr.write(`${String((e.cause as Error).stack ?? e.cause)}\n`);
    } else {
      process.stderr.write(`internal error: ${(e as Error)?.stack ?? String(e)}\nThis is a bug in lth-pipeline; please report it with the command you ran.\n`);
    }
    return exitCodeOf(e);
  }
}

process.exit(await main(process.argv));
