/**
 * The host side of the plugin ABI (plugins-sdk/include/retinad_plugin.h): its version and the
 * layout of the input block the host writes into a plugin's memory. The package verifier and
 * the sandbox worker both read it here, so the two can never disagree.
 */

/** The host ABI this runtime speaks; a plugin's `rd_abi_version()` must return it. */
export const HOST_ABI_VERSION = 1;

/** First word of an input block: "RDI1". */
export const INPUT_MAGIC = 0x31494452;

/** Bytes before the AlgArgs JSON: magic, width, height, has-previous (u32 each), ptsMs (f64), args length (u32). */
export const INPUT_HEADER_BYTES = 28;
