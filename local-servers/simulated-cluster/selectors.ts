/** The list queries' selectors: equality-based label selectors, and the field selectors events support. */
import type { ScenarioEvent, ScenarioPod } from './scenario.js';
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

const POD_FIELDS: Record<string, (p: ScenarioPod) => string | undefined> = {
  'spec.nodeName': (p) => p.spec.nodeName,
  'metadata.name': (p) => p.metadata.name,
  'metadata.namespace': (p) => p.metadata.namespace,
  'status.phase': (p) => p.status?.phase,
};

/** Equality field selectors over the fields the API server supports for a kind (others are refused, as it does). */
function matchesFieldSelector<T>(
  fields: Record<string, (item: T) => string | undefined>,
  item: T,
  selectorText: string,
): boolean {
  if (selectorText.trim() === '') return true;
  return selectorText.split(',').every((raw) => {
    const m = /^([^!=]+?)\s*(==|=|!=)\s*(.*)$/.exec(raw.trim());
    if (!m) throw new HttpError(400, 'BadRequest', `invalid field selector: '${raw}'`);
    const [, field = '', op, value = ''] = m;
    const get = fields[field];
    if (!get) throw new HttpError(400, 'BadRequest', `field label not supported: ${field}`);
    return op === '!=' ? (get(item) ?? '') !== value : (get(item) ?? '') === value;
  });
}

export function matchesEventFieldSelector(event: ScenarioEvent, selectorText: string): boolean {
  return matchesFieldSelector(EVENT_FIELDS, event, selectorText);
}

export function matchesPodFieldSelector(pod: ScenarioPod, selectorText: string): boolean {
  return matchesFieldSelector(POD_FIELDS, pod, selectorText);
}
