/** The one way to Temporal for the CLI, the receiver, the demo and the tests. */
export * from './connect.js';
export * from './errors.js';
export * from './runs.js';
export * from './intake.js';
