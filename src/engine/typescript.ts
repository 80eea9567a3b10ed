/**
 * Importing the modules a command runs that are not the engine's: pipeline files, the user's stage
 * and model modules. They are TypeScript.
 *
 * Run from source (the tests, `PIPELINE_FROM_SOURCE=1`) tsx is already registered and this is a
 * plain import. When the engine runs compiled (bin/compiled.js), registering tsx costs 130-190 ms
 * and makes every later import a round trip to the loader's thread, so:
 * - a module that imports nothing of the user's but the engine and packages (a pipeline file, as a
 *   rule) is compiled by esbuild once, cached by its content in the compiled tree, with its imports
 *   of the engine pointed at the compiled engine the command already runs (./user-module.ts);
 * - anything else registers tsx, with a hook that sends imports of the engine's source, and of
 *   modules already compiled above, to the modules already loaded (./compiled-hooks.ts): one engine
 *   and one copy of each user module per process, so one stage registry.
 */
import { register } from 'node:module';
import { pathToFileURL } from 'node:url';
import { COMPILED, compiledRedirect, runningModuleUrl } from '../install.js';
import { compileUserModule, VENDORED_ZOD } from './user-module.js';

/** Source URL -> compiled URL of the user modules imported through esbuild in this process. */
const compiledUserModules = new Map<string, string>();
let typescriptLoader: Promise<void> | undefined;

async function registerTypeScript(): Promise<void> {
  const redirect = compiledRedirect();
  if (!redirect) return;
  const tsx = await import('tsx/esm/api');
  tsx.register();
  // Registered after tsx, so it runs first and sees tsx's resolution of each import.
  // The engine's own zod, as node_modules has it, is answered with the one the engine runs.
  const packages = VENDORED_ZOD ? { [import.meta.resolve('zod')]: VENDORED_ZOD } : {};
  register(new URL('./compiled-hooks.js', import.meta.url), { data: { ...redirect, modules: Object.fromEntries(compiledUserModules), packages } });
}

/** Imports a module by file path (the engine's own through their compiled form when compiled). */
export async function importModule(file: string): Promise<unknown> {
  const url = pathToFileURL(file).href;
  const engine = runningModuleUrl(file);
  if (engine !== url) return import(engine);
  if (COMPILED && !typescriptLoader) {
    const compiled = compiledUserModules.get(url) ?? (await compileUserModule(file));
    if (compiled) {
      compiledUserModules.set(url, compiled);
      return import(compiled);
    }
  }
  await (typescriptLoader ??= registerTypeScript());
  return import(url);
}
