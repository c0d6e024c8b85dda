#include "simt_dispatch.h"

#include <dlfcn.h>

#include <map>
#include <mutex>
#include <sstream>

#include "message.h"

namespace aiter {
namespace {

struct Executor {
  int (*warp_size)();
  int (*run_norm)(const SimtNormRequest*, SimtReport*);
  int (*quantize_bytes)(const float*, uint8_t*, int64_t, int32_t, SimtReport*);
  int64_t (*executed_kernels)(char*, int64_t);
  int (*run_planted)(int32_t, const SimtView*, int32_t, SimtReport*);
};

std::mutex g_mutex;
std::map<std::string, Executor> g_loaded;
const Executor* g_active = nullptr;
TargetInfo g_target{};
bool g_raise = true;
SimtReport g_report{};
int64_t g_calls = 0;  // norm calls routed to the executor since simt_use

template <typename F>
F symbol(void* handle, const char* name, const std::string& path) {
  void* s = dlsym(handle, name);
  TORCH_CHECK(s != nullptr, aiter::message("SIMT executor ", path, " lacks ", name));
  return reinterpret_cast<F>(s);
}

const Executor& active() {
  TORCH_CHECK(g_active != nullptr, "no SIMT executor in use (aiter.simt.executor(...))");
  return *g_active;
}

SimtView view_of(const char* name, const at::Tensor& t, bool writable) {
  SimtView v{};
  v.name = name;
  v.data = t.data_ptr();
  v.elem_size = static_cast<int64_t>(t.element_size());
  TORCH_CHECK(t.dim() <= kSimtMaxDims, aiter::message("SIMT executor: '", name, "' has more than ", kSimtMaxDims, " dims"));
  v.ndim = static_cast<int32_t>(t.dim());
  v.writable = writable ? 1 : 0;
  for (int64_t d = 0; d < t.dim(); ++d) {
    v.sizes[d] = t.size(d);
    v.strides[d] = t.stride(d);
  }
  return v;
}

// Raises for a launch the executor found faults in, naming them.
void check_report(const char* op) {
  int64_t total = 0;
  for (int k = 0; k < kSimtFaultKinds; ++k) total += g_report.faults[k];
  if (total == 0 || !g_raise) return;
  std::ostringstream m;
  m << op << ": the SIMT executor (wave " << g_target.warp_size << ", " << g_target.sm_count << " CUs) found " << total
    << " faults (";
  for (int k = 0; k < kSimtFaultKinds; ++k)
    if (g_report.faults[k] != 0) m << kSimtFaultNames[k] << ": " << g_report.faults[k] << "; ";
  m << "):\n" << g_report.messages;
  TORCH_CHECK(false, m.str());
}

}  // namespace

int simt_load(const std::string& path) {
  std::lock_guard<std::mutex> lock(g_mutex);
  auto it = g_loaded.find(path);
  if (it == g_loaded.end()) {
    void* handle = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
    TORCH_CHECK(handle != nullptr, aiter::message("cannot load SIMT executor ", path, ": ", dlerror()));
    Executor e{};
    e.warp_size = symbol<int (*)()>(handle, "aiter_simt_warp_size", path);
    e.run_norm = symbol<decltype(e.run_norm)>(handle, "aiter_simt_run_norm", path);
    e.quantize_bytes = symbol<decltype(e.quantize_bytes)>(handle, "aiter_simt_quantize_bytes", path);
    e.executed_kernels = symbol<decltype(e.executed_kernels)>(handle, "aiter_simt_executed_kernels", path);
    e.run_planted = symbol<decltype(e.run_planted)>(handle, "aiter_simt_run_planted", path);
    it = g_loaded.emplace(path, e).first;
  }
  return it->second.warp_size();
}

void simt_use(const std::string& path, const TargetInfo& target, bool raise_on_fault) {
  if (path.empty()) {
    g_active = nullptr;
    return;
  }
  const int warp = simt_load(path);
  TORCH_CHECK_VALUE(warp == target.warp_size, aiter::message("SIMT executor ", path, " runs ", warp,
                    "-lane waves; the target asks for ", target.warp_size));
  std::lock_guard<std::mutex> lock(g_mutex);
  g_active = &g_loaded.at(path);
  g_target = target;
  g_raise = raise_on_fault;
  g_report = SimtReport{};  // a report shows only calls made under this use
  g_calls = 0;
}

bool simt_active() { return g_active != nullptr; }

void simt_run_norm(const NormCall& c, const PlannedCall& pc) {
  const Executor& e = active();
  std::vector<SimtView> views;
  views.push_back(view_of("input", pc.input.view, false));
  views.push_back(view_of("out", pc.out.view, true));
  if (variant_adds(c.variant)) {
    views.push_back(view_of("residual_in", pc.residual_in.view, false));
    views.push_back(view_of("residual_out", pc.residual_out.view, true));
  }
  const std::pair<const char*, const at::Tensor*> params[] = {
      {"weight", &c.weight}, {"bias", &c.bias}, {"x_bias", &c.x_bias}, {"xscale", &c.xscale}, {"k_weight", &c.weight_b}};
  for (const auto& [name, t] : params)
    if (t->defined()) views.push_back(view_of(name, *t, false));
  if (variant_quantizes(c.variant)) {
    views.push_back(view_of("yscale", pc.yscale, true));
    if (pc.unquant.view.defined()) views.push_back(view_of("out_before_quant", pc.unquant.view, true));
  }
  if (variant_two_jobs(c.variant)) {
    views.push_back(view_of("k", pc.input_b.view, false));
    views.push_back(view_of("k_out", pc.out_b.view, true));
  }
  SimtNormRequest request{&pc.params, g_target, views.data(), static_cast<int32_t>(views.size())};
  ++g_calls;
  const int rc = e.run_norm(&request, &g_report);
  TORCH_CHECK(rc != -3, "SIMT executor: wave width does not match the target");
  TORCH_CHECK_VALUE(rc != -2, aiter::message(c.op, ": group_size=", c.group_size, ": ",
                    unsupported_launch(choose_launch(g_target, pc.params), g_target)));
  TORCH_CHECK(rc == 0, aiter::message(c.op, ": the SIMT executor has no kernel for this launch"));
  check_report(c.op);
}

const SimtReport& simt_last_report() { return g_report; }
int64_t simt_calls() { return g_calls; }

at::Tensor simt_quantize_bytes(const at::Tensor& x, QuantType q) {
  const Executor& e = active();
  const int64_t n = x.numel();
  const int64_t padded = (n + 7) / 8 * 8;
  at::Tensor src = at::zeros({padded}, x.options());
  src.narrow(0, 0, n).copy_(x.reshape(-1));
  at::Tensor out = at::empty({padded}, x.options().dtype(at::kByte));
  const int rc = e.quantize_bytes(src.data_ptr<float>(), out.data_ptr<uint8_t>(), padded, static_cast<int32_t>(q),
                                  &g_report);
  TORCH_CHECK(rc == 0, "quantize_bytes: the SIMT executor has no encoder for this format");
  check_report("quantize_bytes");
  return out.narrow(0, 0, n).reshape(x.sizes());
}

int simt_run_planted(int which, const at::Tensor& input, const at::Tensor& output) {
  const Executor& e = active();
  TORCH_CHECK_VALUE(input.scalar_type() == at::kFloat && output.scalar_type() == at::kFloat && input.is_cpu() &&
                    output.is_cpu(), "run_planted: float32 CPU tensors");
  const SimtView views[2] = {view_of("input", input, false), view_of("output", output, true)};
  return e.run_planted(which, views, 2, &g_report);
}

std::vector<std::string> simt_executed_kernels(const std::string& path) {
  simt_load(path);
  const Executor& e = g_loaded.at(path);
  std::string all(static_cast<std::size_t>(e.executed_kernels(nullptr, 0)), '\0');
  e.executed_kernels(&all[0], static_cast<int64_t>(all.size()));
  std::vector<std::string> names;
  std::istringstream lines(all.c_str());
  for (std::string line; std::getline(lines, line);)
    if (!line.empty()) names.push_back(line);
  return names;
}

}  // namespace aiter
