/**
 * The Temporal UI as an auditor sees it, in a real browser (Debian's `chromium`, driven by puppeteer-core, which never
 * downloads one): the dev server's UI during a run awaiting approval and after it resolved, on the real stack (worker,
 * redis-server, simulated Kubernetes API). What must show: the summary, the phase and findings in the current details,
 * the plan id, who approved, and the run in a search on `RunbookPhase`. Screenshots go to `test-artifacts/ui/`.
 *
 * Skipped, saying why, where no browser is installed; under CI a missing browser fails instead.
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { after, before, describe, it } from 'node:test';
import puppeteer, { type Browser, type Page } from 'puppeteer-core';
import { sendDecision, startRunbook } from '../../client/index.js';
import { demoRunInput, startLocalStack, type LocalStack } from '../../demo/stack.js';
import { freePort } from '../../local-servers/free-port.js';
import { repoFile } from '../../local-servers/repo-path.js';
import { installQuietRuntime } from '../../local-servers/temporal.js';
import { statusQuery, workflowIdFor, type RunbookReport, type RunbookStatus } from '../../workflows/definitions.js';

installQuietRuntime();

const CHROMIUM = [process.env.CHROMIUM_PATH, '/usr/bin/chromium', '/usr/bin/chromium-browser'].find(
  (p): p is string => !!p && existsSync(p),
);
if (!CHROMIUM && process.env.CI) throw new Error('CI must have a browser: .ci/install installs Debian’s chromium');
const SKIP = CHROMIUM ? false : 'no chromium installed (apt-get install chromium, or set CHROMIUM_PATH)';
const ARTIFACTS = repoFile('test-artifacts/ui');
const INCIDENT = 'QUIAUDIT1';

let stack: LocalStack;
let browser: Browser;
let ui: string;

/** The page's own text and the text of its frames (the UI renders summary and details as Markdown in iframes). */
async function allText(page: Page): Promise<string> {
  const texts = await Promise.all(
    page.frames().map((f) => f.evaluate('document.body ? document.body.innerText : ""').catch(() => '')),
  );
  return texts.map(String).join('\n');
}

/** Polls the page (and its frames) until `want` shows, or fails saying what did show. */
async function waitForText(page: Page, want: Array<string | RegExp>, what: string): Promise<string> {
  let text = '';
  for (let i = 0; i < 150; i++) {
    text = await allText(page);
    if (want.every((w) => (typeof w === 'string' ? text.includes(w) : w.test(text)))) return text;
    await new Promise((r) => setTimeout(r, 200));
  }
  const missing = want.filter((w) => !(typeof w === 'string' ? text.includes(w) : w.test(text)));
  throw new Error(`${what}: the UI never showed ${missing.join(', ')}; it showed:\n${text.slice(0, 3000)}`);
}

/** The run's User Metadata tab: summary, details and current details. */
async function userMetadata(workflowId: string, want: Array<string | RegExp>, shot: string): Promise<string> {
  const page = await browser.newPage();
  try {
    await page.setViewport({ width: 1400, height: 1100 });
    await page.goto(`${ui}/namespaces/default/workflows/${workflowId}`, { waitUntil: 'load' });
    await page.locator('::-p-text(User Metadata)').click();
    const text = await waitForText(page, want, shot);
    await page.screenshot({ path: `${ARTIFACTS}/${shot}.png`, fullPage: true });
    return text;
  } finally {
    await page.close();
  }
}

async function waitForPhase(phase: RunbookStatus['phase']): Promise<RunbookStatus> {
  const handle = stack.temporal.client.workflow.getHandle(workflowIdFor(INCIDENT));
  for (let i = 0; i < 600; i++) {
    const s = await handle.query(statusQuery).catch(() => undefined);
    if (s?.phase === phase) return s;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`${INCIDENT} never reached ${phase}`);
}

describe('the Temporal UI in a real browser', { skip: SKIP }, () => {
  before(async () => {
    await mkdir(ARTIFACTS, { recursive: true });
    const uiPort = await freePort();
    stack = await startLocalStack({ uiPort, keepRuntime: true });
    ui = `http://localhost:${uiPort}`;
    browser = await puppeteer.launch({
      executablePath: CHROMIUM!,
      headless: true,
      // Root in a container: no sandbox; a small /dev/shm: use /tmp.
      args: ['--no-sandbox', '--disable-dev-shm-usage', '--disable-gpu'],
    });
  });
  after(async () => {
    await browser?.close();
    await stack?.stop();
  });

  it('awaiting approval: summary, phase, findings and plan in the details; the run found by RunbookPhase', async () => {
    await startRunbook(
      stack.temporal.client,
      demoRunInput(stack, INCIDENT, { title: 'Redis cache/redis-0 OOMKilled' }),
      { taskQueue: stack.taskQueue },
    );
    const waiting = await waitForPhase('awaiting-approval');
    const planId = waiting.plan!.id;
    const text = await userMetadata(
      workflowIdFor(INCIDENT),
      [
        `Redis incident ${INCIDENT}: cache/redis-0`,
        'Phase: awaiting-approval',
        /CRITICAL: Container redis was killed for memory \(OOMKilled\)/,
        `Plan ${planId}`,
        /Waiting for approval until/,
      ],
      'awaiting-approval',
    );
    // Text from the run is shown as written: a key pattern is not eaten by Markdown's emphasis.
    assert.match(text, /stat:\*/);
    assert.match(text, /kubectl patch statefulset\/redis -n cache --type json/, 'a pasted command still works');

    const page = await browser.newPage();
    try {
      await page.setViewport({ width: 1400, height: 900 });
      const query = encodeURIComponent('RunbookPhase = "awaiting-approval"');
      await page.goto(`${ui}/namespaces/default/workflows?query=${query}`, { waitUntil: 'load' });
      const list = await waitForText(page, [workflowIdFor(INCIDENT), 'redisIncidentRunbook'], 'the search');
      assert.match(list, /RUNNING/);
      await page.screenshot({ path: `${ARTIFACTS}/search-awaiting-approval.png` });
    } finally {
      await page.close();
    }
  });

  it('after the approval: resolved, the approver and the plan in the details', async () => {
    const { plan } = await waitForPhase('awaiting-approval');
    const handle = stack.temporal.client.workflow.getHandle(workflowIdFor(INCIDENT));
    const record = await sendDecision(
      stack.temporal.client,
      handle,
      {
        decision: 'approve',
        by: 'oncall@example.com',
        planId: plan!.id,
        reason: 'checked in the UI',
        via: 'cli',
      },
      20_000,
    );
    assert.equal(record.accepted, true);
    const report = (await handle.result()) as RunbookReport;
    assert.equal(report.outcome, 'resolved', report.summary);
    await userMetadata(
      workflowIdFor(INCIDENT),
      [
        'Phase: done · Outcome: resolved',
        `Plan ${plan!.id}`,
        /approve by oncall@example\.com: accepted/,
        'Verification: passed',
      ],
      'resolved',
    );
  });
});
