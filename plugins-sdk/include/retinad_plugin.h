/*
 * retinad plugin ABI, version 1 — what a WebAssembly algorithm plugin exports and imports.
 * Any language that compiles to wasm32 can implement it; plugins-sdk/assembly/ is the
 * AssemblyScript library that does it for you.
 *
 * Memory: the module must IMPORT its linear memory as env.memory. The host creates it with the
 * manifest's limits.wasmMemoryPages as maximum, so a plugin can never take more.
 * Authority: the only imports the host provides are listed below. No filesystem, network,
 * environment or clock; a module importing anything else is refused at install.
 * Lifetime: every call runs in a fresh instance over zeroed memory (the host may reuse a memory
 * it zeroed, so it can start larger than the declared initial size). Plugins are stateless; a
 * temporal algorithm asks for the previous frame (manifest input.previousFrame) instead of
 * keeping one.
 */
#ifndef RETINAD_PLUGIN_H
#define RETINAD_PLUGIN_H
#include <stdint.h>

#define RD_ABI_VERSION 1

/* ---- exports --------------------------------------------------------------------------- */

/* Checked before anything else is called: must return RD_ABI_VERSION. */
int32_t rd_abi_version(void);

/* Returns a pointer to `size` writable bytes for the input. */
uint32_t rd_alloc(uint32_t size);

/*
 * Processes one input (layout below) and returns (out_ptr << 32) | out_len: UTF-8 JSON of the
 * form {"Results":[{"Type":4,"ResultData":{...}}]}. A negative value is an error code.
 * Must finish within the manifest's limits.callDeadlineMs; out_len must not exceed
 * limits.maxOutputBytes.
 */
int64_t rd_process(uint32_t ptr, uint32_t len);

/* ---- input layout (little-endian) -------------------------------------------------------
 *   u32  magic     0x31494452 ("RDI1")
 *   u32  width     input tensor width (manifest input.width)
 *   u32  height
 *   u32  flags     bit 0: a previous frame is present
 *   f64  pts_ms    presentation time of the frame
 *   u32  args_len  then args_len bytes: AlgArgs as JSON
 *   u32  n         then n × { u32 len; u8 data[len] }:
 *                    [0] the frame's input tensor (as the manifest's input declares;
 *                        zero-length when the manifest says input.frameToPlugin: false)
 *                    [1] the previous frame's tensor, when flag bit 0 is set
 *                    then the outputs of the manifest's models, in declaration order, as
 *                    float32 arrays; their shapes are in the JSON args under "__tensors"
 */

/* ---- imports (module "rd", plus "env" for AssemblyScript) ------------------------------ */
void rd_log(uint32_t ptr, uint32_t len);                                  /* UTF-8, rate-limited */
void abort(uint32_t msg, uint32_t file, uint32_t line, uint32_t column);  /* env.abort: traps */

#endif
