#include "events/files.h"

#include <fcntl.h>
#include <unistd.h>

#include <fstream>
#include <sstream>

namespace sesame::events {

Status WriteFileAtomic(const std::string& path, const std::string& text,
                       mode_t mode) {
  std::string tmp = path + ".tmp";
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
  if (fd < 0) return Error::Transient("events", "cannot write " + tmp);
  bool ok = ::write(fd, text.data(), text.size()) ==
                static_cast<ssize_t>(text.size()) &&
            ::fdatasync(fd) == 0;
  ::close(fd);
  if (!ok || ::rename(tmp.c_str(), path.c_str()) != 0)
    return Error::Transient("events", "cannot write " + path);
  return Ok{};
}

std::string ReadFile(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

}  // namespace sesame::events
