/**
 * Module loader hook, registered by ./typescript.ts after tsx when the engine runs compiled: an
 * import that resolves to the engine's TypeScript source (`<root>/src/x.ts`) is answered with its
 * compiled module (`<tree>/src/x.js`), and one that resolves to a user module
 * already compiled in this process with that compiled module: the ones the command already runs.
 * A package the engine runs bundled (zod, resolved from the engine's node_modules) is answered
 * with the bundled module. `lth-pipeline[/sub]` is resolved under the package's source condition
 * (src/install.ts SOURCE_CONDITION): to the engine's source, and so to the tree that runs.
 */
interface Redirect {
  source: string;
  running: string;
  condition: string;
  modules: Record<string, string>;
  packages: Record<string, string>;
}
type Resolved = { url: string; format?: string | null; shortCircuit?: boolean };
type ResolveContext = { conditions?: readonly string[] };
type NextResolve = (specifier: string, context: ResolveContext) => Promise<Resolved>;

let redirect: Redirect | undefined;

export function initialize(data: Redirect): void {
  redirect = data;
}

export async function resolve(specifier: string, context: ResolveContext, next: NextResolve): Promise<Resolved> {
  const engine = redirect && (specifier === 'lth-pipeline' || specifier.startsWith('lth-pipeline/'));
  const resolved = await next(specifier, engine ? { ...context, conditions: [redirect!.condition, ...(context.conditions ?? [])] } : context);
  if (!redirect) return resolved;
  const compiled = redirect.modules[resolved.url] ?? redirect.packages[resolved.url];
  if (compiled) return { url: compiled, format: 'module', shortCircuit: true };
  if (resolved.url.startsWith(redirect.source) && resolved.url.endsWith('.ts')) {
    return { url: `${redirect.running}${resolved.url.slice(redirect.source.length, -3)}.js`, format: 'module', shortCircuit: true };
  }
  return resolved;
}
