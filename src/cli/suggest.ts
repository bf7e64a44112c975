// "Did you mean this?" for a mistyped command or flag. Commands follow cobra's
// rule (rclone's oracle): a case-insensitive Levenshtein distance of at most 2,
// or the typed text being a prefix of the name. Flags get the same rule; cobra
// itself offers nothing for flags, so that hint is ours.
import type { FlagSpec } from './args.js';

/** cobra's SuggestionsMinimumDistance default. */
const MAX_DISTANCE = 2;

/** Levenshtein edit distance, case-insensitive as cobra's ld(…, ignoreCase=true). */
export function editDistance(a: string, b: string): number {
  const s = a.toLowerCase();
  const t = b.toLowerCase();
  let prev = Array.from({ length: t.length + 1 }, (_, j) => j);
  for (let i = 1; i <= s.length; i++) {
    const cur = [i];
    for (let j = 1; j <= t.length; j++) {
      const cost = s[i - 1] === t[j - 1] ? 0 : 1;
      cur[j] = Math.min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + cost);
    }
    prev = cur;
  }
  return prev[t.length];
}

function isSuggestion(typed: string, name: string): boolean {
  return editDistance(typed, name) <= MAX_DISTANCE || name.toLowerCase().startsWith(typed.toLowerCase());
}

/** Known names close to `typed`, in the order given (the registry's sorted order). */
export function suggestNames(typed: string, known: readonly string[]): string[] {
  if (typed === '') return [];
  return known.filter((name) => isSuggestion(typed, name));
}

/** Long flags (`--name`) close to an unknown `--typed`; hidden flags are never offered. */
export function suggestFlags(typed: string, specs: readonly FlagSpec[]): string[] {
  const bare = typed.replace(/^--/, '');
  const names = [...new Set(specs.filter((f) => !f.hidden).map((f) => f.name))].sort();
  return suggestNames(bare, names).map((n) => `--${n}`);
}

/** cobra's block: "\nDid you mean this?\n\tls\n\tlsd\n" (empty when there is nothing to offer). */
export function didYouMeanText(suggestions: readonly string[]): string {
  if (suggestions.length === 0) return '';
  return `\nDid you mean this?\n${suggestions.map((s) => `\t${s}\n`).join('')}`;
}
