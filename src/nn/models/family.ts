/**
 * A family of built-in networks named by their parameters, in open_lth's spelling
 * (`cifar_resnet_56_32`): the prefix that claims a name, the pattern shown in messages, and the
 * parser from a name to the network's definition.
 */
import type { ModelDefinition } from './model.js';

export interface ModelFamily {
  /** Names starting with this belong to the family (valid or not). */
  readonly prefix: string;
  /** How the family's names are spelled, for messages: `cifar_resnet_<depth>[_<width>]`. */
  readonly pattern: string;
  /** The definition a name of the family stands for, or why the name is not valid. */
  parse(name: string): ModelDefinition | { problem: string };
}

/** The `_`-separated parts after the prefix, each a positive integer without leading zeros; undefined if any is not. */
export function positiveParts(name: string, prefix: string): number[] | undefined {
  const parts = name.slice(prefix.length).split('_');
  return parts.every((p) => /^[1-9][0-9]*$/.test(p)) ? parts.map(Number) : undefined;
}
