#pragma once

#include <sys/types.h>

#include <string>

#include "base/result.h"

namespace sesame::events {

// Small file helpers of the events directory (internal to src/events).

// Writes `text` to `path` through a synced temporary file and a rename.
Status WriteFileAtomic(const std::string& path, const std::string& text,
                       mode_t mode);
// The whole file ("" when it cannot be read).
std::string ReadFile(const std::string& path);

}  // namespace sesame::events
