/**
 * Module loader hook, registered by ./typescript.ts after tsx when the engine runs compiled: an
 * import that resolves to the engine's TypeScript source (`<root>/src/x.ts`) is answered with its
 * compiled module (`<tree>/src/x.js`), as is one of the package's shipped tree (`lth-pipeline`
 * resolves to `<root>/dist/src/x.js`) when another tree runs; one that resolves to a user module
 * already compiled in this process with that compiled module: the ones the command already runs.
 * A package the engine runs bundled (zod, resolved from the engine's node_modules) is answered
 * with the bundled module.
 */
interface Redirect {
  source: string;
  shipped: string;
  running: string;
  modules: Record<string, string>;
  packages: Record<string, string>;
}
type Resolved = { url: string; format?: string | null; shortCircuit?: boolean };
type NextResolve = (specifier: string, context: unknown) => Promise<Resolved>;

let redirect: Redirect | undefined;

export function initialize(data: Redirect): void {
  redirect = data;
}

export async function resolve(specifier: string, context: unknown, next: NextResolve): Promise<Resolved> {
  const resolved = await next(specifier, context);
  if (!redirect) return resolved;
  const compiled = redirect.modules[resolved.url] ?? redirect.packages[resolved.url];
  if (compiled) return { url: compiled, format: 'module', shortCircuit: true };
  if (resolved.url.startsWith(redirect.source) && resolved.url.endsWith('.ts')) {
    return { url: `${redirect.running}${resolved.url.slice(redirect.source.length, -3)}.js`, format: 'module', shortCircuit: true };
  }
  if (resolved.url.startsWith(redirect.shipped) && redirect.shipped !== redirect.running && resolved.url.endsWith('.js')) {
    return { url: `${redirect.running}${resolved.url.slice(redirect.shipped.length)}`, format: 'module', shortCircuit: true };
  }
  return resolved;
}
