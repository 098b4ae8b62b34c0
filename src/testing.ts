/**
 * `inferlane/testing`: tools for tests, free of any test framework.
 *   mockTarget()       a recording mock target for an application's own tests (src/testing/mock-target.ts)
 *   targetContract()   the checks every adapter must pass, for adapter authors (src/testing/target-contract.ts)
 */
export { mockTarget } from './testing/mock-target.js';
export type { MockBehaviour, MockTarget, MockTargetOptions, RecordedCall } from './testing/mock-target.js';
export { ContractViolation, runTargetContract, targetContract } from './testing/target-contract.js';
export type { ContractCheck, ContractReport, ContractScenario, TargetContractInput, TargetContractOptions } from './testing/target-contract.js';
