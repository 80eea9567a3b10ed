/** `pipeline config`: the effective settings of a project and where each came from. */
import { dirname, join, resolve } from 'node:path';
import { appliedSettings, CONFIG_FILE, LOCAL_CONFIG_FILE, projectRoot, resolveSettings, SETTINGS, type SettingName } from '../config.js';
import { textTable, writeJson } from '../format.js';

export interface ConfigCommandOptions {
  json: boolean;
}

export async function configCommand(pipeline: string | undefined, opts: ConfigCommandOptions): Promise<number> {
  // As resolved before the command ran (resolving again would see the values it exported).
  const { root, settings } = appliedSettings() ?? (() => {
    const root = projectRoot(pipeline ? dirname(resolve(pipeline)) : process.cwd());
    return { root, settings: resolveSettings(root) };
  })();
  // What a command would use where nothing sets a value (the commands' own defaults).
  const defaults: Partial<Record<SettingName, string>> = { cache: join(root, 'cache'), lock: join(root, 'dvc-like.lock') };
  const rows = (Object.keys(SETTINGS) as SettingName[]).map((name) => {
    const s = settings[name];
    return { setting: name, value: s?.value ?? defaults[name] ?? null, source: s?.source ?? 'default', describe: SETTINGS[name].describe };
  });
  if (opts.json) {
    writeJson({ root, files: [join(root, CONFIG_FILE), join(root, LOCAL_CONFIG_FILE)], settings: rows });
    return 0;
  }
  process.stdout.write(`project ${root}\n`);
  process.stdout.write(`${textTable(['setting', 'value', 'from'], rows.map((r) => [r.setting, r.value === null ? '-' : String(r.value), r.source]))}\n`);
  return 0;
}
