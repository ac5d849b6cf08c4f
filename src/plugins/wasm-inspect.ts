/**
 * Static checks of a plugin's WebAssembly module before it ever runs: what it imports (only the
 * host's ABI functions and an imported, cappable memory are allowed) and what it exports.
 */
import { HOST_ABI_VERSION } from './manifest.ts';

/** Imports the host provides; anything else (WASI, custom) is refused. */
export const ALLOWED_IMPORTS = new Set(['env.abort', 'env.memory', 'env.seed', 'rd.rd_log']);
export const REQUIRED_EXPORTS = ['rd_abi_version', 'rd_alloc', 'rd_process'];

export interface WasmShape {
  module: WebAssembly.Module;
  /** Initial pages the module asks of its imported memory. */
  memoryInitialPages: number;
  memoryMaximumPages: number | null;
}

function byte(b: Uint8Array, pos: { i: number }): number {
  const v = b[pos.i++];
  if (v === undefined) throw new Error('truncated import section');
  return v;
}

function leb(b: Uint8Array, pos: { i: number }): number {
  let result = 0;
  let shift = 0;
  for (;;) {
    const byte = b[pos.i++];
    if (byte === undefined) throw new Error('truncated LEB128');
    result += (byte & 0x7f) * 2 ** shift;
    if (!(byte & 0x80)) return result;
    shift += 7;
  }
}

/** The limits of the memory import, read from the import section. */
function memoryImportLimits(b: Uint8Array): { initial: number; maximum: number | null } | null {
  const pos = { i: 8 };
  while (pos.i < b.length) {
    const id = b[pos.i++];
    const size = leb(b, pos);
    const end = pos.i + size;
    if (id === 2) {
      const n = leb(b, pos);
      for (let k = 0; k < n; k++) {
        for (let s = 0; s < 2; s++) { const l = leb(b, pos); pos.i += l; } // module, field names
        const kind = b[pos.i++];
        if (kind === 0) leb(b, pos); // func: type index
        else if (kind === 1) { pos.i++; const f = byte(b, pos); leb(b, pos); if (f & 1) leb(b, pos); } // table
        else if (kind === 2) { const f = byte(b, pos); const initial = leb(b, pos); const maximum = f & 1 ? leb(b, pos) : null; return { initial, maximum }; }
        else if (kind === 3) { pos.i += 2; } // global: type, mutability
        else throw new Error(`unknown import kind ${kind}`);
      }
      return null;
    }
    pos.i = end;
  }
  return null;
}

/** Compiles and checks a plugin module; throws an Error naming what is wrong. */
export function inspectWasm(bytes: Uint8Array<ArrayBuffer>, memoryCapPages: number): WasmShape {
  let module: WebAssembly.Module;
  try {
    module = new WebAssembly.Module(bytes);
  } catch (err) {
    throw new Error(`entry.wasm: not a valid WebAssembly module: ${(err as Error).message}`);
  }
  for (const imp of WebAssembly.Module.imports(module)) {
    const name = `${imp.module}.${imp.name}`;
    if (!ALLOWED_IMPORTS.has(name)) throw new Error(`entry.wasm: imports ${name}, which the host does not provide (allowed: ${[...ALLOWED_IMPORTS].join(', ')})`);
  }
  const exports = new Set(WebAssembly.Module.exports(module).map((e) => e.name));
  for (const e of REQUIRED_EXPORTS) if (!exports.has(e)) throw new Error(`entry.wasm: does not export ${e} (ABI ${HOST_ABI_VERSION})`);
  const lim = memoryImportLimits(bytes);
  if (!lim) throw new Error('entry.wasm: must import its memory as env.memory so the host can cap it (AssemblyScript: --importMemory)');
  if (lim.initial > memoryCapPages) throw new Error(`entry.wasm: needs ${lim.initial} initial memory pages; limits.wasmMemoryPages is ${memoryCapPages}`);
  return { module, memoryInitialPages: lim.initial, memoryMaximumPages: lim.maximum };
}
