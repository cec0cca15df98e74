#include "store/store.h"

namespace sesame::store {
namespace {

class DocumentBlobImpl final : public Blob {
 public:
  DocumentBlobImpl(Store* store, std::string name, Store* fresh)
      : store_(store), fresh_(fresh ? fresh : store), name_(std::move(name)) {}

  Result<std::optional<std::string>> ReadIfChanged() override {
    // The generation is read before the document: a change that lands in
    // between bumps it again, so the next call reads once more rather than
    // missing it.
    uint64_t generation = store_->Generation();
    if (read_ && generation == generation_) return std::optional<std::string>();
    auto doc = (through_ ? fresh_ : store_)->Get("blob", name_);
    through_ = false;
    if (!doc.ok()) return doc.error();
    read_ = true;
    generation_ = generation;
    return std::optional<std::string>(doc->value_or(""));
  }

  Status Write(const std::string& text) override {
    Status s = store_->Put("blob", name_, text, false);
    read_ = false;  // read back (and any change that raced it)
    return s;
  }

  void ReadThrough() override {
    read_ = false;
    through_ = true;
  }

  std::string Name() const override { return "store blob " + name_; }

 private:
  Store* const store_;
  Store* const fresh_;
  const std::string name_;
  bool read_ = false;
  bool through_ = false;
  uint64_t generation_ = 0;
};

}  // namespace

std::unique_ptr<Blob> DocumentBlob(Store* store, std::string name,
                                   Store* fresh) {
  return std::make_unique<DocumentBlobImpl>(store, std::move(name), fresh);
}

}  // namespace sesame::store
