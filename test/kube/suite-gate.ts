/**
 * When the real-API-server suites run. In CI (`CI` set) always: missing binaries then fail the suite with the build
 * command in the message. Elsewhere only when the binaries are built, so a fresh clone's `npm test` does not start a
 * 20-minute Go build; the skip says why and how to run them.
 */
import { kubeBinariesDir, kubeBinariesPresent } from './binaries.js';

/** The `skip` option for `describe`: false to run, or the reason shown in the test report. */
export function kubeSuiteSkip(env: NodeJS.ProcessEnv = process.env): string | false {
  if (env['CI'] || kubeBinariesPresent(env)) return false;
  return `no Kubernetes binaries in ${kubeBinariesDir(env)}: run \`bash test/kube/build-binaries.sh\` (CI always runs these suites)`;
}
