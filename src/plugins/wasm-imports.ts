/**
 * What the host offers a plugin's WebAssembly instance (plugins-sdk/include/retinad_plugin.h):
 * its memory, `abort` (AssemblyScript's, with the message read from plugin memory), a fixed
 * `seed` (no entropy or clock from the host: deterministic) and `rd_log` (the first 20 lines of
 * an instance go to stderr). The inference and training workers both instantiate with it.
 */

/** AssemblyScript strings: UTF-16 with the byte length at ptr - 4 (at most 256 characters read). */
export function readAsString(mem: WebAssembly.Memory, ptr: number): string {
  if (!ptr) return '';
  const [len = 0] = new Uint32Array(mem.buffer, ptr - 4, 1);
  return String.fromCharCode(...new Uint16Array(mem.buffer, ptr, Math.min(len, 512) >> 1));
}

/** The import object for one instance over `memory`. */
export function pluginImports(memory: WebAssembly.Memory): WebAssembly.Imports {
  let logged = 0;
  return {
    env: {
      memory,
      abort(msg: number, file: number, line: number, col: number) {
        throw new Error(`plugin aborted: ${readAsString(memory, msg)} at ${readAsString(memory, file)}:${line}:${col}`);
      },
      seed: () => 0x5eed,
    },
    rd: {
      rd_log(ptr: number, len: number) {
        if (logged++ < 20) console.error(`[plugin] ${new TextDecoder().decode(new Uint8Array(memory.buffer, ptr, Math.min(len, 1000)))}`);
      },
    },
  };
}
