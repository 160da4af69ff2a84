/** The list queries' selectors: equality-based label selectors, and the field selectors events support. */
import type { ScenarioEvent } from './scenario.js';
import { HttpError } from './status.js';

/** `a=b,c!=d,e,!f`: equality-based label selectors (set-based ones are refused). */
export function matchesLabelSelector(labels: Record<string, string>, selectorText: string): boolean {
  if (selectorText.trim() === '') return true;
  return selectorText.split(',').every((raw) => {
    const term = raw.trim();
    if (/\s(in|notin)\s/.test(term)) {
      throw new HttpError(
        400,
        'BadRequest',
        `unable to parse requirement: set-based selectors are not simulated: ${term}`,
      );
    }
    const m = /^([^!=]+?)\s*(==|=|!=)\s*(.*)$/.exec(term);
    if (m) {
      const [, key = '', op, value = ''] = m;
      return op === '!=' ? labels[key] !== value : labels[key] === value;
    }
    if (term.startsWith('!')) return !(term.slice(1) in labels);
    return term in labels;
  });
}

const EVENT_FIELDS: Record<string, (e: ScenarioEvent) => string | undefined> = {
  'involvedObject.kind': (e) => e.involvedObject.kind,
  'involvedObject.name': (e) => e.involvedObject.name,
  'involvedObject.namespace': (e) => e.involvedObject.namespace,
  'involvedObject.uid': (e) => e.involvedObject.uid,
  'involvedObject.apiVersion': (e) => e.involvedObject.apiVersion,
  'involvedObject.fieldPath': (e) => e.involvedObject.fieldPath,
  'metadata.name': (e) => e.metadata.name,
  'metadata.namespace': (e) => e.metadata.namespace,
  reason: (e) => e.reason,
  type: (e) => e.type,
  source: (e) => e.source?.component,
};

export function matchesEventFieldSelector(event: ScenarioEvent, selectorText: string): boolean {
  if (selectorText.trim() === '') return true;
  return selectorText.split(',').every((raw) => {
    const m = /^([^!=]+?)\s*(==|=|!=)\s*(.*)$/.exec(raw.trim());
    if (!m) throw new HttpError(400, 'BadRequest', `invalid field selector: '${raw}'`);
    const [, field = '', op, value = ''] = m;
    const get = EVENT_FIELDS[field];
    if (!get) throw new HttpError(400, 'BadRequest', `field label not supported: ${field}`);
    return op === '!=' ? (get(event) ?? '') !== value : (get(event) ?? '') === value;
  });
}
