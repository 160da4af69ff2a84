// Flat config: type-aware rules everywhere, and Node built-ins banned in workflow code so the sandbox never meets them.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

const PRODUCT_BOUNDARIES = [
  { group: ['**/test/**'], message: 'Product code never imports from test/: move what it needs into the product.' },
  { group: ['**/cli/**'], message: 'Only cli/ imports cli/: call client/ (or the module the CLI calls) instead.' },
];

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', 'eslint.config.js'] },
  js.configs.recommended,
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/consistent-type-imports': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_' }],
      eqeqeq: 'error',
    },
  },
  {
    // The product never reaches into the tests, and only the CLI imports the CLI (it maps errors to exit codes).
    files: ['**/*.ts'],
    ignores: ['test/**', 'cli/**', 'workflows/**'],
    rules: { 'no-restricted-imports': ['error', { patterns: PRODUCT_BOUNDARIES }] },
  },
  {
    files: ['cli/**/*.ts'],
    rules: { 'no-restricted-imports': ['error', { patterns: [PRODUCT_BOUNDARIES[0]] }] },
  },
  {
    files: ['workflows/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              group: ['node:*', 'fs', 'path', 'os', 'crypto', 'http', 'https', 'child_process', 'net'],
              message: 'Workflow code runs in a deterministic sandbox: no Node built-ins.',
            },
            ...PRODUCT_BOUNDARIES,
          ],
        },
      ],
      'no-restricted-syntax': [
        'error',
        {
          selector: "CallExpression[callee.object.name='Date'][callee.property.name='now']",
          message: 'Use workflow time only through the SDK (sleep/condition), not Date.now().',
        },
        {
          selector: "CallExpression[callee.object.name='Math'][callee.property.name='random']",
          message: 'Math.random() is not deterministic outside the SDK.',
        },
      ],
    },
  },
  {
    files: ['test/**/*.ts'],
    rules: {
      '@typescript-eslint/no-floating-promises': [
        'error',
        {
          allowForKnownSafeCalls: [
            { from: 'package', package: 'node:test', name: ['describe', 'it', 'test', 'suite'] },
          ],
        },
      ],
      '@typescript-eslint/no-non-null-assertion': 'off',
      '@typescript-eslint/no-unsafe-member-access': 'off',
      '@typescript-eslint/no-unsafe-assignment': 'off',
    },
  },
);
