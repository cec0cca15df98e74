#include "base/blob.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdint>
#include <fstream>
#include <iterator>

namespace sesame {
namespace {

class File final : public Blob {
 public:
  explicit File(std::string path) : path_(std::move(path)) {}

  Result<std::optional<std::string>> ReadIfChanged() override {
    struct stat st;
    if (::stat(path_.c_str(), &st) != 0) {
      if (version_ == 0) return std::optional<std::string>();
      version_ = 0;
      return std::optional<std::string>("");
    }
    // Every write renames a new file into place, so the inode names a
    // version even when two writes share a timestamp tick.
    int64_t version =
        (int64_t(st.st_mtim.tv_sec) * 1000000000 + st.st_mtim.tv_nsec) ^
        (int64_t(st.st_ino) << 20);
    if (version == version_) return std::optional<std::string>();
    std::ifstream f(path_, std::ios::binary);
    if (!f) return Error::Transient("blob", "cannot read " + path_);
    std::string text((std::istreambuf_iterator<char>(f)), {});
    version_ = version;
    return std::optional<std::string>(std::move(text));
  }

  Status Write(const std::string& text) override {
    std::string tmp = path_ + ".tmp";
    int fd =
        ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0) return Error::Transient("blob", "cannot write " + tmp);
    bool ok = ::write(fd, text.data(), text.size()) == ssize_t(text.size()) &&
              ::fsync(fd) == 0;
    ::close(fd);
    if (!ok || ::rename(tmp.c_str(), path_.c_str()) != 0)
      return Error::Transient("blob", "cannot write " + path_);
    version_ = -1;  // our own write reads back once
    return Ok{};
  }

  std::string Name() const override { return path_; }

 private:
  const std::string path_;
  int64_t version_ = -1;  // -1: never read
};

}  // namespace

std::unique_ptr<Blob> FileBlob(std::string path) {
  return std::make_unique<File>(std::move(path));
}

}  // namespace sesame
