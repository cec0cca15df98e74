// SES v2 email templates (rendering is v2_send.cc's, with the sends).

#include "api/v2_resource_routes.h"

namespace sesame::api {
namespace json = boost::json;
using ses::JsonString;

namespace {

// EmailTemplateContent -> ses::Template; false when it is not an object.
bool ReadContent(const json::object& o, ses::Template* t) {
  auto* c = o.if_contains("TemplateContent");
  if (!c || !c->is_object()) return false;
  t->subject = JsonString(c->as_object(), "Subject");
  t->text = JsonString(c->as_object(), "Text");
  t->html = JsonString(c->as_object(), "Html");
  return true;
}

// CreateEmailTemplate.
HttpResponse CreateTemplate(ResourceCall& c, json::object& o) {
  ses::Template t;
  t.name = JsonString(o, "TemplateName");
  if (t.name.empty() || !ReadContent(o, &t))
    return Fail(BadRequest("TemplateName and TemplateContent are required"));
  return Done(c.resources.templates().Create(t));
}

// ListEmailTemplates.
HttpResponse ListTemplates(ResourceCall& c, const PageRequest& p) {
  return ListReply(c.resources.templates().List(p.after, p.size),
                   "TemplatesMetadata", [](const ses::Template& t) {
                     return json::object{{"TemplateName", t.name},
                                         {"CreatedTimestamp", t.created}};
                   });
}

// GetEmailTemplate.
HttpResponse GetTemplate(ResourceCall& c) {
  auto t = c.resources.templates().Get(c.params[0]);
  if (!t.ok()) return Fail(t.error());
  return Reply(
      {{"TemplateName", t->name},
       {"TemplateContent",
        {{"Subject", t->subject}, {"Text", t->text}, {"Html", t->html}}}});
}

// UpdateEmailTemplate.
HttpResponse UpdateTemplate(ResourceCall& c, json::object& o) {
  ses::Template t;
  t.name = c.params[0];
  if (!ReadContent(o, &t))
    return Fail(BadRequest("TemplateContent is required"));
  return Done(c.resources.templates().Update(t));
}

// DeleteEmailTemplate.
HttpResponse DeleteTemplate(ResourceCall& c) {
  return Done(c.resources.templates().Delete(c.params[0]));
}

}  // namespace

void AddTemplateRoutes(ResourceRouter& r) {
  r.Rest("POST", "/v2/email/templates", true, WithBody<CreateTemplate>);
  // SES lists templates 10 at a time at most.
  r.Rest("GET", "/v2/email/templates", true, WithPage<ListTemplates, 10, 10>);
  r.Rest("GET", "/v2/email/templates/{name}", true, GetTemplate);
  r.Rest("PUT", "/v2/email/templates/{name}", true, WithBody<UpdateTemplate>);
  r.Rest("DELETE", "/v2/email/templates/{name}", true, DeleteTemplate);
}

}  // namespace sesame::api
