/** `retinad version` as a person reads it, for machines this one is not: a GPU server, no addon. */
import t from 'tap';
import { formatVersion, type VersionReport } from '../src/version.ts';

const base: VersionReport = {
  name: 'retinad', version: '0.1.0',
  node: { version: 'v20.20.2', napi: 9, platform: 'linux', arch: 'x64' },
  addon: { loaded: true, build: { addonVersion: '0.1.0', napiVersion: 8, compiler: 'gcc 12.2.0', ffmpeg: { avcodec: '59.37.100', avformat: '59.27.100', avutil: '57.28.100', swscale: '6.7.100' } } },
  decoder: { auto: 'native', reason: 'addon built with FFmpeg' },
  accelerators: {
    gpus: [{ name: 'NVIDIA H200', memoryMB: 143771 }], driverVersion: '570.86.15', nvml: { available: true },
    cuda: { available: true, driverApiVersion: '12.8', deviceCount: 1, nvenc: false, nvdec: { available: true, codecs: [{ format: 'h264', maxWidth: 4096, maxHeight: 4096, engines: 7 }, { format: 'hevc', maxWidth: 8192, maxHeight: 8192, engines: 7 }] } },
    vaapi: { libva: false, renderNodes: [] }, cpuFlags: ['avx2', 'fma'],
  },
};

t.test('a GPU server: addon with FFmpeg, native decoder, the GPU, CUDA with NVDEC codecs', async (t) => {
  const s = formatVersion(base);
  t.match(s, /^retinad 0\.1\.0$/m);
  t.match(s, /^ffmpeg\s+libavcodec 59\.37\.100, libavformat 59\.27\.100/m);
  t.match(s, /^decoder\s+auto → native \(addon built with FFmpeg\)$/m);
  t.match(s, /^gpu\s+NVIDIA H200 143771 MB, driver 570\.86\.15$/m);
  t.match(s, /^cuda\s+driver API 12\.8, 1 device\(s\), NVDEC h264 hevc, NVENC no$/m);
  t.match(s, /^vaapi\s+no libva$/m);
});

t.test('no addon: says why, the pipe backend, and that nothing was probed', async (t) => {
  const s = formatVersion({
    ...base,
    addon: { loaded: false, reason: 'Cannot find module retinad_native.node' },
    decoder: { auto: 'ffmpeg-pipe', reason: 'addon not loaded: Cannot find module retinad_native.node' },
    accelerators: { gpus: [], nvml: null, cuda: null, vaapi: null, cpuFlags: [], reason: 'no native addon, so no probe' },
  });
  t.match(s, /^addon\s+not loaded: Cannot find module/m);
  t.match(s, /^decoder\s+auto → ffmpeg-pipe \(addon not loaded: /m);
  t.match(s, /^accelerators\s+not probed: no native addon, so no probe$/m);
  t.notMatch(s, /^gpu/m);
});

t.test('--providers: each ONNX Runtime execution provider, and why one does not load (issue 15)', async (t) => {
  const s = formatVersion({ ...base, executionProviders: { cpu: { ok: true }, cuda: { ok: true }, tensorrt: { ok: false, reason: 'libnvinfer.so.10: cannot open shared object file' }, openvino: { ok: false, reason: 'not in this onnxruntime-node build' } } });
  t.match(s, /^onnxruntime\s+cpu yes; cuda yes; tensorrt no \(libnvinfer\.so\.10: cannot open shared object file\); openvino no \(not in this onnxruntime-node build\)$/m);
  t.notMatch(formatVersion(base), /^onnxruntime/m, 'without --providers ONNX Runtime is not loaded');
});
