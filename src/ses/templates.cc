#include "ses/templates.h"

#include <boost/json.hpp>

#include "base/ids.h"
#include "ses/names.h"

namespace sesame::ses {
namespace json = boost::json;
namespace {

constexpr char kKind[] = "template";

Template FromDocument(const std::string& name, const std::string& body) {
  json::object o = DocumentObject(body);
  Template t{name, JsonString(o, "Subject"), JsonString(o, "Text"),
             JsonString(o, "Html")};
  if (auto* c = o.if_contains("CreatedTimestamp"); c && c->is_int64())
    t.created = c->as_int64();
  return t;
}

Error Missing(const std::string& name) {
  return NotFound("Template <" + name + "> does not exist.");
}

}  // namespace

Result<Template> Templates::Get(const std::string& name) {
  auto doc = store_->Get(kKind, name);
  if (!doc.ok()) return doc.error();
  if (!doc->has_value()) return Missing(name);
  return FromDocument(name, **doc);
}

Status Templates::Create(const Template& t) {
  if (Status v = CheckResourceName("template", t.name); !v.ok()) return v;
  Status s = Write(t, true);
  if (!s.ok() && s.error().code() == "exists")
    return Exists("Template " + t.name + " already exists.");
  return s;
}

Status Templates::Update(const Template& t) {
  auto existing = Get(t.name);
  if (!existing.ok()) return existing.error();
  Template updated = t;
  updated.created = existing->created;
  return Write(updated, false);
}

Status Templates::Delete(const std::string& name) {
  auto gone = store_->Delete(kKind, name);
  if (!gone.ok()) return gone.error();
  if (!*gone) return Missing(name);
  return Ok{};
}

Result<Page<Template>> Templates::List(const std::string& after, size_t limit) {
  return ListPage<Template>(store_, kKind, after, limit, FromDocument);
}

Status Templates::Write(const Template& t, bool create_only) {
  json::object o;
  o["Subject"] = t.subject;
  o["Text"] = t.text;
  o["Html"] = t.html;
  o["CreatedTimestamp"] = t.created ? t.created : NowMillis() / 1000;
  return store_->Put(kKind, t.name, json::serialize(o), create_only);
}

std::vector<std::string> Templates::Names() {
  return DocumentNames(store_, kKind);
}

}  // namespace sesame::ses
