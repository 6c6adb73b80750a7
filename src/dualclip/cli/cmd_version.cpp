#include <iostream>

#include "dualclip/cli/args.h"
#include "dualclip/cli/commands.h"
#include "dualclip/core/runtime.h"

namespace dualclip::cli {

int run_version(const std::vector<std::string>& args) {
  ArgParser parser("version", "Print dualclip's version, the libtorch it runs on, device support and the BLAS in use.");
  if (!parser.parse(args)) return 0;
  std::cout << "dualclip " << runtime::dualclip_version() << "\n"
            << "libtorch " << runtime::torch_version() << "\n"
            << "devices: CPU" << (runtime::cuda_available() ? ", CUDA" : " (CUDA not available in this build or machine)")
            << "\n"
            << "BLAS: " << runtime::blas_description() << "\n";
  return 0;
}

}  // namespace dualclip::cli
