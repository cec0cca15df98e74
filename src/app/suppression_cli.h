#pragma once

#include <string>
#include <vector>

namespace sesame::app {

// `sesame suppression list|add|remove|import|export`, on the state store of
// `data_dir`. Returns the exit status.
int Suppression(const std::string& data_dir,
                const std::vector<std::string>& positional, bool as_json);

}  // namespace sesame::app
