import type { Finding, Rule } from './model.js';

export const cleanupRules: Rule = (e) =>
  (e.cleanup ?? []).flatMap((p): Finding[] => {
    if (p.refused)
      return [
        {
          id: 'cleanup-pattern-refused',
          severity: 'warning',
          message: `Cleanup of ${p.pattern} refused: the pattern is ${p.refused}.`,
          evidence: { pattern: p.pattern },
        },
      ];
    if (p.keys === 0)
      return [
        {
          id: 'cleanup-pattern-unmatched',
          severity: 'info',
          message: `Cleanup of ${p.pattern} asked for, but no key matches it among the ${p.dbKeys} keys of the db.`,
          evidence: { pattern: p.pattern, dbKeys: p.dbKeys },
        },
      ];
    return [];
  });
