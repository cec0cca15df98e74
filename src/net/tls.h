#pragma once

#include <string>

#include "base/result.h"

namespace sesame::net {

// Writes a self-signed certificate (EC P-256, 10 years, SAN for `hostname`,
// localhost and 127.0.0.1) and its key to the given paths when either file
// is missing. The key file is created mode 0600. Blocking; call at start-up.
Status EnsureSelfSignedCertificate(const std::string& cert_path,
                                   const std::string& key_path,
                                   const std::string& hostname);

}  // namespace sesame::net
