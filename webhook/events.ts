/**
 * The messages the receiver accepts, as schemas: PagerDuty Webhooks V3 envelopes (only the fields the runbook reads;
 * the rest is ignored so new fields never break it) and the incident action's body.
 */
import { z } from 'zod';

const pdId = z.string().regex(/^[A-Za-z0-9]{1,64}$/, { error: 'expected a PagerDuty id' });
const reference = z.object({ id: pdId, type: z.string().optional(), summary: z.string().optional() });

/** `{"event": {...}}` of Webhooks V3. `data` is checked per event type. */
export const webhookEnvelopeSchema = z.object({
  event: z.object({
    id: z.string().min(1).max(128),
    event_type: z.string().min(1).max(128),
    resource_type: z.string().optional(),
    occurred_at: z.string().optional(),
    agent: reference.nullish(),
    data: z.unknown(),
  }),
});

/** `data` of an incident event. */
export const incidentDataSchema = z.object({
  id: pdId,
  type: z.literal('incident'),
  title: z.string().max(1024).optional(),
  html_url: z.url().optional(),
  status: z.string().optional(),
  service: reference.optional(),
});

export type WebhookEnvelope = z.infer<typeof webhookEnvelopeSchema>;
export type IncidentData = z.infer<typeof incidentDataSchema>;

/**
 * Body of `POST /pagerduty/action`, sent by an incident workflow's HTTP step (or a custom incident action) when a
 * responder approves or rejects from the incident: who (their PagerDuty user id), which incident, what.
 */
export const actionSchema = z.object({
  action: z.enum(['approve', 'reject']),
  incident: z.object({ id: pdId }),
  user: z.object({ id: pdId }),
  /** The plan approved, as the plan note names it; the run's current plan when absent. */
  plan_id: z.string().max(64).optional(),
  /** Subset of action ids; every action waiting for approval when absent. */
  actions: z.array(z.string().max(64)).max(32).optional(),
  reason: z.string().max(500).optional(),
});

export type IncidentAction = z.infer<typeof actionSchema>;
