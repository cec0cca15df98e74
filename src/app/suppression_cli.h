#pragma once

#include <string>
#include <vector>

#include "store/store.h"

namespace sesame::app {

// `sesame suppression list|add|remove|import|export`, on the configured
// state store. Returns the exit status.
int Suppression(store::Store* store, const std::vector<std::string>& positional,
                bool as_json);

}  // namespace sesame::app
