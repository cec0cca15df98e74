#pragma once

#include <boost/json/value.hpp>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.h"

namespace sesame::mime {

// The Handlebars subset SES templates support: {{var}}, {{a.b}},
// {{{raw}}}, {{#if}}/{{else}}/{{/if}}, {{#unless}}, {{#each}} with {{this}}
// and {{@index}}. Parsed once, rendered many times (bulk sends). Immutable
// after Parse(); thread-compatible.
class Template {
 public:
  // Errors are permanent and name the problem and its offset.
  static Result<Template> Parse(std::string_view source);

  // Renders with `data`. `html_escape` escapes {{ }} output (the Html part);
  // {{{ }}} is always raw. A referenced value missing from the data is a
  // rendering failure, as in SES.
  Result<std::string> Render(const boost::json::value& data,
                             bool html_escape) const;

  struct Node;

 private:
  std::shared_ptr<const std::vector<Node>> nodes_;
};

}  // namespace sesame::mime
