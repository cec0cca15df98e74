#include "mime/template.h"

#include <boost/json.hpp>

#include "base/strings.h"

namespace sesame::mime {

struct Template::Node {
  enum Kind { kText, kVar, kRawVar, kIf, kUnless, kEach } kind = kText;
  std::string text;  // literal text, or the variable path
  std::vector<Node> body, otherwise;
};

namespace {

using Node = Template::Node;
namespace json = boost::json;

Error Bad(const std::string& m) {
  return Error::Permanent("InvalidTemplate", m);
}

// Recursive-descent over the tag stream. `closing` is the block being
// parsed ("if", "unless", "each" or "" at top level).
Result<size_t> ParseBlock(std::string_view src, size_t pos,
                          const std::string& closing, std::vector<Node>* out,
                          std::vector<Node>* otherwise) {
  std::vector<Node>* target = out;
  while (pos < src.size()) {
    size_t open = src.find("{{", pos);
    if (open == std::string_view::npos) {
      target->push_back({Node::kText, std::string(src.substr(pos)), {}, {}});
      pos = src.size();
      break;
    }
    if (open > pos)
      target->push_back(
          {Node::kText, std::string(src.substr(pos, open - pos)), {}, {}});
    bool triple = src.substr(open, 3) == "{{{";
    size_t close = src.find(triple ? "}}}" : "}}", open);
    if (close == std::string_view::npos)
      return Bad("unclosed tag at offset " + std::to_string(open));
    std::string tag = TrimCopy(
        src.substr(open + (triple ? 3 : 2), close - open - (triple ? 3 : 2)),
        " \t\r\n");
    pos = close + (triple ? 3 : 2);
    if (triple) {
      if (tag.empty())
        return Bad("empty {{{ }}} at offset " + std::to_string(open));
      target->push_back({Node::kRawVar, tag, {}, {}});
      continue;
    }
    if (tag.empty())
      return Bad("empty {{ }} at offset " + std::to_string(open));
    if (tag[0] == '!') continue;  // comment
    if (tag[0] == '#') {
      size_t sp = tag.find(' ');
      std::string helper =
          tag.substr(1, sp == std::string::npos ? std::string::npos : sp - 1);
      std::string arg = sp == std::string::npos
                            ? ""
                            : TrimCopy(tag.substr(sp + 1), " \t\r\n");
      Node n;
      if (helper == "if") {
        n.kind = Node::kIf;
      } else if (helper == "unless") {
        n.kind = Node::kUnless;
      } else if (helper == "each") {
        n.kind = Node::kEach;
      } else {
        return Bad("unsupported block helper #" + helper + " at offset " +
                   std::to_string(open));
      }
      if (arg.empty())
        return Bad("#" + helper + " needs an argument at offset " +
                   std::to_string(open));
      n.text = arg;
      auto end = ParseBlock(src, pos, helper, &n.body, &n.otherwise);
      if (!end.ok()) return end.error();
      pos = *end;
      target->push_back(std::move(n));
      continue;
    }
    if (tag[0] == '/') {
      std::string name = TrimCopy(tag.substr(1), " \t\r\n");
      if (name != closing) {
        return Bad("unexpected {{/" + name + "}} at offset " +
                   std::to_string(open) +
                   (closing.empty() ? "" : " (open block: #" + closing + ")"));
      }
      return pos;
    }
    if (tag == "else") {
      if (closing.empty() || !otherwise || target == otherwise) {
        return Bad("{{else}} outside a block at offset " +
                   std::to_string(open));
      }
      target = otherwise;
      continue;
    }
    target->push_back({Node::kVar, tag, {}, {}});
  }
  if (!closing.empty()) return Bad("block #" + closing + " is never closed");
  return pos;
}

struct Frame {
  const json::value* value;
  int64_t index;  // -1 outside #each
};

const json::value* Lookup(const std::string& path,
                          const std::vector<Frame>& stack,
                          const json::value& root, json::value* scratch) {
  if (path == "this" || path == ".") return stack.back().value;
  if (path == "@index") {
    if (stack.back().index < 0) return nullptr;
    *scratch = stack.back().index;
    return scratch;
  }
  std::string p = path.rfind("this.", 0) == 0 ? path.substr(5) : path;
  for (int attempt = 0; attempt < 2; ++attempt) {
    const json::value* cur = attempt == 0 ? stack.back().value : &root;
    size_t start = 0;
    bool found = true;
    while (start <= p.size()) {
      size_t dot = p.find('.', start);
      std::string key = p.substr(
          start, dot == std::string::npos ? std::string::npos : dot - start);
      if (!cur->is_object() || !cur->as_object().contains(key)) {
        found = false;
        break;
      }
      cur = &cur->as_object().at(key);
      if (dot == std::string::npos) break;
      start = dot + 1;
    }
    if (found) return cur;
  }
  return nullptr;
}

bool Truthy(const json::value* v) {
  if (!v || v->is_null()) return false;
  if (v->is_bool()) return v->as_bool();
  if (v->is_string()) return !v->as_string().empty();
  if (v->is_int64()) return v->as_int64() != 0;
  if (v->is_uint64()) return v->as_uint64() != 0;
  if (v->is_double()) return v->as_double() != 0;
  if (v->is_array()) return !v->as_array().empty();
  return true;
}

std::string ToText(const json::value& v) {
  if (v.is_string()) return std::string(v.as_string());
  if (v.is_null()) return "";
  if (v.is_bool()) return v.as_bool() ? "true" : "false";
  return json::serialize(v);
}

std::string Escape(const std::string& s) {
  std::string out;
  for (char c : s) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      case '\'':
        out += "&#x27;";
        break;
      case '`':
        out += "&#x60;";
        break;
      case '=':
        out += "&#x3D;";
        break;
      default:
        out += c;
    }
  }
  return out;
}

Status RenderNodes(const std::vector<Node>& nodes, std::vector<Frame>& stack,
                   const json::value& root, bool escape, std::string* out) {
  json::value scratch;
  for (const Node& n : nodes) {
    switch (n.kind) {
      case Node::kText:
        *out += n.text;
        break;
      case Node::kVar:
      case Node::kRawVar: {
        const json::value* v = Lookup(n.text, stack, root, &scratch);
        if (!v)
          return Error::Permanent(
              "RenderingFailure",
              "Attribute '" + n.text +
                  "' is not present in the rendering data.");
        *out +=
            (n.kind == Node::kVar && escape) ? Escape(ToText(*v)) : ToText(*v);
        break;
      }
      case Node::kIf:
      case Node::kUnless: {
        bool t = Truthy(Lookup(n.text, stack, root, &scratch));
        if (n.kind == Node::kUnless) t = !t;
        Status s =
            RenderNodes(t ? n.body : n.otherwise, stack, root, escape, out);
        if (!s.ok()) return s;
        break;
      }
      case Node::kEach: {
        const json::value* v = Lookup(n.text, stack, root, &scratch);
        if (!v)
          return Error::Permanent(
              "RenderingFailure",
              "Attribute '" + n.text +
                  "' is not present in the rendering data.");
        if (!v->is_array() || v->as_array().empty()) {
          Status s = RenderNodes(n.otherwise, stack, root, escape, out);
          if (!s.ok()) return s;
          break;
        }
        int64_t i = 0;
        for (const auto& item : v->as_array()) {
          stack.push_back({&item, i++});
          Status s = RenderNodes(n.body, stack, root, escape, out);
          stack.pop_back();
          if (!s.ok()) return s;
        }
        break;
      }
    }
  }
  return Ok{};
}

}  // namespace

Result<Template> Template::Parse(std::string_view source) {
  auto nodes = std::make_shared<std::vector<Node>>();
  auto end = ParseBlock(source, 0, "", nodes.get(), nullptr);
  if (!end.ok()) return end.error();
  Template t;
  t.nodes_ = std::move(nodes);
  return t;
}

Result<std::string> Template::Render(const boost::json::value& data,
                                     bool html_escape) const {
  std::string out;
  std::vector<Frame> stack{{&data, -1}};
  Status s = RenderNodes(*nodes_, stack, data, html_escape, &out);
  if (!s.ok()) return s.error();
  return out;
}

}  // namespace sesame::mime
