/**
 * The fast-check seed of a test run: fixed, so a failure on CI is reproducible; set
 * RETINAD_FC_SEED to explore others. `fc.assert(…, { seed })` names it in its failure message
 * (`{ seed: …, path: … }`); where a test samples by hand it prints the seed itself.
 */
export const FC_SEED = Number(process.env.RETINAD_FC_SEED ?? 20261129);
