#include "mime/template.h"

#include <gtest/gtest.h>

#include <boost/json.hpp>

namespace sesame::mime {
namespace {

std::string R(const std::string& tpl, const std::string& data,
              bool escape = false) {
  auto t = Template::Parse(tpl);
  if (!t.ok()) return "PARSE: " + t.error().message();
  auto r = t->Render(boost::json::parse(data), escape);
  if (!r.ok()) return "RENDER: " + r.error().message();
  return *r;
}

TEST(Template, Table) {
  struct Case {
    const char* tpl;
    const char* data;
    bool escape;
    const char* want;
  } cases[] = {
      {"Hello {{name}}!", R"({"name":"Ann"})", false, "Hello Ann!"},
      {"{{a.b.c}}", R"({"a":{"b":{"c":42}}})", false, "42"},
      {"{{x}}", R"({"x":"<b>&</b>"})", true, "&lt;b&gt;&amp;&lt;/b&gt;"},
      {"{{{x}}}", R"({"x":"<b>"})", true, "<b>"},
      {"{{x}}", R"({"x":"<b>"})", false, "<b>"},
      {"{{#if vip}}VIP{{else}}regular{{/if}}", R"({"vip":true})", false, "VIP"},
      {"{{#if vip}}VIP{{else}}regular{{/if}}", R"({"vip":false})", false,
       "regular"},
      {"{{#if missing}}yes{{else}}no{{/if}}", R"({})", false, "no"},
      {"{{#unless done}}todo{{/unless}}", R"({"done":false})", false, "todo"},
      {"{{#each items}}{{@index}}:{{this}} {{/each}}", R"({"items":["a","b"]})",
       false, "0:a 1:b "},
      {"{{#each people}}{{name}}({{age}}) {{/each}}",
       R"({"people":[{"name":"A","age":1},{"name":"B","age":2}]})", false,
       "A(1) B(2) "},
      {"{{#each empty}}x{{else}}none{{/each}}", R"({"empty":[]})", false,
       "none"},
      {"{{#each items}}{{greeting}} {{this}};{{/each}}",
       R"({"greeting":"hi","items":["a"]})", false, "hi a;"},
      {"{{! a comment }}ok", R"({})", false, "ok"},
      {"{{missing}}", R"({})", false,
       "RENDER: Attribute 'missing' is not present in the rendering data."},
      {"{{#if x}}unclosed", R"({})", false, "PARSE: block #if is never closed"},
      {"{{/if}}", R"({})", false, "PARSE: unexpected {{/if}} at offset 0"},
      {"{{#with x}}{{/with}}", R"({})", false,
       "PARSE: unsupported block helper #with at offset 0"},
      {"{{name", R"({})", false, "PARSE: unclosed tag at offset 0"},
  };
  for (const auto& c : cases)
    EXPECT_EQ(R(c.tpl, c.data, c.escape), c.want) << c.tpl;
}

}  // namespace
}  // namespace sesame::mime
