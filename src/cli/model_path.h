// Where the classifier's model file is found, whatever the working directory.
#ifndef UNIBUS_CLI_MODEL_PATH_H_
#define UNIBUS_CLI_MODEL_PATH_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace unibus::cli {

// The places searched when --model is not given, in order: $UNIBUS_MODEL, the
// installed data directory (<prefix>/share/unibus/fashion_cnn.pt beside the
// binary's bin/), the source tree the binary was built from (only while the binary
// runs from its build tree), ./models/ of the working directory.
std::vector<std::string> DefaultModelPlaces();

// `given` when not empty (NotFound when it does not exist), else the first of
// `places` that exists; NotFound listing every place searched otherwise.
absl::StatusOr<std::string> FindModel(const std::string& given,
                                      const std::vector<std::string>& places);

}  // namespace unibus::cli

#endif  // UNIBUS_CLI_MODEL_PATH_H_
