#include "events/event_json.h"

#include <cctype>

#include "base/json.h"
#include "mime/mime.h"
#include "smtp/address.h"

namespace sesame::events {

namespace {

using Type = delivery::MessageEvent::Type;

std::string Q(std::string_view s) {
  std::string out;
  out.reserve(s.size() + 2);
  out += '"';
  AppendJsonEscaped(out, s);
  out += '"';
  return out;
}

std::string List(const std::vector<std::string>& items) {
  std::string out = "[";
  for (size_t i = 0; i < items.size(); ++i) out += (i ? "," : "") + Q(items[i]);
  return out + "]";
}

std::string Lower(std::string s) {
  for (char& c : s)
    c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

std::string DomainOf(const std::string& address) {
  size_t at = address.rfind('@');
  return at == std::string::npos ? "" : Lower(address.substr(at + 1));
}

// Headers as SES lists them (in order, unfolded) and the common ones.
struct ParsedHeaders {
  std::vector<std::pair<std::string, std::string>> all;
  bool truncated = false;
};

ParsedHeaders SplitHeaders(const std::string& block) {
  ParsedHeaders out;
  // SES truncates the header list at 10 KB.
  constexpr size_t kMax = 10 * 1024;
  size_t total = 0;
  auto parsed = mime::Parse(block + "\r\n\r\n");
  if (!parsed.ok()) return out;
  for (const auto& [name, value] : parsed->headers) {
    total += name.size() + value.size() + 4;
    if (total > kMax) {
      out.truncated = true;
      break;
    }
    out.all.emplace_back(name, value);
  }
  return out;
}

bool SameName(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(a[i])) !=
        std::tolower(static_cast<unsigned char>(b[i])))
      return false;
  }
  return true;
}

std::string Header(const ParsedHeaders& h, std::string_view name) {
  for (const auto& [k, v] : h.all) {
    if (SameName(k, name)) return v;
  }
  return "";
}

std::string MailObject(const delivery::MessageEvent& e, const MailHeaders& mh,
                       const Identity& who, bool tags_too, bool headers_too) {
  const spool::MessageMeta& m = e.meta;
  std::vector<std::string> destination;
  for (const auto& r : m.recipients) destination.push_back(r.address);
  std::string source = m.mail_from;
  ParsedHeaders headers = SplitHeaders(mh.header_block);
  std::string from_header = Header(headers, "From");
  std::string from_address = mime::AddrSpec(from_header);
  std::string identity_domain =
      DomainOf(from_address.empty() ? source : from_address);
  std::string out = "{\"timestamp\":" +
                    Q(IsoTime(m.created_ms ? m.created_ms : e.timestamp_ms)) +
                    ",\"source\":" + Q(source) + ",\"sourceArn\":" +
                    Q("arn:aws:ses:" + who.region + ":" + who.account +
                      ":identity/" + identity_domain) +
                    ",\"sendingAccountId\":" + Q(who.account) +
                    ",\"messageId\":" + Q(m.id) +
                    ",\"destination\":" + List(destination);
  if (!m.source.empty()) out += ",\"sourceIp\":" + Q(m.client_ip);
  if (!m.auth_user.empty()) out += ",\"callerIdentity\":" + Q(m.auth_user);
  if (!mh.header_block.empty() && headers_too) {
    out += ",\"headersTruncated\":" +
           std::string(headers.truncated ? "true" : "false") + ",\"headers\":[";
    for (size_t i = 0; i < headers.all.size(); ++i) {
      out += std::string(i ? "," : "") +
             "{\"name\":" + Q(headers.all[i].first) +
             ",\"value\":" + Q(headers.all[i].second) + "}";
    }
    out += "],\"commonHeaders\":{";
    std::string common;
    auto add_list = [&](const char* key, const char* header) {
      std::string v = Header(headers, header);
      if (v.empty()) return;
      std::vector<std::string> items = mime::AddressList(v);
      common += std::string(common.empty() ? "" : ",") + "\"" + key +
                "\":" + List(items);
    };
    auto add_one = [&](const char* key, const char* header) {
      std::string v = Header(headers, header);
      if (v.empty()) return;
      if (std::string(key) == "subject") v = mime::DecodeWords(v);
      common +=
          std::string(common.empty() ? "" : ",") + "\"" + key + "\":" + Q(v);
    };
    add_list("from", "From");
    add_list("replyTo", "Reply-To");
    add_list("to", "To");
    add_list("cc", "Cc");
    add_one("date", "Date");
    add_one("messageId", "Message-ID");
    add_one("subject", "Subject");
    out += common + "}";
  }
  if (!tags_too) return out + "}";
  // Tags: the message's own (X-SES-MESSAGE-TAGS) and SES's automatic ones.
  std::map<std::string, std::vector<std::string>> tags;
  for (const auto& [k, v] :
       ParseMessageTags(Header(headers, "X-SES-MESSAGE-TAGS")))
    tags[k].push_back(v);
  tags["ses:operation"] = {m.source == "api" ? "SendEmail" : "SendSmtpEmail"};
  if (!m.config_set.empty()) tags["ses:configuration-set"] = {m.config_set};
  if (!m.client_ip.empty()) tags["ses:source-ip"] = {m.client_ip};
  if (!identity_domain.empty()) tags["ses:from-domain"] = {identity_domain};
  if (!m.auth_user.empty()) tags["ses:caller-identity"] = {m.auth_user};
  out += ",\"tags\":{";
  bool first = true;
  for (const auto& [k, v] : tags) {
    out += std::string(first ? "" : ",") + Q(k) + ":" + List(v);
    first = false;
  }
  return out + "}}";
}

}  // namespace

std::string RecordJson(const delivery::MessageEvent& e,
                       const MailHeaders& headers, const Identity& who,
                       const std::string& feedback_id, bool notification,
                       bool include_headers);

const char* EventTypeName(Type t) {
  switch (t) {
    case Type::kSend:
      return "Send";
    case Type::kDelivery:
      return "Delivery";
    case Type::kBounce:
      return "Bounce";
    case Type::kDeliveryDelay:
      return "DeliveryDelay";
    case Type::kComplaint:
      return "Complaint";
    case Type::kRenderingFailure:
      return "Rendering Failure";
  }
  return "Send";
}

const char* MatchingTypeName(Type t) {
  switch (t) {
    case Type::kSend:
      return "SEND";
    case Type::kDelivery:
      return "DELIVERY";
    case Type::kBounce:
      return "BOUNCE";
    case Type::kDeliveryDelay:
      return "DELIVERY_DELAY";
    case Type::kComplaint:
      return "COMPLAINT";
    case Type::kRenderingFailure:
      return "RENDERING_FAILURE";
  }
  return "SEND";
}

std::map<std::string, std::string> ParseMessageTags(const std::string& value) {
  std::map<std::string, std::string> out;
  for (auto& [k, v] : smtp::MessageTagPairs(value)) out[k] = std::move(v);
  return out;
}

std::string SesEventJson(const delivery::MessageEvent& e,
                         const MailHeaders& headers, const Identity& who,
                         const std::string& feedback_id) {
  return RecordJson(e, headers, who, feedback_id, false, true);
}

std::string SesNotificationJson(const delivery::MessageEvent& e,
                                const MailHeaders& headers, const Identity& who,
                                const std::string& feedback_id,
                                bool include_headers) {
  return RecordJson(e, headers, who, feedback_id, true, include_headers);
}

std::string RecordJson(const delivery::MessageEvent& e,
                       const MailHeaders& headers, const Identity& who,
                       const std::string& feedback_id, bool notification,
                       bool include_headers) {
  std::string ts = Q(IsoTime(e.timestamp_ms));
  std::string out = std::string("{\"") +
                    (notification ? "notificationType" : "eventType") +
                    "\":" + Q(EventTypeName(e.type)) + ",\"mail\":" +
                    MailObject(e, headers, who, !notification, include_headers);
  std::string reporting =
      e.reporting_mta.empty()
          ? ""
          : ",\"reportingMTA\":" + Q("dsn; " + e.reporting_mta);
  switch (e.type) {
    case Type::kSend:
      out += ",\"send\":{}";
      break;
    case Type::kDelivery: {
      std::vector<std::string> rcpts;
      for (const auto& r : e.recipients) rcpts.push_back(r.address);
      out +=
          ",\"delivery\":{\"timestamp\":" + ts +
          ",\"processingTimeMillis\":" + std::to_string(e.processing_ms) +
          ",\"recipients\":" + List(rcpts) +
          ",\"smtpResponse\":" + Q(e.smtp_response) +
          ",\"reportingMTA\":" + Q(e.reporting_mta) +
          (e.remote_mta_ip.empty() ? ""
                                   : ",\"remoteMtaIp\":" + Q(e.remote_mta_ip)) +
          "}";
      break;
    }
    case Type::kBounce: {
      out += ",\"bounce\":{\"bounceType\":" + Q(e.classification.bounce_type) +
             ",\"bounceSubType\":" + Q(e.classification.bounce_subtype) +
             ",\"bouncedRecipients\":[";
      for (size_t i = 0; i < e.recipients.size(); ++i) {
        const auto& r = e.recipients[i];
        out +=
            std::string(i ? "," : "") + "{\"emailAddress\":" + Q(r.address) +
            (r.action.empty() ? "" : ",\"action\":" + Q(r.action)) +
            (r.status.empty() ? "" : ",\"status\":" + Q(r.status)) +
            (r.diagnostic.empty() ? ""
                                  : ",\"diagnosticCode\":" + Q(r.diagnostic)) +
            "}";
      }
      out +=
          "],\"timestamp\":" + ts + ",\"feedbackId\":" + Q(feedback_id) +
          reporting +
          (e.remote_mta_ip.empty() ? ""
                                   : ",\"remoteMtaIp\":" + Q(e.remote_mta_ip)) +
          // Sesame's finer reason, beside SES's fields (consumers
          // tolerate unknown fields).
          ",\"reason\":" + Q(e.classification.reason) + "}";
      break;
    }
    case Type::kComplaint: {
      out += ",\"complaint\":{\"complainedRecipients\":[";
      for (size_t i = 0; i < e.recipients.size(); ++i)
        out += std::string(i ? "," : "") +
               "{\"emailAddress\":" + Q(e.recipients[i].address) + "}";
      out += "],\"timestamp\":" + ts + ",\"feedbackId\":" + Q(feedback_id) +
             ",\"complaintSubType\":null";
      if (!e.user_agent.empty()) out += ",\"userAgent\":" + Q(e.user_agent);
      if (!e.feedback_type.empty())
        out += ",\"complaintFeedbackType\":" + Q(e.feedback_type);
      if (!e.arrival_date.empty())
        out += ",\"arrivalDate\":" + Q(e.arrival_date);
      out += "}";
      break;
    }
    case Type::kRenderingFailure:
      out += ",\"failure\":{\"templateName\":" + Q(e.template_name) +
             ",\"errorMessage\":" + Q(e.error_message) + "}";
      break;
    case Type::kDeliveryDelay: {
      out += ",\"deliveryDelay\":{\"timestamp\":" + ts +
             ",\"delayType\":" + Q(e.delay_type) + ",\"expirationTime\":" +
             Q(IsoTime(e.expiration_ms ? e.expiration_ms : e.timestamp_ms)) +
             reporting + ",\"delayedRecipients\":[";
      for (size_t i = 0; i < e.recipients.size(); ++i) {
        const auto& r = e.recipients[i];
        out += std::string(i ? "," : "") + "{\"emailAddress\":" + Q(r.address) +
               ",\"status\":" + Q(r.status) +
               ",\"diagnosticCode\":" + Q(r.diagnostic) + "}";
      }
      out += "]}";
      break;
    }
  }
  return out + "}";
}

}  // namespace sesame::events
