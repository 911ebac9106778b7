// libtorch's fused AdamW step (`torch._fused_adamw_`, one pass over the
// parameters, the moments and the gradient, on the CPU and on CUDA), which
// tch does not bind, for one flat tensor of each.
#include <ATen/core/Tensor.h>
#include <ATen/ops/_fused_adamw.h>

#include <cstring>
#include <exception>

// Returns null, or libtorch's error message (free it with `free`).
extern "C" char *ferrospeed_fused_adamw(const at::Tensor *param, const at::Tensor *grad,
                                        const at::Tensor *exp_avg,
                                        const at::Tensor *exp_avg_sq, const at::Tensor *step,
                                        double lr, double beta1, double beta2,
                                        double weight_decay, double eps) {
  try {
    at::_fused_adamw_({*param}, {*grad}, {*exp_avg}, {*exp_avg_sq}, {}, {*step}, lr, beta1,
                      beta2, weight_decay, eps, /*amsgrad=*/false, /*maximize=*/false);
    return nullptr;
  } catch (const std::exception &e) {
    return strdup(e.what());
  }
}
