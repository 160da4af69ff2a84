/**
 * The run's Slack message ("card"): what it shows, as plain data the run keeps between notifications, and its Block
 * Kit rendering. Pure: the notifier posts and updates, this decides what the message says after each event.
 */
import type { ActionsBlock, Button, KnownBlock } from '@slack/types';
import type { RunbookEvent } from '../notify/events.js';

/** `action_id`s of the card's buttons; the receiver's `/slack/interactions` maps them to decisions. */
export const SLACK_ACTIONS = { approve: 'runbook.approve', reject: 'runbook.reject', open: 'runbook.open' } as const;

/** What an approve or reject button carries: the incident (hence the run), the plan and the actions it names. */
export interface SlackButtonValue {
  incidentId: string;
  planId: string;
  actions: string[];
}

/** The run's message as it now reads. Small on purpose: the run keeps it in its status. */
export interface SlackCard {
  channel: string;
  /** The message's `ts`: its id in the channel. */
  ts: string;
  incidentId: string;
  uiUrl: string;
  planId: string;
  /** One line per finding, the most severe first, at most {@link MAX_LINES}. */
  findings: string[];
  actions: Array<{ id: string; summary: string; needsApproval: boolean }>;
  /** One sentence: where the run stands. */
  state: string;
  /** The approve and reject buttons show (the run waits for a decision on this plan). */
  decide: boolean;
}

const MAX_LINES = 8;
const SEVERITY_ORDER = ['critical', 'warning', 'info'];

/** Slack's mrkdwn control characters, escaped as its docs ask (`&`, `<`, `>`). */
export function escapeMrkdwn(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

const cut = (text: string, max: number) => (text.length > max ? `${text.slice(0, max - 1)}…` : text);

/** The card a `plan-ready` event opens (or, for a new plan, replaces), before it is posted (`ts` empty). */
export function cardForPlan(event: Extract<RunbookEvent, { type: 'plan-ready' }>, channel: string, ts = ''): SlackCard {
  const findings = [...event.findings]
    .sort((a, b) => SEVERITY_ORDER.indexOf(a.severity) - SEVERITY_ORDER.indexOf(b.severity))
    .slice(0, MAX_LINES)
    .map((f) => cut(`[${f.severity}] ${f.message}`, 200));
  const pending = new Set(event.needsApproval);
  const waiting = event.needsApproval.length > 0;
  return {
    channel,
    ts,
    incidentId: event.incidentId,
    uiUrl: event.uiUrl,
    planId: event.plan.id,
    findings,
    actions: event.plan.actions
      .slice(0, MAX_LINES)
      .map((a) => ({ id: a.id, summary: cut(a.summary, 200), needsApproval: pending.has(a.id) })),
    state: waiting
      ? `Waiting for approval of ${event.needsApproval.length} action(s)`
      : event.plan.actions.length > 0
        ? 'Nothing needs approval: the run goes on'
        : 'Nothing to do',
    decide: waiting,
  };
}

/** The card after `event`: where the run stands, and whether the buttons still show. */
export function advanceCard(card: SlackCard, event: RunbookEvent): SlackCard {
  switch (event.type) {
    case 'plan-ready':
      return cardForPlan(event, card.channel, card.ts);
    case 'approval-reminder':
      return { ...card, state: `Still waiting for approval (deadline ${event.deadline})` };
    case 'approval-escalated':
      return { ...card, state: `Approval escalated: new deadline ${event.deadline}` };
    case 'decision': {
      const r = event.record;
      if (!r.accepted) return card;
      const via = r.via ? ` via ${r.via}` : '';
      if (r.awaitingSecondApprover)
        return { ...card, state: `Backup override approved by ${r.by}${via}: waits for a second approver` };
      const verdict = r.decision === 'approve' ? 'Approved' : 'Rejected';
      return { ...card, state: `${verdict} by ${r.by}${via}${r.reason ? `: ${r.reason}` : ''}`, decide: false };
    }
    case 'finished':
      return { ...card, state: `Finished, ${event.report.outcome}: ${event.report.summary}`, decide: false };
    default:
      return card;
  }
}

function button(text: string, actionId: string, card: SlackCard, style: 'primary' | 'danger', confirm: string): Button {
  const value: SlackButtonValue = {
    incidentId: card.incidentId,
    planId: card.planId,
    actions: card.actions.filter((a) => a.needsApproval).map((a) => a.id),
  };
  return {
    type: 'button',
    action_id: actionId,
    text: { type: 'plain_text', text },
    style,
    value: JSON.stringify(value),
    confirm: {
      title: { type: 'plain_text', text: `${text}?` },
      text: { type: 'mrkdwn', text: confirm },
      confirm: { type: 'plain_text', text },
      deny: { type: 'plain_text', text: 'Cancel' },
    },
  };
}

/** The fallback text of the card (notifications, screen readers). */
export function cardText(card: SlackCard): string {
  return cut(`Redis runbook, incident ${card.incidentId}: ${card.state}`, 3000);
}

/** The card in Block Kit: header, state, findings, the plan with what needs approval, buttons while it waits. */
export function cardBlocks(card: SlackCard): KnownBlock[] {
  const approving = card.actions.filter((a) => a.needsApproval).map((a) => `\`${a.id}\``);
  const open: Button = {
    type: 'button',
    action_id: SLACK_ACTIONS.open,
    text: { type: 'plain_text', text: 'Open in Temporal' },
    url: card.uiUrl,
  };
  const actions: ActionsBlock = {
    type: 'actions',
    block_id: 'runbook-decision',
    elements: card.decide
      ? [
          button(
            'Approve',
            SLACK_ACTIONS.approve,
            card,
            'primary',
            `Run ${approving.join(', ')} of plan \`${card.planId}\`.`,
          ),
          button('Reject', SLACK_ACTIONS.reject, card, 'danger', `Reject plan \`${card.planId}\`: nothing is changed.`),
          open,
        ]
      : [open],
  };
  const lines = (items: string[]) => items.map((l) => `• ${escapeMrkdwn(l)}`).join('\n');
  return [
    { type: 'header', text: { type: 'plain_text', text: cut(`Redis runbook: incident ${card.incidentId}`, 150) } },
    { type: 'section', block_id: 'runbook-state', text: { type: 'mrkdwn', text: `*${escapeMrkdwn(card.state)}*` } },
    {
      type: 'section',
      block_id: 'runbook-findings',
      text: { type: 'mrkdwn', text: cut(`*Findings*\n${lines(card.findings) || '• none'}`, 3000) },
    },
    {
      type: 'section',
      block_id: 'runbook-plan',
      text: {
        type: 'mrkdwn',
        text: cut(
          `*Plan* \`${card.planId}\`\n` +
            (card.actions
              .map((a) => `• \`${a.id}\` ${escapeMrkdwn(a.summary)}${a.needsApproval ? ' _(needs approval)_' : ''}`)
              .join('\n') || '• no action'),
          3000,
        ),
      },
    },
    actions,
    {
      type: 'context',
      elements: [
        {
          type: 'mrkdwn',
          text: escapeMrkdwn(
            `Or: \`runbook approve ${card.incidentId} --plan ${card.planId} --by <you> --sign <key>\``,
          ),
        },
      ],
    },
  ];
}
