// The registry of kernel levels: the tables compiled into this build, handed out by level.
#include "nn/kernels/kernel_set.hpp"

#include "core/error.hpp"

namespace climseg::nn {

// One table per compiled level (kernel_set_isa.cpp, compiled once per level).
#if defined(CLIMSEG_KERNEL_DISPATCH)
namespace isa_baseline {
extern const KernelSet kernels;
}
namespace isa_avx2 {
extern const KernelSet kernels;
}
namespace isa_avx512 {
extern const KernelSet kernels;
}
#else
namespace isa_native {
extern const KernelSet kernels;
}
#endif

const KernelSet& kernel_set(Isa isa) {
  require_isa(isa);
#if defined(CLIMSEG_KERNEL_DISPATCH)
  switch (isa) {
    case Isa::baseline:
      return isa_baseline::kernels;
    case Isa::avx2:
      return isa_avx2::kernels;
    case Isa::avx512:
      return isa_avx512::kernels;
  }
  fail("kernel level {} unknown", static_cast<int>(isa));
#else
  return isa_native::kernels;
#endif
}

}  // namespace climseg::nn
