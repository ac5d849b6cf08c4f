#pragma once
#include <napi.h>
namespace retinad {
/** Adds probe() to the exports: CPU ISA, NVIDIA GPUs (NVML), CUDA, NVDEC capability, VAAPI nodes; and probeNvml(), NVML alone (cheap, for live figures). */
void InitProbe(Napi::Env env, Napi::Object exports);
}  // namespace retinad
