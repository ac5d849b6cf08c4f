// Accelerator probe without any SDK at build time: vendor libraries are loaded with dlopen and
// called through locally declared signatures, so the same binary runs on a bare CPU box and on
// a GPU server. Every missing piece becomes a reason string, never a crash.
#include "probe.h"
#include <dlfcn.h>
#include <dirent.h>
#include <cstring>
#include <string>
#include <vector>
#if defined(__aarch64__)
#include <sys/auxv.h>
#include <asm/hwcap.h>
#endif

namespace retinad {
namespace {

// ---- NVML (nvml.h signatures, stable ABI since CUDA 8) -------------------------------------
typedef int nvmlReturn_t;
typedef struct nvmlDevice_st* nvmlDevice_t;
struct nvmlMemory_t { unsigned long long total, free, used; };
struct nvmlUtilization_t { unsigned int gpu, memory; };

struct Nvml {
  void* h = nullptr;
  nvmlReturn_t (*Init)() = nullptr;
  nvmlReturn_t (*Shutdown)() = nullptr;
  nvmlReturn_t (*DriverVersion)(char*, unsigned) = nullptr;
  nvmlReturn_t (*Count)(unsigned*) = nullptr;
  nvmlReturn_t (*Handle)(unsigned, nvmlDevice_t*) = nullptr;
  nvmlReturn_t (*Name)(nvmlDevice_t, char*, unsigned) = nullptr;
  nvmlReturn_t (*Uuid)(nvmlDevice_t, char*, unsigned) = nullptr;
  nvmlReturn_t (*Memory)(nvmlDevice_t, nvmlMemory_t*) = nullptr;
  nvmlReturn_t (*Util)(nvmlDevice_t, nvmlUtilization_t*) = nullptr;
  nvmlReturn_t (*EncUtil)(nvmlDevice_t, unsigned*, unsigned*) = nullptr;
  nvmlReturn_t (*DecUtil)(nvmlDevice_t, unsigned*, unsigned*) = nullptr;
  nvmlReturn_t (*Power)(nvmlDevice_t, unsigned*) = nullptr;
  nvmlReturn_t (*PowerLimit)(nvmlDevice_t, unsigned*) = nullptr;
  nvmlReturn_t (*Cc)(nvmlDevice_t, int*, int*) = nullptr;
  nvmlReturn_t (*Clock)(nvmlDevice_t, int, unsigned*) = nullptr;
};

template <typename T>
void Sym(void* h, T& fn, const char* name) { fn = reinterpret_cast<T>(dlsym(h, name)); }

Napi::Value ProbeNvml(Napi::Env env) {
  Napi::Object out = Napi::Object::New(env);
  Nvml n;
  n.h = dlopen("libnvidia-ml.so.1", RTLD_NOW | RTLD_LOCAL);
  if (!n.h) {
    out.Set("available", false);
    out.Set("reason", std::string("libnvidia-ml.so.1: ") + dlerror());
    return out;
  }
  Sym(n.h, n.Init, "nvmlInit_v2");
  Sym(n.h, n.Shutdown, "nvmlShutdown");
  Sym(n.h, n.DriverVersion, "nvmlSystemGetDriverVersion");
  Sym(n.h, n.Count, "nvmlDeviceGetCount_v2");
  Sym(n.h, n.Handle, "nvmlDeviceGetHandleByIndex_v2");
  Sym(n.h, n.Name, "nvmlDeviceGetName");
  Sym(n.h, n.Uuid, "nvmlDeviceGetUUID");
  Sym(n.h, n.Memory, "nvmlDeviceGetMemoryInfo");
  Sym(n.h, n.Util, "nvmlDeviceGetUtilizationRates");
  Sym(n.h, n.EncUtil, "nvmlDeviceGetEncoderUtilization");
  Sym(n.h, n.DecUtil, "nvmlDeviceGetDecoderUtilization");
  Sym(n.h, n.Power, "nvmlDeviceGetPowerUsage");
  Sym(n.h, n.PowerLimit, "nvmlDeviceGetEnforcedPowerLimit");
  Sym(n.h, n.Cc, "nvmlDeviceGetCudaComputeCapability");
  Sym(n.h, n.Clock, "nvmlDeviceGetMaxClockInfo");
  if (!n.Init || !n.Count || !n.Handle || n.Init() != 0) {
    out.Set("available", false);
    out.Set("reason", "nvmlInit failed (no NVIDIA driver or device)");
    dlclose(n.h);
    return out;
  }
  out.Set("available", true);
  char buf[256];
  if (n.DriverVersion && n.DriverVersion(buf, sizeof buf) == 0) out.Set("driverVersion", buf);
  unsigned count = 0;
  n.Count(&count);
  Napi::Array gpus = Napi::Array::New(env);
  for (unsigned i = 0; i < count; i++) {
    nvmlDevice_t d;
    if (n.Handle(i, &d) != 0) continue;
    Napi::Object g = Napi::Object::New(env);
    g.Set("index", i);
    if (n.Name && n.Name(d, buf, sizeof buf) == 0) g.Set("name", buf);
    if (n.Uuid && n.Uuid(d, buf, sizeof buf) == 0) g.Set("uuid", buf);
    nvmlMemory_t m;
    if (n.Memory && n.Memory(d, &m) == 0) {
      g.Set("memoryTotalMB", (double)(m.total >> 20));
      g.Set("memoryFreeMB", (double)(m.free >> 20));
    }
    nvmlUtilization_t u;
    if (n.Util && n.Util(d, &u) == 0) {
      g.Set("utilizationGpu", u.gpu);
      g.Set("utilizationMemory", u.memory);
    }
    unsigned v = 0, period = 0;
    if (n.EncUtil && n.EncUtil(d, &v, &period) == 0) g.Set("utilizationEncoder", v);
    if (n.DecUtil && n.DecUtil(d, &v, &period) == 0) g.Set("utilizationDecoder", v);
    if (n.Power && n.Power(d, &v) == 0) g.Set("powerW", v / 1000.0);
    if (n.PowerLimit && n.PowerLimit(d, &v) == 0) g.Set("powerLimitW", v / 1000.0);
    int major = 0, minor = 0;
    if (n.Cc && n.Cc(d, &major, &minor) == 0) g.Set("computeCapability", std::to_string(major) + "." + std::to_string(minor));
    if (n.Clock && n.Clock(d, 1 /* NVML_CLOCK_SM */, &v) == 0) g.Set("maxSmClockMHz", v);
    gpus.Set(gpus.Length(), g);
  }
  out.Set("gpus", gpus);
  if (n.Shutdown) n.Shutdown();
  dlclose(n.h);
  return out;
}

// ---- CUDA driver + NVDEC capability (cuda.h / nvcuvid.h signatures) -----------------------
typedef int CUresult;
typedef int CUdevice;
typedef struct CUctx_st* CUcontext;
struct CuvidDecodeCaps {  // CUVIDDECODECAPS
  int eCodecType;
  int eChromaFormat;
  unsigned int nBitDepthMinus8;
  unsigned int reserved1[3];
  unsigned char bIsSupported;
  unsigned char nNumNVDECs;
  unsigned short nOutputFormatMask;
  unsigned int nMaxWidth;
  unsigned int nMaxHeight;
  unsigned int nMaxMBCount;
  unsigned short nMinWidth;
  unsigned short nMinHeight;
  unsigned char bIsHistogramSupported;
  unsigned char nCounterBitDepth;
  unsigned short nMaxHistogramBins;
  unsigned int reserved3[10];
};

Napi::Value ProbeCuda(Napi::Env env) {
  Napi::Object out = Napi::Object::New(env);
  void* cu = dlopen("libcuda.so.1", RTLD_NOW | RTLD_LOCAL);
  if (!cu) {
    out.Set("available", false);
    out.Set("reason", std::string("libcuda.so.1: ") + dlerror());
    return out;
  }
  CUresult (*cuInit)(unsigned) = nullptr;
  CUresult (*cuDriverGetVersion)(int*) = nullptr;
  CUresult (*cuDeviceGetCount)(int*) = nullptr;
  CUresult (*cuDeviceGet)(CUdevice*, int) = nullptr;
  CUresult (*cuCtxCreate)(CUcontext*, unsigned, CUdevice) = nullptr;
  CUresult (*cuCtxDestroy)(CUcontext) = nullptr;
  Sym(cu, cuInit, "cuInit");
  Sym(cu, cuDriverGetVersion, "cuDriverGetVersion");
  Sym(cu, cuDeviceGetCount, "cuDeviceGetCount");
  Sym(cu, cuDeviceGet, "cuDeviceGet");
  Sym(cu, cuCtxCreate, "cuCtxCreate_v2");
  Sym(cu, cuCtxDestroy, "cuCtxDestroy_v2");
  int ver = 0, count = 0;
  if (!cuInit || cuInit(0) != 0) {
    out.Set("available", false);
    out.Set("reason", "cuInit failed (no usable NVIDIA device)");
    dlclose(cu);
    return out;
  }
  out.Set("available", true);
  if (cuDriverGetVersion && cuDriverGetVersion(&ver) == 0) out.Set("driverApiVersion", std::to_string(ver / 1000) + "." + std::to_string((ver % 1000) / 10));
  if (cuDeviceGetCount && cuDeviceGetCount(&count) == 0) out.Set("deviceCount", count);
  // NVDEC: which codecs device 0 decodes, and up to what size.
  void* vid = dlopen("libnvcuvid.so.1", RTLD_NOW | RTLD_LOCAL);
  Napi::Object nvdec = Napi::Object::New(env);
  if (!vid) {
    nvdec.Set("available", false);
    nvdec.Set("reason", std::string("libnvcuvid.so.1: ") + dlerror());
  } else if (count > 0 && cuDeviceGet && cuCtxCreate && cuCtxDestroy) {
    CUresult (*cuvidGetDecoderCaps)(CuvidDecodeCaps*) = nullptr;
    Sym(vid, cuvidGetDecoderCaps, "cuvidGetDecoderCaps");
    CUdevice dev;
    CUcontext ctx = nullptr;
    if (cuvidGetDecoderCaps && cuDeviceGet(&dev, 0) == 0 && cuCtxCreate(&ctx, 0, dev) == 0) {
      nvdec.Set("available", true);
      Napi::Array codecs = Napi::Array::New(env);
      const struct { int id; const char* name; } list[] = {{4, "H.264"}, {8, "H.265"}, {11, "AV1"}, {10, "VP9"}, {2, "MPEG-4"}};
      for (auto& c : list) {
        CuvidDecodeCaps caps;
        memset(&caps, 0, sizeof caps);
        caps.eCodecType = c.id;
        caps.eChromaFormat = 1;  // 4:2:0
        caps.nBitDepthMinus8 = 0;
        if (cuvidGetDecoderCaps(&caps) == 0 && caps.bIsSupported) {
          Napi::Object o = Napi::Object::New(env);
          o.Set("format", c.name);
          o.Set("maxWidth", caps.nMaxWidth);
          o.Set("maxHeight", caps.nMaxHeight);
          o.Set("engines", caps.nNumNVDECs);
          codecs.Set(codecs.Length(), o);
        }
      }
      nvdec.Set("codecs", codecs);
      cuCtxDestroy(ctx);
    } else {
      nvdec.Set("available", false);
      nvdec.Set("reason", "cuvidGetDecoderCaps unavailable or CUDA context failed");
    }
  } else {
    nvdec.Set("available", false);
    nvdec.Set("reason", "no CUDA device");
  }
  if (vid) dlclose(vid);
  out.Set("nvdec", nvdec);
  void* enc = dlopen("libnvidia-encode.so.1", RTLD_NOW | RTLD_LOCAL);
  out.Set("nvenc", enc != nullptr);
  if (enc) dlclose(enc);
  dlclose(cu);
  return out;
}

Napi::Value ProbeCpu(Napi::Env env) {
  Napi::Object o = Napi::Object::New(env);
  Napi::Array flags = Napi::Array::New(env);
  auto add = [&](const char* f) { flags.Set(flags.Length(), f); };
#if defined(__x86_64__) || defined(__i386__)
  __builtin_cpu_init();
  if (__builtin_cpu_supports("sse4.2")) add("sse4_2");
  if (__builtin_cpu_supports("avx")) add("avx");
  if (__builtin_cpu_supports("avx2")) add("avx2");
  if (__builtin_cpu_supports("fma")) add("fma");
  if (__builtin_cpu_supports("avx512f")) add("avx512f");
  if (__builtin_cpu_supports("avx512bw")) add("avx512bw");
  if (__builtin_cpu_supports("avx512vnni")) add("avx512vnni");
  o.Set("arch", "x86_64");
#elif defined(__aarch64__)
  unsigned long hw = getauxval(AT_HWCAP);
  if (hw & HWCAP_ASIMD) add("neon");
  if (hw & HWCAP_ASIMDDP) add("dotprod");
#ifdef HWCAP_SVE
  if (hw & HWCAP_SVE) add("sve");
#endif
  o.Set("arch", "aarch64");
#else
  o.Set("arch", "other");
#endif
  o.Set("flags", flags);
  return o;
}

Napi::Value ProbeVaapi(Napi::Env env) {
  Napi::Object o = Napi::Object::New(env);
  Napi::Array nodes = Napi::Array::New(env);
  if (DIR* d = opendir("/dev/dri")) {
    while (dirent* e = readdir(d))
      if (strncmp(e->d_name, "renderD", 7) == 0) nodes.Set(nodes.Length(), std::string("/dev/dri/") + e->d_name);
    closedir(d);
  }
  void* va = dlopen("libva.so.2", RTLD_NOW | RTLD_LOCAL);
  o.Set("libva", va != nullptr);
  if (va) dlclose(va);
  o.Set("renderNodes", nodes);
  return o;
}

Napi::Value Probe(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Object out = Napi::Object::New(env);
  out.Set("cpu", ProbeCpu(env));
  out.Set("nvml", ProbeNvml(env));
  out.Set("cuda", ProbeCuda(env));
  out.Set("vaapi", ProbeVaapi(env));
  return out;
}

// NVML alone: memory, utilisation and decoder load change by the second, and NVML answers in
// microseconds, whereas probe() also creates a CUDA context (NVDEC caps) — too heavy to repeat
// for every AvailableResource report.
Napi::Value ProbeNvmlOnly(const Napi::CallbackInfo& info) { return ProbeNvml(info.Env()); }

}  // namespace

void InitProbe(Napi::Env env, Napi::Object exports) {
  exports.Set("probe", Napi::Function::New(env, Probe, "probe"));
  exports.Set("probeNvml", Napi::Function::New(env, ProbeNvmlOnly, "probeNvml"));
}

}  // namespace retinad
