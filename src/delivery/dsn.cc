#include "delivery/dsn.h"

#include <cctype>

#include "base/ids.h"

namespace sesame::delivery {

std::string EnhancedStatus(const std::string& reply, bool permanent) {
  // "550 5.1.1 text": the token after the code, shaped d.d{1,3}.d{1,3}.
  size_t sp = reply.find(' ');
  if (sp != std::string::npos) {
    size_t end = reply.find(' ', sp + 1);
    std::string tok = reply.substr(
        sp + 1, end == std::string::npos ? std::string::npos : end - sp - 1);
    int dots = 0;
    bool ok = tok.size() >= 5 &&
              (tok[0] == '2' || tok[0] == '4' || tok[0] == '5') &&
              tok[1] == '.';
    for (char c : tok) {
      if (c == '.') {
        ++dots;
      } else if (!std::isdigit(static_cast<unsigned char>(c))) {
        ok = false;
      }
    }
    if (ok && dots == 2 && tok.back() != '.') return tok;
  }
  return permanent ? "5.0.0" : "4.0.0";
}

std::string BuildDsn(const std::string& reporting_mta,
                     const std::string& original_sender,
                     const std::string& original_id, int64_t arrival_ms,
                     const std::vector<FailedRecipient>& failed,
                     const std::string& original_message, int64_t now_ms,
                     const std::string& boundary_seed, const DsnText& text) {
  std::string boundary = "=_sesame_dsn_" + boundary_seed;
  std::string list;
  for (const auto& f : failed)
    list += "  <" + f.address + ">: " + f.diagnostic + "\r\n";
  // Only the original headers are returned (RET=HDRS behaviour): no body.
  size_t hdr_end = original_message.find("\r\n\r\n");
  std::string headers = hdr_end == std::string::npos
                            ? original_message
                            : original_message.substr(0, hdr_end + 2);

  std::string m;
  m += "From: " +
       (text.from.empty()
            ? "Mail Delivery System <MAILER-DAEMON@" + reporting_mta + ">"
            : text.from) +
       "\r\n";
  m += "To: <" + original_sender + ">\r\n";
  m += "Subject: Undelivered Mail Returned to Sender\r\n";
  m += "Date: " + Rfc5322Date(now_ms) + "\r\n";
  m += "Message-ID: <" + boundary_seed + "@" + reporting_mta + ">\r\n";
  m += "Auto-Submitted: auto-replied\r\n";
  m += "MIME-Version: 1.0\r\n";
  m += "Content-Type: multipart/report; "
       "report-type=delivery-status;\r\n\tboundary=\"" +
       boundary + "\"\r\n\r\n";
  m += "This is a MIME-encapsulated message.\r\n\r\n";
  m += "--" + boundary +
       "\r\nContent-Type: text/plain; charset=us-ascii\r\n\r\n";
  m += "Your message could not be delivered to one or more recipients.\r\n";
  m += "It was accepted by " + reporting_mta + " as " + original_id +
       ".\r\n\r\n" + list + "\r\n";
  if (!text.explanation.empty()) m += text.explanation + "\r\n\r\n";
  m += "--" + boundary + "\r\nContent-Type: message/delivery-status\r\n\r\n";
  m += "Reporting-MTA: dns; " + reporting_mta + "\r\n";
  m += "X-Sesame-Message-Id: " + original_id + "\r\n";
  m += "Arrival-Date: " + Rfc5322Date(arrival_ms) + "\r\n";
  for (const auto& f : failed) {
    m += "\r\nFinal-Recipient: rfc822; " + f.address + "\r\n";
    m += std::string("Action: ") +
         (!f.status.empty() && f.status[0] == '4' ? "delayed" : "failed") +
         "\r\n";
    m += "Status: " + f.status + "\r\n";
    if (!f.remote_mta.empty()) m += "Remote-MTA: " + f.remote_mta + "\r\n";
    m += "Diagnostic-Code: " + f.diagnostic + "\r\n";
    m += "Last-Attempt-Date: " + Rfc5322Date(f.last_attempt_ms) + "\r\n";
  }
  m += "\r\n--" + boundary + "\r\nContent-Type: text/rfc822-headers\r\n\r\n";
  m += headers;
  m += "\r\n--" + boundary + "--\r\n";
  return m;
}

}  // namespace sesame::delivery
