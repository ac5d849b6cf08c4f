/**
 * SB10: whether and when a failed subtask is tried again, by its ExceptionCode, from the task's
 * FailurePolicy.Retry rules (CustomInfo) or the scheduler's defaults: 20 short of resources, 40
 * too slow and 50 run error are worth another try elsewhere; 10 (environment unsupported) and
 * 60 (data source) are not — the same input fails the same way on any executor.
 */
import { ExceptionCode, type FailurePolicy, type RetryRule } from '../../protocol/index.ts';

export const DEFAULT_RETRY_CODES: readonly number[] = [ExceptionCode.ShortOfResources, ExceptionCode.TooSlow, ExceptionCode.RunError];

export interface RetryDefaults { maxRetries: number; retryIntervalMs: number }

/** The wait before retry number `n` (1 = the first retry): IntervalMs × Backoff^(n-1), at most MaxIntervalMs. */
export function retryDelayMs(rule: RetryRule, n: number, defaults: RetryDefaults): number {
  const base = rule.IntervalMs ?? defaults.retryIntervalMs;
  const d = base * Math.pow(rule.Backoff ?? 1, Math.max(0, n - 1));
  return Math.round(Math.min(d, rule.MaxIntervalMs ?? Number.MAX_SAFE_INTEGER));
}

/**
 * The rule for a failure with `code`, or null when it is not retried. An executor lost (offline,
 * disabled, withdrawn) is not the subtask's fault: it always moves, under the rule for its code
 * if there is one, else under the defaults.
 */
export function retryRule(policy: FailurePolicy | undefined, code: number, executorLost: boolean, defaults: RetryDefaults): RetryRule | null {
  const fallback: RetryRule = { ExceptionCodes: [...DEFAULT_RETRY_CODES], MaxAttempts: defaults.maxRetries, IntervalMs: defaults.retryIntervalMs };
  const rules = policy?.Retry ?? [fallback];
  const rule = rules.find((r) => r.ExceptionCodes.includes(code));
  if (rule) return rule;
  return executorLost ? fallback : null;
}
